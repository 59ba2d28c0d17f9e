#pragma once
// The global gradient norm (measured every step, clipping or not) and clipping to a maximum norm; on the device,
// no host sync.
#include <torch/types.h>

#include <vector>

namespace sigtrain::trainer {

// L2 norm over all defined gradients of `params`, a 0-dim float32 tensor.
torch::Tensor global_grad_norm(const std::vector<torch::Tensor>& params);
// Scales the gradients so their global norm (`norm`, from global_grad_norm) is at most max_norm.
void clip_gradients(const std::vector<torch::Tensor>& params, const torch::Tensor& norm, double max_norm);
// The same clipping as a divisor, max(1, (norm + 1e-6) / max_norm), for the fused AdamW step to apply in its own pass
// (trainer/optim/optimizer.h); equal to clip_gradients() up to the rounding of a division instead of a product.
torch::Tensor clip_divisor(const torch::Tensor& norm, double max_norm);

}  // namespace sigtrain::trainer
