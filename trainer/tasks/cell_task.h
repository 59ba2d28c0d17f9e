#pragma once
// Masked-expression pretraining on single cells (issue 6, points 5-6): the bidirectional encoder
// (model.arch: encoder) over data/singlecell's SingleCellDataset. docs/singlecell.md §Training.
//
// Objective, by singlecell.tokenization:
//   * scgpt (model.value_input: true): each cell is [<cls>, gene tokens...] with per-cell expression bins
//     1..n_bins-1. The model sees every gene token; the value input is bin / (n_bins - 1) in [0, 1], and at the
//     masked positions it is replaced by -1 (kMaskedValue: "hidden"). The masked genes' bins are predicted as a
//     classification over the n_bins bins; the loss (cross-entropy) counts masked positions only. The bin
//     classifier is n_bins extra rows of the model's output head: vocab_size = gene vocabulary (specials included)
//     + n_bins, and the loss multiplies the final hidden states with rows [vocab.size(), vocab.size() + n_bins)
//     only, so the optimizer and the checkpoints see it as part of the model and no logits over the genes are made.
//   * geneformer (model.value_input: false): rank-value encoded cells; masked gene tokens are replaced by <mask>
//     and predicted over the gene vocabulary (cross-entropy over vocab.size() classes at masked positions only).
// The masked positions (never <cls>, never padding) are data/singlecell's: max(1, round(mask_fraction · genes))
// per cell, drawn from (seed, epoch, cell).
//
// Stream: the training cells (SingleCellDataset::split().train) are bucketed by length each epoch
// (plan_length_buckets with the bucket_boundaries and batch size = train.micro_batch_size, from the run seed and
// the epoch). Each plan batch is one micro-batch and fills micro_batch_size "sequence slots" of the trainer's
// global step (a bucket's last batch may hold fewer cells). The position is the number of slots consumed,
// (epoch, batch) = divmod(position / micro_batch_size, batches per epoch), so resume and data parallelism (rank r
// takes the r-th contiguous slice of a step's micro-batches) see the same batches as one straight run.
// Sequences per step = train.global_batch_tokens / max_len (the trainer's data.seq_len is set to max_len), so the
// trainer's tokens_per_s counts padded slots at max_len; the eval record carries train_token_fraction, the share
// of those slots that are real tokens in this epoch's plan (real tokens/s = tokens_per_s × train_token_fraction).
//
// Validation: the held-out cells (capped to eval.tokens real tokens, a fixed seeded subset), ordered by length,
// masked with a constant seed so every evaluation and every run scores the same positions. evaluate_extra pools
// the unmasked held-out cells (CLS or mean) into cell embeddings and scores them by label_column: ASW (cosine),
// cohesion, kNN accuracy (data/singlecell/embedding_metrics.h), plus the padding fractions, and, as a baseline,
// the same metrics of the cells' input vectors (input_asw, ...: per gene of the vocabulary the token's value).
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/singlecell/singlecell_dataset.h"
#include "models/model_config.h"
#include "trainer/tasks/task.h"
#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

// run.task: singlecell (claimed by a `singlecell` section). The data keys are data/singlecell/singlecell_config.h's;
// `pooling` is the task's (docs/singlecell.md §Training). No `data` section: the cells come from singlecell.path.
struct SingleCellRunConfig {
  singlecell::SingleCellDataConfig data;
  std::string pooling = "mean";  // cell embedding for the metrics: cls | mean (over the valid tokens)
};

struct CellTaskConfig final : TaskConfig {
  SingleCellRunConfig singlecell;
  // The padded length bound is the loop's sequence length: sequences per step = global_batch_tokens / max_len.
  int64_t seq_len() const override { return singlecell.data.max_len; }
  const char* seq_len_key() const override { return "singlecell.max_len"; }
};

class CellTask final : public Task {
 public:
  static constexpr float kMaskedValue = -1.0f;  // scGPT: value input at masked positions

  // ConfigError when the model does not fit the tokenisation (checked when the config is parsed, before any file).
  static void check_model(const SingleCellRunConfig& cfg, const models::ModelConfig& model);

  // Prepares the dataset (two streaming passes). ConfigError when the model does not fit the tokenisation.
  // micro_batch: train.micro_batch_size (cells per plan batch); val_tokens: eval.tokens; eval_batch: eval.batch_size.
  CellTask(const SingleCellRunConfig& cfg, const models::ModelConfig& model, uint64_t seed, int64_t micro_batch,
           int64_t val_tokens, int64_t eval_batch);

  int64_t vocab_size() const override;
  std::string describe() const override;
  Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                    const torch::Device& device) override;
  void advance(int64_t seqs) override { position_ += seqs; }
  int64_t val_size() const override { return static_cast<int64_t>(val_cells_.size()); }
  Batch val_batch(int64_t first, int64_t count, const torch::Device& device) override;
  std::pair<torch::Tensor, torch::Tensor> loss_sum(models::Model& model, const Batch& batch) override;
  nlohmann::json evaluate_extra(models::Model& model, const torch::Device& device) override;
  void write_run_files(const std::string& run_dir) override;  // gene_vocab.json + singlecell.json
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

  // For tests and tools.
  const singlecell::SingleCellDataset& dataset() const { return *ds_; }
  bool scgpt() const { return scgpt_; }
  const std::vector<int64_t>& train_cells() const { return train_cells_; }
  const std::vector<int64_t>& val_cells() const { return val_cells_; }
  // Token sequences of the given cells, in order: from memory when the dataset was small enough to tokenise once
  // (kCacheTokens), else read and tokenised on demand (an atlas never sits in memory).
  std::vector<singlecell::TokenizedCell> tokens_of(const std::vector<int64_t>& cells) const;
  static constexpr int64_t kCacheTokens = int64_t{1} << 26;  // 64 M tokens, about 0.6 GB
  bool tokens_cached() const { return !cache_.empty(); }
  // A padded batch as model inputs and targets (masking presented as described above).
  Batch to_batch(const singlecell::PaddedBatch& pb, const torch::Device& device) const;
  // Pooled embeddings [cells, d_model] (float32, CPU) of the given cells, unmasked, in eval_batch-sized forwards.
  torch::Tensor cell_embeddings(models::Model& model, const std::vector<int64_t>& cells, const torch::Device& device);
  // An epoch's training plan (micro_batch cells per batch; the number of batches is the same every epoch).
  const singlecell::BatchPlan& epoch_plan(int64_t epoch);

 private:
  SingleCellRunConfig cfg_;
  std::unique_ptr<singlecell::SingleCellDataset> ds_;
  std::vector<singlecell::TokenizedCell> cache_;  // every cell's tokens (small datasets), indexed by row
  bool scgpt_ = true;
  int64_t n_bins_ = 0;
  int64_t eval_batch_ = 8;
  uint64_t order_seed_ = 0;  // bucket order and training masks: from the run seed
  std::vector<int64_t> train_cells_, val_cells_;
  int64_t val_tokens_ = 0;
  int64_t val_all_ = 0;  // held-out cells before the eval.tokens cap
  std::string vocab_digest_;
  int64_t micro_batch_ = 0;  // cells per micro-batch (the trainer's; fixed for a run)
  int64_t position_ = 0;     // sequence slots consumed
  int64_t plan_epoch_ = -1;
  singlecell::BatchPlan plan_;
  nlohmann::json input_scores_ = nlohmann::json::object();  // metrics of the held-out cells' input vectors, once
};

}  // namespace sigtrain::trainer
