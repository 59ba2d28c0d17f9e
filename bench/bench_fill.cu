#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace {
__global__ void fill_normal_kernel(__nv_bfloat16* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    const float u1 = ((x & 0xFFFFFF) + 1) / 16777217.f, u2 = ((x >> 24) & 0xFFFFFF) / 16777216.f;
    p[i] = __float2bfloat16(sqrtf(-2.f * logf(u1)) * cospif(2.f * u2));
  }
}
}  // namespace

void bench_fill_normal(void* p, size_t n, uint64_t seed) {
  fill_normal_kernel<<<1024, 256>>>(static_cast<__nv_bfloat16*>(p), n, seed);
}
