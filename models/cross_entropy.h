#pragma once
// Token cross-entropy as a sum over rows: Σ_r −log softmax(logits_r)[target_r], rows whose target is
// ignore_index left out. Two paths with one meaning:
//   fused   (CUDA, fused_ops.cross_entropy): kernels/cross_entropy_kernel.h reads the logits in their own dtype (bf16
//           under autocast) and computes in fp32; the backward recomputes the softmax from the saved lse.
//   LibTorch (CPU, or fused off): cross_entropy on an fp32 copy of the logits.
// tests/kernels/test_cross_entropy.cpp checks the fused path's loss and gradient against the LibTorch one.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace sigtrain::models {

// logits [..., V] (the last dim contiguous or not), targets int64 with logits' leading shape. Returns a 0-dim fp32.
at::Tensor cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index, bool fused);

// The fused path on 2-D CUDA logits [R, V] (rows strided, V contiguous) and targets [R]: per-row losses, fp32 [R].
// std::logic_error in a build without the kernels (models::fused_ops_built()).
at::Tensor fused_cross_entropy_rows(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index);

}  // namespace sigtrain::models
