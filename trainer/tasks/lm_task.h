#pragma once
// Next-token prediction on text: the prepared corpus, the deterministic training stream and the fixed validation
// windows, handed out as int64 token tensors on the training device.
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "data/lm_corpus.h"
#include "trainer/tasks/task.h"
#include "trainer/tasks/task_registry.h"
#include "trainer/tasks/text_windows.h"

namespace sigtrain::trainer {

// run.task: lm -- section `data` (data/lm_corpus.h).
struct LmTaskConfig final : TaskConfig {
  data::DataConfig data;
  int64_t seq_len() const override { return data.seq_len; }
  const char* seq_len_key() const override { return "data.seq_len"; }
};

class LmTask final : public Task {
 public:
  LmTask(const data::DataConfig& cfg, uint64_t seed, int64_t val_tokens);

  int64_t vocab_size() const override;
  std::string describe() const override;
  Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                    const torch::Device& device) override;
  void advance(int64_t seqs) override { text_.advance(seqs); }
  int64_t val_size() const override { return text_.val_windows(); }
  Batch val_batch(int64_t first, int64_t count, const torch::Device& device) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

 private:
  static Batch to_device(const TextWindows::Block& block, const torch::Device& device);
  TextWindows text_;
};

}  // namespace sigtrain::trainer
