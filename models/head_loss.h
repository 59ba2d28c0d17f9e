#pragma once
// A token model's linear head and its cross-entropy as one op (fused_ops.head_loss): the loss Σ_r CE(x_r Wᵀ, t_r)
// over the rows whose target is not ignore_index, with W the head's (or the tied embedding's) fp32 weight.
//   forward   logits = x Wᵀ (one GEMM in the compute dtype), then kernels/cross_entropy_kernel.h reads each row once
//             for its loss and writes the gradient for a unit upstream gradient, softmax − one-hot, over the logits
//             in place. What the backward needs is then already there, and the [rows, vocab] buffer is the only one:
//             the unfused path holds the logits and their gradient at once at the start of the backward (1.65 GB
//             each at GPT-2-small's 16 × 1024 × 50304 in bf16).
//   backward  with g the upstream gradient of the sum (a 0-dim tensor, read on the device, no host sync):
//             dW = Dᵀ (g x) in one GEMM writing fp32 (models/gemm_epilogue_ops.h), dx = g (D W)
//             where D is the unit gradient: two GEMMs as the head's own backward, plus two scalings of [rows, d].
// Against the unfused path (head GEMM, fused cross-entropy, the GEMMs' backward) this drops one read and one write
// of the logits per step; the numbers differ only by where g is applied (exactly the same where g is a power of
// two, as 1/tokens is at 16 × 1024) and by dW summed in fp32 instead of rounded to bf16 first (as fused_ops.linear).
// Only where a gradient is wanted (grad mode, W requiring grad): evaluation takes the plain forward.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "models/weight_casts.h"

namespace sigtrain::models {

// Whether fused_head_loss_sum takes these: x [..., d] on CUDA with a compute dtype (autocast's, or x's own bf16 /
// fp16), an fp32 contiguous weight [V, d] with d and V multiples of 8; false in a build without the kernels.
bool fused_head_loss_applicable(const at::Tensor& x, const at::Tensor& weight);

// Σ cross-entropy of x Wᵀ against targets (x's leading shape, int64; ignore_index rows left out): fp32 0-dim, with
// gradients for x and W. With `casts`, the GEMMs read W's compute-dtype copy from there (models/weight_casts.h).
// std::logic_error in a build without the kernels.
at::Tensor fused_head_loss_sum(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& targets,
                               int64_t ignore_index, const WeightCasts* casts = nullptr);

}  // namespace sigtrain::models
