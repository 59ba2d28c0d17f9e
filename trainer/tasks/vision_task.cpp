#include "trainer/tasks/vision_task.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "common/atomic_file.h"
#include "common/log.h"
#include "data/vision/vision_dataset.h"
#include "trainer/loop/run_config.h"

namespace sigtrain::trainer {

TaskDefinition vision_task_definition() {
  TaskDefinition d;
  d.name = "vision";
  d.description = "image classification with the vision transformer (model.arch: vit)";
  d.claims = [](const config::ConfigTree&, const models::ModelConfig& m) { return m.arch == models::Arch::kVit; };
  d.parse = [](config::ConfigTree& tree, const models::ModelConfig& model) -> std::shared_ptr<const TaskConfig> {
    if (model.arch != models::Arch::kVit)
      throw config::ConfigError("model.arch: the vision task trains the vision transformer; set arch: vit");
    auto c = std::make_shared<VisionTaskConfig>();
    config::SectionReader data(tree, "data");
    c->data = vision::parse_vision_data_config(data);
    config::SectionReader objective(tree, "vision");
    c->label_smoothing = objective.get_double("label_smoothing", c->label_smoothing, 0.0, 1.0);
    if (c->label_smoothing >= 1.0) objective.fail("label_smoothing", "expected ε in [0, 1)");
    const models::VisionModelConfig& v = model.vision;
    if (c->data.image_size % v.patch_size != 0)
      data.fail("image_size", std::to_string(c->data.image_size) + " is not a multiple of model.vision.patch_size " +
                                  std::to_string(v.patch_size));
    if (v.channels > 0 && v.channels != c->data.channels)
      data.fail("channels", std::to_string(c->data.channels) + " does not match model.vision.channels " +
                                std::to_string(v.channels) + " (set that to 0 to take it from the data)");
    models::VisionModelConfig at_data = v;
    at_data.image_size = c->data.image_size;
    c->tokens_per_image = at_data.tokens();
    return c;
  };
  d.check_inputs = [](const RunConfig& cfg) {
    const auto& data = cfg.task_as<VisionTaskConfig>().data;
    require_path("data.path", data.path, /*folder=*/true,
                 data.path == vision::kDefaultVisionDataPath ? "run scripts/fetch_vision_data.sh" : "");
  };
  d.make = [](const RunConfig& cfg) -> std::unique_ptr<Task> {
    return std::make_unique<VisionTask>(cfg.task_as<VisionTaskConfig>(), cfg.train.seed);
  };
  d.resume_must_match = {"data", "vision"};
  d.report_metrics = {{"top1", "top-1 acc", true}, {"top5", "top-5 acc", true}};
  return d;
}

VisionTask::VisionTask(const VisionTaskConfig& cfg, uint64_t seed) : cfg_(cfg), seed_(seed) {
  train_ = vision::open_vision_source(cfg_.data, vision::VisionSplit::kTrain);
  auto test = vision::open_vision_source(cfg_.data, vision::VisionSplit::kTest);
  if (test->num_classes() != train_->num_classes())
    throw std::runtime_error(cfg_.data.path + ": the test split has " + std::to_string(test->num_classes()) +
                             " classes, the training split " + std::to_string(train_->num_classes()));
  eval_ = std::make_unique<vision::ImageEvalSet>(test, vision::eval_transform_options(cfg_.data),
                                                 static_cast<int>(std::max<int64_t>(1, cfg_.data.workers)));
}

std::string VisionTask::describe() const {
  return train_->describe() + "; " + std::to_string(train_->size()) + " training / " +
         std::to_string(eval_->size()) + " test images, " + std::to_string(num_classes()) + " classes, " +
         std::to_string(cfg_.data.image_size) + " px, " + std::to_string(cfg_.tokens_per_image) +
         " tokens per image";
}

std::shared_ptr<models::Model> VisionTask::build_model(models::ModelConfig model,
                                                       const models::AttentionConfig& attention) const {
  models::VisionModelConfig& v = model.vision;
  if (v.image_size == 0) v.image_size = cfg_.data.image_size;
  if (v.channels == 0) v.channels = cfg_.data.channels;
  if (v.num_classes == 0) v.num_classes = num_classes();
  if (v.num_classes < num_classes())
    throw config::ConfigError("model.vision.num_classes: " + std::to_string(v.num_classes) + " is smaller than the " +
                              std::to_string(num_classes()) + " classes of the data; set 0 to take it from the data");
  return models::build_model(model, attention);
}

Batch VisionTask::to_device(const vision::VisionBatch& b, const torch::Device& device) {
  Batch batch;
  auto pixels = torch::from_blob(const_cast<float*>(b.pixels.data()), {b.count, b.channels, b.height, b.width},
                                 torch::kFloat32);
  batch.inputs.images = upload(pixels, device);
  if (!b.soft_targets.empty()) {
    const int64_t classes = static_cast<int64_t>(b.soft_targets.size()) / b.count;
    batch.targets = upload(
        torch::from_blob(const_cast<float*>(b.soft_targets.data()), {b.count, classes}, torch::kFloat32), device);
  } else {
    batch.targets = upload(torch::from_blob(const_cast<int64_t*>(b.labels.data()), {b.count}, torch::kInt64), device);
  }
  return batch;
}

Batch VisionTask::train_batch(int64_t seqs_per_step, int rank, int world, int64_t micro, int64_t micro_batch,
                              const torch::Device& device) {
  if (!loader_) {
    loader_ = std::make_unique<vision::ImageLoader>(
        train_, vision::loader_options(cfg_.data, seed_, seqs_per_step, micro_batch, rank, world));
    if (pending_restore_) loader_->restore(*pending_restore_);
    pending_restore_.reset();
  }
  vision::VisionBatch b = loader_->next();
  if (b.micro_index != micro)  // the loop and the loader walk the same plan: a mismatch is a bug, not bad input
    throw std::logic_error("vision task: the loader returned micro-batch " + std::to_string(b.micro_index) +
                           " where the loop asked for " + std::to_string(micro));
  return to_device(b, device);
}

void VisionTask::advance(int64_t) {
  // The loader moves to the next step by itself after the slice's last micro-batch (its position is global).
}

Batch VisionTask::val_batch(int64_t first, int64_t count, const torch::Device& device) {
  return to_device(eval_->eval_batch(first, count), device);
}

torch::Tensor VisionTask::cross_entropy_sum(const torch::Tensor& logits, const torch::Tensor& targets,
                                            double epsilon) {
  const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat32), -1);  // [B, K]
  const int64_t K = logits.size(-1);
  torch::Tensor dist = targets.dim() == 1 ? torch::one_hot(targets, K).to(torch::kFloat32) : targets;
  if (epsilon > 0) dist = dist * (1.0 - epsilon) + epsilon / static_cast<double>(K);
  return -(dist * log_p).sum();
}

