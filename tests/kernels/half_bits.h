#pragma once
// Host-side 16-bit storage for the kernel tests: a float rounded to bf16 or fp16 (to nearest even) as its bits, and
// back.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

namespace sigtrain::kernels::test_support {

inline uint16_t to_16bit(float f, bool bf16) {
  uint16_t u;
  if (bf16) {
    const __nv_bfloat16 v = __float2bfloat16_rn(f);
    std::memcpy(&u, &v, 2);
  } else {
    const __half v = __float2half_rn(f);
    std::memcpy(&u, &v, 2);
  }
  return u;
}

inline float from_16bit(uint16_t u, bool bf16) {
  if (bf16) {
    __nv_bfloat16 v;
    std::memcpy(&v, &u, 2);
    return __bfloat162float(v);
  }
  __half v;
  std::memcpy(&v, &u, 2);
  return __half2float(v);
}

}  // namespace sigtrain::kernels::test_support
