#include "trainer/task.h"

#include <torch/torch.h>

namespace sigtrain::trainer {

std::pair<torch::Tensor, torch::Tensor> Task::loss_sum(models::Model& model, const Batch& batch) {
  auto logits = model.forward(batch.inputs);
  auto flat_targets = batch.targets.view({-1});
  auto sum = torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat32).view({-1, logits.size(-1)}), flat_targets,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(kIgnoreTarget));
  auto count = (flat_targets != kIgnoreTarget).sum();
  return {sum, count};
}

nlohmann::json Task::evaluate_extra(models::Model&, const torch::Device&) { return nlohmann::json::object(); }

}  // namespace sigtrain::trainer
