#pragma once
// LibTorch-side helpers around kernels/gemm_epilogue.h, shared by the fused ops built on cuBLASLt epilogues
// (models/mlp_fused.h, models/linear_fused.h). Built with the kernels only.
#include <ATen/core/Tensor.h>

#include <optional>
#include <utility>

#include "gemm_epilogue.h"
#include "models/weight_casts.h"

namespace sigtrain::models::epilogue_ops {

// The dtype such an op computes x in: the CUDA autocast dtype when autocast is on, else x's own when it is bf16 /
// fp16; nullopt (use LibTorch's ops) otherwise, e.g. fp32 training or a CPU tensor.
std::optional<at::ScalarType> compute_dtype(const at::Tensor& x);

// Whether a GEMM of x [..., I] (a compute dtype, not empty) against an fp32 contiguous CUDA weight [O, I] fits the
// fused ops: I a multiple of 8 (16-byte rows). The row count O is the caller's rule (a multiple of 8 for a linear
// layer; any for the head loss, which pads its weight's copy).
bool gemm_weight_fits(const at::Tensor& x, const at::Tensor& weight);

// x as the GEMMs read it: [M, x.size(-1)] rows in `dtype`, contiguous, 16-byte aligned (a differentiable cast and
// reshape; a copy only where x is not already so).
at::Tensor gemm_rows(const at::Tensor& x, at::ScalarType dtype);

// The compute-dtype copy of an fp32 weight or bias for a GEMM, as a tensor without autograd history (the op's
// gradient flows to `w` itself): from `casts` (the model's copies, one launch for all) when it has one, else cast
// here. w defined; an empty "no bias" tensor gives an empty tensor.
at::Tensor cast_from(const WeightCasts* casts, const at::Tensor& w, at::ScalarType dtype);

// D (m × n, ldd) = op(a) · op(b) as cuBLASLt sees it (column-major), dtypes from the tensors, no epilogue yet.
kernels::EpilogueGemm gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, const at::Tensor& a,
                           int64_t lda, const at::Tensor& b, int64_t ldb, const at::Tensor& d, int64_t ldd);

// Runs g on the current stream with LibTorch's cuBLASLt handle and workspace (the same stream orders it against
// LibTorch's own GEMMs). False: cuBLASLt has no algorithm for it; the first such case of the process is logged,
// naming `op` (the fused_ops key) and `what` (the epilogue).
bool run(const kernels::EpilogueGemm& g, const char* op, const char* what);

// y [M, O] = x [M, I] · w [O, I]ᵀ (+ bias [O]), all in x's dtype and contiguous; bias empty for none: one cuBLASLt
// GEMM with its bias epilogue (without an algorithm for it, LibTorch's addmm / mm).
at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, const char* op);

// dx [M, I] = dy [M, O] · w [O, I], both in one dtype and contiguous: one cuBLASLt GEMM (else LibTorch's mm).
at::Tensor input_grad(const at::Tensor& dy, const at::Tensor& w, const char* op);

// The gradients of a linear layer's fp32 weight [O, I] and bias [O] from its input [M, I] and output gradient
// [M, O] (both in the compute dtype, contiguous): dW = gradᵀ · input in one GEMM that writes fp32 (without an
// algorithm for it, LibTorch's mm and a cast), and with a bias db = bias_grad(grad).
std::pair<at::Tensor, at::Tensor> weight_and_bias_grad(const at::Tensor& input, const at::Tensor& grad, bool has_bias,
                                                       const char* op);

// db = Σ over grad's rows [M, O] (compute dtype, contiguous, O a multiple of 8) in fp32, by kernels/bias_grad_kernel.h
// (not cuBLASLt's BGRADB epilogue, which the H200 runs as a slower kernel of its own).
at::Tensor bias_grad(const at::Tensor& grad);

// The MLP's first layer: {dpre, db} with dpre = grad ⊙ GELU′(pre) (tanh form, grad's dtype) and db = Σ over rows of
// dpre, in one pass (kernels/bias_grad_kernel.h); grad and pre [M, F] alike, contiguous. With `gelu_out` (defined,
// like pre) the same pass writes GELU(pre) into it: the activation of a forward that did not keep it.
std::pair<at::Tensor, at::Tensor> gelu_and_bias_grad(const at::Tensor& grad, const at::Tensor& pre,
                                                     const at::Tensor& gelu_out = at::Tensor());

}  // namespace sigtrain::models::epilogue_ops
