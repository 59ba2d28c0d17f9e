#pragma once
// A linear layer, y = x Wᵀ + b, as one differentiable op for models::Linear (fused_ops.linear). The forward computes
// what LibTorch's autocast linear does (x, W and b in the compute dtype, one GEMM with its bias epilogue); the
// backward writes dW in fp32, the master weight's dtype, straight from the weight-gradient GEMM and db with one
// column-sum kernel at HBM bandwidth (kernels/bias_grad_kernel.h): no cast of a bf16 dW. dW and db are therefore the
// fp32 sums autocast's path rounds to bf16 before its cast. Its three GEMMs are cuBLASLt calls of
// kernels/gemm_epilogue.h, whose algorithms fused_ops.gemm_algo chooses (models/gemm_algos.h).
#include <ATen/core/Tensor.h>

#include "models/weight_casts.h"

namespace sigtrain::models {

// Whether fused_linear takes these: x on CUDA with a compute dtype (autocast's, or x's own bf16 / fp16), an fp32
// contiguous weight [O, I] with I = x.size(-1), and I, O multiples of 8 (cuBLASLt's 16-byte rows); false in a
// build without the kernels.
bool fused_linear_applicable(const at::Tensor& x, const at::Tensor& weight);

// x Wᵀ + b over x's last dim, in the compute dtype; bias fp32 or undefined. Gradients for x, W and b. With `casts`,
// the GEMM reads W and b from the model's compute-dtype copies where it has them (models/weight_casts.h).
// std::logic_error in a build without the kernels.
at::Tensor fused_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                        const WeightCasts* casts = nullptr);

}  // namespace sigtrain::models
