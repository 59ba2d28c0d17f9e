#pragma once
// Image classification with the vision transformer (model.arch: vit) over data/vision's readers and loader.
//
// Sections: `data` (data/vision/vision_config.h: format, path, image_size, channels, augmentation, mixing,
// loader threads) and `vision` (the objective: label_smoothing). The loop counts positions: one image is
// model.vision tokens (patches + CLS), so train.global_batch_tokens = images per step × tokens per image.
//
// Training batches come from vision::ImageLoader (worker threads decode and augment ahead of the step, in a
// bounded queue): the stream of global sample indices, rank r's contiguous slice of each step, micro-batches in
// order; its position (one counter) is the task's checkpoint state, so a resumed run sees the same images with
// the same augmentation. Mixup / cutmix give soft targets [B, classes]; the loss is the cross-entropy against
// the (smoothed) target distribution. Evaluation: the whole test split in order, deterministic eval transform,
// hard labels without smoothing: loss, top-1 and top-5 accuracy and the per-class accuracy (summed over ranks).
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/vision/eval_set.h"
#include "data/vision/image_loader.h"
#include "data/vision/vision_config.h"
#include "trainer/tasks/task.h"
#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

// run.task: vision (claimed by model.arch: vit).
struct VisionTaskConfig final : TaskConfig {
  vision::VisionDataConfig data;
  double label_smoothing = 0.0;  // vision.label_smoothing: ε of (1 − ε)·target + ε / classes (training loss only)
  int64_t tokens_per_image = 0;  // model.vision.tokens() at data.image_size
  int64_t seq_len() const override { return tokens_per_image; }
  const char* seq_len_key() const override { return "the tokens per image (patches + CLS)"; }
};

class VisionTask final : public Task {
 public:
  VisionTask(const VisionTaskConfig& cfg, uint64_t seed);

  int64_t vocab_size() const override { return num_classes(); }
  int64_t num_classes() const { return train_->num_classes(); }
  std::string describe() const override;
  // The ViT with image_size, channels and num_classes taken from the data where the config leaves them 0.
  std::shared_ptr<models::Model> build_model(models::ModelConfig model,
                                             const models::AttentionConfig& attention) const override;

  Batch train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                    const torch::Device& device) override;
  void advance(int64_t seqs) override;
  int64_t val_size() const override { return eval_->size(); }
  Batch val_batch(int64_t first, int64_t count, const torch::Device& device) override;

  std::pair<torch::Tensor, torch::Tensor> loss_sum(models::Model& model, const Batch& batch) override;
  EvalSums eval_sums(models::Model& model, const Batch& batch) override;
  int64_t eval_extra_size() const override { return 2 + 2 * num_classes(); }
  nlohmann::json eval_record(const torch::Tensor& extra_total, double count_total) override;
  nlohmann::json summary() const override { return last_eval_; }
  void write_run_files(const std::string& run_dir) override;  // classes.json: the class names in label order

  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

  // Cross-entropy summed over the batch of `logits` [B, K] against class ids [B] or a distribution [B, K],
  // with label smoothing ε (float32).
  static torch::Tensor cross_entropy_sum(const torch::Tensor& logits, const torch::Tensor& targets, double epsilon);

 private:
  static Batch to_device(const vision::VisionBatch& batch, const torch::Device& device);

  VisionTaskConfig cfg_;
  uint64_t seed_;
  std::shared_ptr<const vision::ImageSource> train_;
  std::unique_ptr<vision::ImageEvalSet> eval_;
  std::unique_ptr<vision::ImageLoader> loader_;  // made on the first train_batch (it needs the batch plan)
  std::optional<vision::LoaderState> pending_restore_;
  nlohmann::json last_eval_ = nlohmann::json::object();
};

}  // namespace sigtrain::trainer