std::pair<torch::Tensor, torch::Tensor> VisionTask::loss_sum(models::Model& model, const Batch& batch) {
  const torch::Tensor logits = model.forward(batch.inputs);
  const double epsilon = model.is_training() ? cfg_.label_smoothing : 0.0;  // evaluation scores plain CE
  return {cross_entropy_sum(logits, batch.targets, epsilon),
          torch::full({}, static_cast<double>(logits.size(0)), logits.options().dtype(torch::kFloat32))};
}

EvalSums VisionTask::eval_sums(models::Model& model, const Batch& batch) {
  const torch::Tensor logits = model.forward(batch.inputs).to(torch::kFloat32);
  const torch::Tensor labels = batch.targets;  // eval batches carry class ids
  const int64_t K = num_classes();             // the data's classes (the head may be wider: model.vision.num_classes)
  EvalSums s;
  s.loss_sum = cross_entropy_sum(logits, labels, 0.0);
  s.count = torch::full({}, static_cast<double>(logits.size(0)), logits.options());
  const torch::Tensor top = std::get<1>(logits.topk(std::min<int64_t>(5, logits.size(-1)), -1));  // [B, k], best first
  const torch::Tensor hit1 = top.select(1, 0) == labels;
  const torch::Tensor hit5 = (top == labels.unsqueeze(1)).any(1);
  const auto f64 = logits.options().dtype(torch::kFloat64);
  const torch::Tensor per_class_total = torch::zeros({K}, f64).index_add_(0, labels, torch::ones_like(labels, f64));
  const torch::Tensor per_class_hit = torch::zeros({K}, f64).index_add_(0, labels, hit1.to(torch::kFloat64));
  s.extra = torch::cat({hit1.sum().to(torch::kFloat64).reshape({1}), hit5.sum().to(torch::kFloat64).reshape({1}),
                        per_class_hit, per_class_total});
  return s;
}

nlohmann::json VisionTask::eval_record(const torch::Tensor& extra, double count) {
  const int64_t K = num_classes();
  const auto v = extra.to(torch::kFloat64).contiguous();
  const double* x = v.data_ptr<double>();
  nlohmann::json per_class = nlohmann::json::object();
  for (int64_t c = 0; c < K; ++c) {
    const double total = x[2 + K + c];
    per_class[train_->class_names().at(static_cast<size_t>(c))] =
        total > 0 ? nlohmann::json(x[2 + c] / total) : nlohmann::json(nullptr);
  }
  nlohmann::json record = {{"top1", x[0] / count}, {"top5", x[1] / count}};
  last_eval_ = {{"top1", x[0] / count}, {"top5", x[1] / count}, {"per_class_accuracy", per_class},
                {"test_images", count}};
  return record;
}

void VisionTask::write_run_files(const std::string& run_dir) {
  write_file_atomic((std::filesystem::path(run_dir) / "classes.json").string(),
                    nlohmann::json(train_->class_names()).dump(2) + "\n");
}

nlohmann::json VisionTask::state() const {
  if (loader_) return loader_->state().to_json();
  vision::LoaderState s = pending_restore_.value_or(vision::LoaderState{});
  s.seed = seed_;
  s.dataset_size = train_->size();
  s.dataset_fingerprint = train_->fingerprint();
  return s.to_json();
}

void VisionTask::restore(const nlohmann::json& state) {
  const vision::LoaderState s = vision::LoaderState::from_json(state);
  if (loader_)
    loader_->restore(s);
  else
    pending_restore_ = s;
}

}  // namespace sigtrain::trainer
