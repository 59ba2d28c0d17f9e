#pragma once
// What the fused kernels take of a LibTorch tensor: the element type (kernels/element_type.h) of its dtype (fp32,
// bf16 and fp16 map, every other dtype has none: the ops' applicability checks refuse those tensors), and whether its
// data is aligned for their vector loads.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>

#include "kernels/element_type.h"

namespace sigtrain::models {

inline std::optional<kernels::ElementType> kernel_element_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kernels::ElementType::kFP32;
    case at::kBFloat16: return kernels::ElementType::kBF16;
    case at::kHalf: return kernels::ElementType::kFP16;
    default: return std::nullopt;
  }
}

// Whether t's first element sits at a multiple of `bytes` (the kernels' 16-byte vector loads, cuBLASLt's aligned
// algorithms).
inline bool aligned_to(const at::Tensor& t, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % static_cast<uintptr_t>(bytes) == 0;
}

}  // namespace sigtrain::models
