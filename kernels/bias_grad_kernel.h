// sigtrain bias gradients: column sums of a row-major [rows, cols] gradient, torch-free C++ API.
//
//   db[c] = Σ_rows g[r, c]                       (a linear layer's bias: g is its output's gradient)
// or, with the GELU pre-activation given (the MLP's first layer, GELU's tanh approximation as GPT-2 uses it),
//   dpre[r, c] = g[r, c] · GELU′(pre[r, c])     written in g's dtype
//   db[c]      = Σ_rows dpre[r, c]              the rounded dpre, as the weight-gradient GEMM reads it
//   h[r, c]    = GELU(pre[r, c])               optionally, the activation again, for a forward that did not keep it
// g, pre, dpre in bf16 / fp16; db fp32, summed in fp32. Why not cuBLASLt's BGRADB epilogue: on the H200 it runs as
// a separate kernel at about 70 % of HBM bandwidth (docs/benchmarks.md); this one reads g at bandwidth, and the GELU
// form costs no read beyond GELU's own backward.
//
// Deterministic: every block sums a fixed span of rows (kBiasGradRowsPerPartial, not a device-dependent count) in a
// fixed order into a workspace row, and a second kernel sums the workspace's rows in a fixed order: the same numbers
// on every GPU and every run, no atomics. cols a multiple of 8 and all pointers 16-byte aligned (bias_grad_supported).
#pragma once

#include <cstdint>

#include "element_type.h"
#include "stream.h"

namespace sigtrain::kernels {

struct BiasGradParams {
  ElementType dtype = ElementType::kBF16;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* grad = nullptr;      // [rows, cols]
  const void* gelu_pre = nullptr;  // optional [rows, cols]: sum grad · GELU′(gelu_pre) instead of grad
  void* gelu_grad = nullptr;       // with gelu_pre: grad · GELU′(gelu_pre) [rows, cols]
  void* gelu_out = nullptr;        // optional, with gelu_pre: GELU(gelu_pre) [rows, cols] (fused_ops.mlp_recompute)
  float* bias_grad = nullptr;      // [cols]
  float* workspace = nullptr;      // bias_grad_workspace_floats(rows, cols) floats
};

bool bias_grad_supported(int64_t cols);
int64_t bias_grad_workspace_floats(int64_t rows, int64_t cols);

// Throws std::invalid_argument for bad parameters and std::runtime_error for a CUDA launch error.
void bias_grad(const BiasGradParams& p, Stream stream);

}  // namespace sigtrain::kernels
