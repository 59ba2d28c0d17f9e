#include "trainer/tasks/task.h"

#include <torch/torch.h>

#include "common/config.h"

namespace sigtrain::trainer {

torch::Tensor upload(const torch::Tensor& host, const torch::Device& device, std::optional<torch::ScalarType> dtype) {
  const bool convert = dtype && host.scalar_type() != *dtype;
  const torch::Tensor converted = convert ? host.to(*dtype) : host;
  if (!device.is_cuda()) return convert ? converted : converted.clone();  // its own memory, as on the GPU
  return converted.pin_memory().to(device, /*non_blocking=*/true);
}

std::pair<torch::Tensor, torch::Tensor> Task::loss_sum(models::Model& model, const Batch& batch) {
  auto sum = model.cross_entropy_sum(batch.inputs, batch.targets, kIgnoreTarget);
  auto count = (batch.targets != kIgnoreTarget).sum();
  return {sum, count};
}

std::shared_ptr<models::Model> Task::build_model(models::ModelConfig model,
                                                const models::AttentionConfig& attention) const {
  if (model.vocab_size == 0) model.vocab_size = vocab_size();
  if (model.vocab_size < vocab_size())
    throw config::ConfigError("model.vocab_size: " + std::to_string(model.vocab_size) + " is smaller than the " +
                              "task's " + std::to_string(vocab_size()) + " ids; set 0 to take it from the task");
  return models::build_model(model, attention);
}

EvalSums Task::eval_sums(models::Model& model, const Batch& batch) {
  auto [sum, count] = loss_sum(model, batch);
  return {sum, count, {}};
}

nlohmann::json Task::eval_record(const torch::Tensor&, double) { return nlohmann::json::object(); }

nlohmann::json Task::evaluate_extra(models::Model&, const torch::Device&) { return nlohmann::json::object(); }

}  // namespace sigtrain::trainer
