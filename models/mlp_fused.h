#pragma once
// The GELU MLP, proj(GELU_tanh(fc(x))), as one differentiable op for models::Mlp (fused_ops.mlp): the forward's
// bias and GELU in a cuBLASLt epilogue (kernels/gemm_epilogue.h), the backward's GELU′ and first bias gradient in
// one pass and the second bias gradient one column sum (kernels/bias_grad_kernel.h). The GEMMs run in
// the compute dtype (the autocast dtype, or x's bf16 / fp16 without autocast) like LibTorch's autocast path; the
// weight gradients are written in fp32, the master weights' dtype, straight from the GEMM. Where cuBLASLt has no
// algorithm for an epilogue, that step runs LibTorch's ops instead (same values, logged once).
#include <ATen/core/Tensor.h>

#include <optional>

#include "models/weight_casts.h"

namespace sigtrain::models {

// The dtype the fused MLP would compute x in: the CUDA autocast dtype when autocast is on, else x's own when it is
// bf16 / fp16; nullopt (use LibTorch's ops) otherwise, e.g. fp32 training.
std::optional<at::ScalarType> fused_mlp_compute_dtype(const at::Tensor& x);

// Whether fused_gelu_mlp takes these: x on CUDA with a compute dtype, fp32 contiguous weights fc [F, K] and proj
// [N, F] with K = x.size(-1), and K, F, N multiples of 8 (cuBLASLt's 16-byte rows); false in a build without the
// kernels.
bool fused_mlp_applicable(const at::Tensor& x, const at::Tensor& fc_weight, const at::Tensor& proj_weight);

// proj_weight · GELU_tanh(fc_weight · x + fc_bias) + proj_bias over x's last dim, in the compute dtype; biases may
// be undefined. Gradients for x and all four parameters. With `casts`, the GEMMs read the parameters from the
// model's compute-dtype copies where it has them (models/weight_casts.h). With `recompute_gelu`
// (fused_ops.mlp_recompute) the op keeps only the pre-activation for its backward, not h = GELU(pre) (M × F in the
// compute dtype: 1.13 GiB over GPT-2-small's 12 layers at B 16 × T 1024), and its backward's GELU pass writes h again
// (one more write of M × F). std::logic_error in a build without the kernels.
at::Tensor fused_gelu_mlp(const at::Tensor& x, const at::Tensor& fc_weight, const at::Tensor& fc_bias,
                          const at::Tensor& proj_weight, const at::Tensor& proj_bias,
                          const WeightCasts* casts = nullptr, bool recompute_gelu = false);

}  // namespace sigtrain::models
