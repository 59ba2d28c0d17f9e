#pragma once
// Rotary embeddings (models::Rope, rotate-half form) as one differentiable op (fused_ops.rope): one kernel each way
// (kernels/rope_kernel.h) in fp32 arithmetic with the fp32 cos / sin tables, where LibTorch's composite runs about
// nine bf16 kernels per tensor and direction. Not bit for bit LibTorch's: one rounding instead of four, the tables
// unrounded.
#include <ATen/core/Tensor.h>

namespace sigtrain::models {

// Whether fused_rope takes x [B, T, H, D] (CUDA, bf16 / fp16 / fp32, the head dim contiguous, the other strides and
// the pointer multiples of 4 elements, D a multiple of 8) with fp32 contiguous tables cos / sin [≥ T, D / 2] on x's
// device; false in a build without the kernels.
bool fused_rope_applicable(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// x rotated by the positions 0 … T−1: a contiguous [B, T, H, D] in x's dtype, with x's gradient (the inverse rotation
// of the output's, contiguous). std::logic_error in a build without the kernels.
at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace sigtrain::models
