#include "trainer/optim/grad_norm.h"

#include <torch/torch.h>

namespace sigtrain::trainer {
namespace {

std::vector<torch::Tensor> defined_grads(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

}  // namespace

torch::Tensor global_grad_norm(const std::vector<torch::Tensor>& params) {
  const auto grads = defined_grads(params);
  if (grads.empty()) return torch::zeros({}, params.front().options().dtype(torch::kFloat32));
  auto norms = at::_foreach_norm(grads, 2);
  return torch::linalg_vector_norm(torch::stack(norms).to(torch::kFloat32), 2);
}

void clip_gradients(const std::vector<torch::Tensor>& params, const torch::Tensor& norm, double max_norm) {
  auto coef = torch::clamp_max(max_norm / (norm + 1e-6), 1.0);
  at::_foreach_mul_(defined_grads(params), coef);
}

torch::Tensor clip_divisor(const torch::Tensor& norm, double max_norm) {
  return torch::clamp_min((norm + 1e-6) / max_norm, 1.0).to(torch::kFloat32);
}

}  // namespace sigtrain::trainer
