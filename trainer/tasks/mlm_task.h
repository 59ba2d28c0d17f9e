#pragma once
// Masked-token prediction on text for the bidirectional encoder (model.arch: encoder), BERT-style.
//
// Windows come from the same deterministic text stream as LmTask (data::LmSampler: global sample index k →
// window), so resume and data parallelism behave identically. Per sample k, a CPU generator seeded from
// (train.seed, k) decides everything random about that sample: its length (length_jitter: the last
// floor(u·jitter·T) positions become key padding, passed as ModelInputs.lengths, labels −100) and the masking
// (models::mask_tokens: mask_fraction of the valid tokens selected; 80 % → [MASK], 10 % → a random token, 10 %
// unchanged; labels = the original token at selected positions, −100 elsewhere). Nothing depends on the
// micro-batch split, the rank or the step, so a resumed run sees bit-identical batches.
//
// The [MASK] id is one past the tokenizer's ids (vocab_size() = tokenizer ids + 1); the end-of-text id doubles
// as padding and, like [MASK], is never selected. The validation set is the fixed LmValidationSet windows masked
// with a constant seed (independent of train.seed), so every run scores the same masked positions.
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "data/lm_corpus.h"
#include "trainer/tasks/mlm_config.h"
#include "trainer/tasks/task.h"
#include "trainer/tasks/task_registry.h"
#include "trainer/tasks/text_windows.h"

namespace sigtrain::trainer {

// run.task: mlm -- sections `data` (data/lm_corpus.h) and `mlm` (trainer/tasks/mlm_config.h).
struct MlmTaskConfig final : TaskConfig {
  data::DataConfig data;
  MlmConfig mlm;
  int64_t seq_len() const override { return data.seq_len; }
  const char* seq_len_key() const override { return "data.seq_len"; }
};

class MlmTask final : public Task {
 public:
  MlmTask(const data::DataConfig& data, const MlmConfig& mlm, uint64_t seed, int64_t val_tokens);

  int64_t vocab_size() const override { return mask_id_ + 1; }
  int64_t mask_id() const { return mask_id_; }
  std::string describe() const override;
  Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                    const torch::Device& device) override;
  void advance(int64_t seqs) override { text_.advance(seqs); }
  int64_t val_size() const override { return text_.val_windows(); }
  Batch val_batch(int64_t first, int64_t count, const torch::Device& device) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

  // Masks one [count, T] block of windows; row r uses the generator seeded from (seed, first_index + r).
  Batch make_batch(const torch::Tensor& windows, uint64_t seed, int64_t first_index, double jitter,
                   const torch::Device& device) const;

 private:
  TextWindows text_;
  MlmConfig cfg_;
  uint64_t seed_;
  int64_t mask_id_ = 0;
};

}  // namespace sigtrain::trainer
