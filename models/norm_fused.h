#pragma once
// The fused LayerNorm / RMSNorm (kernels/norm_kernel.h) as a differentiable op for models::Norm.
#include <ATen/core/Tensor.h>

#include <optional>
#include <utility>

namespace sigtrain::models {

// Whether fused_norm takes x (CUDA, contiguous, 16-byte aligned, a supported dim and dtype) with an fp32 weight
// (and bias); false in a build without the kernels.
bool fused_norm_applicable(const at::Tensor& x, const at::Tensor& weight);

// y = norm(x) over the last dim, in `out_dtype` (x's dtype or, for an fp32 x, bf16 / fp16). rms: RMSNorm (no
// bias). Gradients for x, weight and bias. std::logic_error in a build without the kernels.
at::Tensor fused_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                      at::ScalarType out_dtype);

// Whether fused_add_norm takes (x, delta): fused_norm_applicable(x, weight), delta of x's shape, contiguous and
// aligned, in the output dtype (x's, or for an fp32 x under autocast the autocast dtype: a linear layer's output).
bool fused_add_norm_applicable(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                               at::ScalarType out_dtype);

// The residual add of a pre-norm block fused into the norm: returns {s, y} with s = x + delta (x's dtype; the
// residual stream after the sub-layer) and y = norm(s) in `out_dtype`, one kernel forward and one backward (which
// also sums s's two incoming gradients and casts delta's). Gradients for x, delta, weight and bias. With
// `delta_bias` (fp32 [dim], fused_ops.residual_bias: the sub-layer's output projection ran without its bias)
// s = x + (delta + delta_bias), and its gradient Σ_rows ds comes from the same backward pass.
std::pair<at::Tensor, at::Tensor> fused_add_norm(const at::Tensor& x, const at::Tensor& delta,
                                                 const at::Tensor& weight, const at::Tensor& bias, double eps,
                                                 bool rms, at::ScalarType out_dtype,
                                                 const at::Tensor& delta_bias = at::Tensor());

}  // namespace sigtrain::models
