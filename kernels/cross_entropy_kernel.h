// sigtrain fused cross-entropy over a vocabulary, torch-free C++ API.
//
// For each row r of logits x [rows, vocab] (bf16 / fp16 / fp32, read in its own dtype, computed in fp32):
//   forward    lse_r = log Σ_j exp(x_rj)          loss_r = lse_r − x_r,t_r           (t_r = ignore_index: 0)
//   backward   dx_rj = g_r · (exp(x_rj − lse_r) − [j = t_r])                         (t_r = ignore_index: 0)
// The forward reads each row once (an online max / sum-exp), keeps only lse (fp32 [rows]); the backward reads the
// logits once more and writes dx in the logits' dtype. Where the gradient is certain to be wanted, the forward can
// write it too, for g_r = 1 (grad_logits set in the forward), over the logits themselves if asked: one read and one
// write of the logits in all instead of two reads and one write, and no second [rows, vocab] buffer
// (models/head_loss.h scales it by the real g in its backward's GEMMs). No fp32 copy of the logits and no saved
// softmax ever exist: at GPT-2 shape (16K rows × 50304) that is ~5 GB of memory traffic instead of ~28 GB for
// cast + log_softmax + nll_loss and their backward (docs/benchmarks.md, "Training speed").
//
// Rows may be strided (row_stride elements apart, the vocab axis contiguous); dx is written with the same row
// stride (grad_row_stride). Targets are int64 [rows]; a target outside [0, vocab) other than ignore_index makes
// that row's loss and gradient NaN (so the run's non-finite policy sees it), never an out-of-bounds read.
#pragma once

#include <cstdint>

#include "element_type.h"
#include "stream.h"

namespace sigtrain::kernels {

struct CrossEntropyParams {
  ElementType dtype = ElementType::kBF16;
  int64_t rows = 0;
  int64_t vocab = 0;
  const void* logits = nullptr;
  int64_t row_stride = 0;          // elements between rows of logits (>= vocab)
  const int64_t* targets = nullptr;
  int64_t ignore_index = -100;
  float* lse = nullptr;            // forward output: fp32 [rows] (ignored rows get lse too, unused)
  float* loss = nullptr;           // forward output: fp32 [rows], 0 for ignored rows
  // Backward: g_r, dx. The forward writes dx for g_r = 1 when grad_logits is set: into another buffer, or into the
  // logits themselves (grad_logits == logits, grad_row_stride == row_stride; each element is read before it is
  // overwritten, and the loss takes x_r,t_r before its row is), never a buffer that partly overlaps them.
  const float* grad_loss = nullptr;  // g_r: fp32, grad_loss[r * grad_loss_stride] (stride 0: one scalar for all)
  int64_t grad_loss_stride = 0;
  void* grad_logits = nullptr;       // dx, logits' dtype
  int64_t grad_row_stride = 0;
};

// Both throw std::invalid_argument for bad parameters and std::runtime_error for a CUDA launch error.
void cross_entropy_forward(const CrossEntropyParams& p, Stream stream);
void cross_entropy_backward(const CrossEntropyParams& p, Stream stream);

}  // namespace sigtrain::kernels
