#pragma once
// Language-modelling data for the trainer: the prepared corpus, the deterministic training stream and the fixed
// validation windows, handed out as int64 token tensors on the training device.
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "data/lm_corpus.h"
#include "data/lm_sampler.h"

namespace sigtrain::trainer {

class LmTask {
 public:
  LmTask(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens);

  int64_t vocab_size() const;
  std::string describe() const;

  // Micro-batch `micro` (of `micro_batch` sequences) of this rank's slice of the current global step, which starts
  // at the stream position (restored on resume; advance() moves it once per optimizer step).
  std::pair<torch::Tensor, torch::Tensor> train_batch(int64_t seqs_per_step, int rank, int world,
                                                      int64_t micro, int64_t micro_batch,
                                                      const torch::Device& device) const;
  void advance(int64_t seqs) { sampler_->advance(seqs); }

  int64_t val_windows() const { return val_->num_windows(); }
  std::pair<torch::Tensor, torch::Tensor> val_batch(int64_t first, int64_t count, const torch::Device& device) const;

  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  std::pair<torch::Tensor, torch::Tensor> to_device(torch::Tensor inputs, torch::Tensor targets,
                                                    const torch::Device& device) const;
  data::LmData data_;
  std::unique_ptr<data::LmSampler> sampler_;
  std::unique_ptr<data::LmValidationSet> val_;
};

}  // namespace sigtrain::trainer
