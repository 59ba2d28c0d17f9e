// sigtrain fused LayerNorm / RMSNorm over the last dim, torch-free C++ API.
//
//   LayerNorm  y = (x − μ) · r · γ + β        μ = mean(x), r = 1/sqrt(var(x) + ε)
//   RMSNorm    y = x · r · γ                  r = 1/sqrt(mean(x²) + ε)
// x in fp32 / bf16 / fp16, y in x's dtype or (for an fp32 x) bf16 / fp16 (under autocast: x is the fp32 residual stream and y is written in
// bf16 straight away, so no separate cast kernel runs, either way); γ, β fp32; statistics in fp32. The forward
// saves μ and r (fp32 [rows]); the backward gives
//   dx = r · (g − mean(g) − x̂ · mean(g · x̂))       g = dy · γ, x̂ = (x − μ) · r     (RMSNorm: no mean(g) term)
//   dγ = Σ_rows dy · x̂,   dβ = Σ_rows dy
// with dγ, dβ reduced in two passes (per-block partial sums in a workspace, then a column sum): no atomics, so the
// result is deterministic. Rows are contiguous (stride = dim); dim ≤ 2048 and a multiple of 4 (norm_supported).
// dtype pairs: y in x's dtype, or fp32 x into a bf16 / fp16 y.
//
// Residual add fused in (a pre-norm block's `s = x + delta; y = norm(s)`): with `delta` (y's dtype) the forward
// normalises s = x + delta and writes s (x's dtype) to `sum`, so the add costs no kernel and no re-read of s. Its
// backward then takes `x` = the saved s, adds `dsum` (the gradient that reaches s from the rest of the residual
// stream, x's dtype; may be null) into dx, and also writes dx in y's dtype to `ddelta` (delta's gradient): one
// pass instead of the norm backward, a gradient sum and a cast.
//
// The residual branch's last bias fused in too (`delta_bias`, fp32 [dim]: the sub-layer's output projection ran
// without its bias): s = x + (delta + delta_bias), and the backward's `ddelta_bias` = Σ_rows ds, the bias' gradient,
// summed like dβ from the fp32 ds the kernel holds anyway: no column-sum kernel over ddelta.
#pragma once

#include <cstdint>

#include "element_type.h"
#include "stream.h"

namespace sigtrain::kernels {

struct NormParams {
  bool rms = false;  // RMSNorm (no mean, no β) instead of LayerNorm
  ElementType x_dtype = ElementType::kFP32;
  ElementType y_dtype = ElementType::kFP32;
  int64_t rows = 0;
  int64_t dim = 0;
  float eps = 1e-5f;
  const void* x = nullptr;
  const float* gamma = nullptr;  // [dim]
  const float* beta = nullptr;   // [dim] or nullptr (LayerNorm without bias; always nullptr for RMSNorm)
  float* mean = nullptr;         // [rows] (LayerNorm only)
  float* rstd = nullptr;         // [rows]
  void* y = nullptr;             // forward output, y_dtype
  const void* delta = nullptr;   // optional residual branch added to x first (y_dtype)
  void* sum = nullptr;           // with delta: x + delta (x_dtype)
  const float* delta_bias = nullptr;  // optional with delta: [dim], s = x + (delta + delta_bias)
  // Backward.
  const void* dy = nullptr;      // y_dtype
  void* dx = nullptr;            // x_dtype
  float* dgamma = nullptr;       // [dim]
  float* dbeta = nullptr;        // [dim] (when beta was given)
  float* workspace = nullptr;    // norm_workspace_floats(rows, dim) floats
  const void* dsum = nullptr;    // optional gradient added to dx (x_dtype)
  void* ddelta = nullptr;        // optional: dx also in y_dtype
  float* ddelta_bias = nullptr;  // optional: [dim], Σ_rows dx (delta_bias' gradient)
};

bool norm_supported(int64_t dim);
int64_t norm_workspace_floats(int64_t rows, int64_t dim);

// Both throw std::invalid_argument for bad parameters and std::runtime_error for a CUDA launch error.
void norm_forward(const NormParams& p, Stream stream);
void norm_backward(const NormParams& p, Stream stream);

}  // namespace sigtrain::kernels
