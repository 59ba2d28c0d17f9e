#pragma once
// The fused LayerNorm / RMSNorm (kernels/norm_kernel.h) as a differentiable op for models::Norm.
#include <ATen/core/Tensor.h>

#include <optional>

namespace sigtrain::models {

// Whether fused_norm takes x (CUDA, contiguous, 16-byte aligned, a supported dim and dtype) with an fp32 weight
// (and bias); false in a build without the kernels.
bool fused_norm_applicable(const at::Tensor& x, const at::Tensor& weight);

// y = norm(x) over the last dim, in `out_dtype` (x's dtype or, for an fp32 x, bf16 / fp16). rms: RMSNorm (no
// bias). Gradients for x, weight and bias. std::logic_error in a build without the kernels.
at::Tensor fused_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                      at::ScalarType out_dtype);

}  // namespace sigtrain::models
