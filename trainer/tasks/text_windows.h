#pragma once
// The text side shared by the tasks that train on a tokenised corpus (LmTask, MlmTask): the prepared corpus, the
// deterministic training stream (data::LmSampler), the fixed validation windows, and their checkpoint state
// (stream position + the tokenizer's identity, checked on restore).
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "data/lm_corpus.h"
#include "data/lm_sampler.h"
#include "models/model_config.h"

namespace sigtrain::trainer {

// The text tasks' check of their windows against the model: model.max_seq_len must hold data.seq_len.
void check_text_fits_model(const data::DataConfig& data, const models::ModelConfig& model);
// Every data.corpus entry names an existing file (data::resolve_corpus), as a config::ConfigError.
void check_corpus_exists(const data::DataConfig& data);

class TextWindows {
 public:
  TextWindows(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens);

  // int32 CPU tensors [count, T]: the windows and their next-token targets; `first` is the global index of row 0.
  struct Block {
    torch::Tensor inputs, targets;
    int64_t first = 0;
  };
  // Micro-batch `micro` of this rank's slice of the current step (LmSampler::micro_batch_start).
  Block train(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch) const;
  Block val(int64_t first, int64_t count) const;

  void advance(int64_t seqs) { sampler_->advance(seqs); }
  int64_t val_windows() const { return val_->num_windows(); }
  const data::LmData& data() const { return data_; }
  // "<train> train / <val> validation tokens, <n> train windows of <T>, <m> validation windows"
  std::string describe() const;

  // {"sampler": ..., "tokenizer": identity}; restore() refuses a checkpoint written with another tokenizer.
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  data::LmData data_;
  std::unique_ptr<data::LmSampler> sampler_;
  std::unique_ptr<data::LmValidationSet> val_;
};

}  // namespace sigtrain::trainer
