#pragma once
// A training task: where batches come from, which model trains on them and what the loss is. The loop
// (trainer/loop/training_run.cpp) is task-agnostic:
//   batch = task.train_batch(...);  [loss_sum, count] = task.loss_sum(model, batch);  (loss_sum / count).backward()
// Tasks are registered by name with their config sections (trainer/tasks/task_registry.h): LmTask (next-token
// prediction on text, the default for decoders), MlmTask (masked tokens for the encoder), CellTask (masked
// expression on single cells).
#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "models/fused_ops.h"
#include "models/model.h"

namespace sigtrain::trainer {

// Targets use -100 for positions that carry no loss (padding, unmasked tokens).
inline constexpr int64_t kIgnoreTarget = -100;

struct Batch {
  models::ModelInputs inputs;
  torch::Tensor targets;  // int64 class ids ([B, T] per token, [B] per image), or float (soft targets, regression)
  // Per-sequence counts the loss reads on the host, so that computing it costs no device sync: int64 [k, B] on the
  // CPU, e.g. CTC's positions and target lengths (trainer/tasks/speech_task.h). Undefined for other tasks.
  torch::Tensor host_lengths;
};

// One evaluation batch's sums: the loss (as loss_sum) and, optionally, the task's own counts (e.g. correct
// predictions), a float64 vector that the loop adds over batches and ranks before eval_record() reads it.
struct EvalSums {
  torch::Tensor loss_sum;  // 0-dim
  torch::Tensor count;     // 0-dim
  torch::Tensor extra;     // 1-D float64, or undefined
};

// A host batch tensor on the device (optionally converted to `dtype` first), in memory of its own: `host` may be a
// view of a batch's buffers (torch::from_blob) that is freed afterwards. On CUDA it goes through pinned memory
// with a non-blocking copy: a copy from pageable memory would make the host wait for the GPU to finish everything
// queued before it (the previous step), leaving the GPU idle while the next step is being queued.
torch::Tensor upload(const torch::Tensor& host, const torch::Device& device,
                     std::optional<torch::ScalarType> dtype = std::nullopt);

class Task {
 public:
  virtual ~Task() = default;

  virtual int64_t vocab_size() const = 0;
  virtual std::string describe() const = 0;

  // The model this task trains. Default: models::build_model with model.vocab_size taken from the task when 0
  // (ConfigError when a configured vocab_size is smaller than the task's ids).
  virtual std::shared_ptr<models::Model> build_model(models::ModelConfig model,
                                                     const models::AttentionConfig& attention) const;

  // Micro-batch `micro` (of `micro_batch` sequences) of this rank's slice of the current global step; the step
  // starts at the stream position, which advance() moves once per optimizer step (by the global batch).
  virtual Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                            const torch::Device& device) = 0;
  virtual void advance(int64_t seqs) = 0;

  // The fixed validation set: `val_size()` items, handed out in order.
  virtual int64_t val_size() const = 0;
  virtual Batch val_batch(int64_t first, int64_t count, const torch::Device& device) = 0;

  // Sum of per-target losses (float32 0-dim) and the number of targets (0-dim), on the device; no host sync.
  // Default: token cross-entropy of model.forward(inputs) against integer targets, ignoring kIgnoreTarget.
  virtual std::pair<torch::Tensor, torch::Tensor> loss_sum(models::Model& model, const Batch& batch);

  // One validation batch (model in eval mode, no-grad). Default: loss_sum() and no extra counts.
  virtual EvalSums eval_sums(models::Model& model, const Batch& batch);
  // Length of EvalSums::extra (the same for every batch and rank). Default: 0.
  virtual int64_t eval_extra_size() const { return 0; }
  // The eval record's fields from the extra counts summed over the whole set (all ranks) and the target count.
  // Default: none.
  virtual nlohmann::json eval_record(const torch::Tensor& extra_total, double count_total);

  // Task-specific evaluation beyond the validation loss (e.g. embedding quality), run after it with the model in
  // eval mode under no-grad; the returned numbers go into the eval record of metrics.jsonl. Default: none.
  virtual nlohmann::json evaluate_extra(models::Model& model, const torch::Device& device);

  // Fields for summary.json from the last evaluation (e.g. a per-class accuracy table). Default: none.
  virtual nlohmann::json summary() const { return nlohmann::json::object(); }

  // Files the task keeps with the run (e.g. the single-cell gene vocabulary), written once by rank 0 into the run
  // folder before training starts. Default: none.
  virtual void write_run_files(const std::string& run_dir) { (void)run_dir; }

  // The data position for checkpoints.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;

  // The fused kernels the run uses (fused_ops section, resolved for the device), for the losses a task computes
  // itself (the token tasks' loss is the model's: Model::cross_entropy_sum, with the model's copy of these).
  void set_fused_ops(const models::FusedOps& ops) { fused_ops_ = ops; }

 protected:
  models::FusedOps fused_ops_;
};

}  // namespace sigtrain::trainer
