#pragma once
// The fused kernels' element type (kernels/element_type.h) of a LibTorch dtype: fp32, bf16 and fp16 map, every
// other dtype has none (the ops' applicability checks refuse those tensors).
#include <c10/core/ScalarType.h>

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

}  // namespace sigtrain::models
