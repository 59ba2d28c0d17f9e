// sigtrain fused rotary position embedding (RoPE, rotate-half form), torch-free C++ API.
//
//   forward   y₁ = x₁·cos − x₂·sin,  y₂ = x₁·sin + x₂·cos        x = [x₁ | x₂] over the head dim (halves of D/2)
//   inverse   x₁ = y₁·cos + y₂·sin,  x₂ = −y₁·sin + y₂·cos       (the backward: the transposed rotation)
// with cos / sin the fp32 tables [≥ T, D/2] at the token's position t (0…T−1). One pass that reads x once and writes
// y once, in fp32 arithmetic with one rounding to the output dtype, where LibTorch's composite (narrow, four
// multiplies, a subtraction, an addition and a concatenation, each rounded to bf16) launches about nine kernels per
// tensor and direction (docs/benchmarks.md: 4.1 ms of elementwise kernels per step of the 160M/8K encoder).
// x [B, T, H, D] may be strided (e.g. q or k as views of the packed qkv projection): the head dim contiguous, every
// other stride and the pointer a multiple of 4 elements (4-element vector loads); y is contiguous [B, T, H, D].
#pragma once

#include <cstdint>

#include "element_type.h"
#include "stream.h"

namespace sigtrain::kernels {

struct RopeParams {
  ElementType dtype = ElementType::kBF16;
  int64_t batch = 0, seq = 0, heads = 0, head_dim = 0;
  const void* x = nullptr;
  int64_t stride_b = 0, stride_t = 0, stride_h = 0;  // x's strides in elements (the head dim's is 1)
  void* y = nullptr;                                  // contiguous [B, T, H, D], x's dtype
  const float* cos = nullptr;                         // [≥ seq, head_dim / 2], contiguous
  const float* sin = nullptr;
  bool inverse = false;                               // the backward's rotation by −θ
};

// Head dims the kernel takes: even, D / 2 a multiple of 4, at most 512.
bool rope_supported(int64_t head_dim);

// Throws std::invalid_argument for bad parameters (naming what is wrong) and std::runtime_error for a launch error.
void rope_apply(const RopeParams& p, Stream stream);

}  // namespace sigtrain::kernels
