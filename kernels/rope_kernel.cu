// Fused RoPE (rope_kernel.h): one thread per 4 rotation pairs of one (b, t, h) row.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "rope_kernel.h"

namespace sigtrain::kernels {
namespace {

// Four elements, aligned as one 8-byte (bf16 / fp16) or 16-byte (fp32) access.
template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

template <typename T>
__global__ void __launch_bounds__(256) rope_kernel(RopeParams p) {
  const int64_t half = p.head_dim / 2, chunks = half / 4;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t rows = p.batch * p.seq * p.heads;
  if (idx >= rows * chunks) return;
  const int64_t row = idx / chunks, j = (idx % chunks) * 4;
  const int64_t h = row % p.heads, t = (row / p.heads) % p.seq, b = row / (p.heads * p.seq);
  const T* x = static_cast<const T*>(p.x) + b * p.stride_b + t * p.stride_t + h * p.stride_h;
  T* y = static_cast<T*>(p.y) + row * p.head_dim;
  const Vec4<T> a = *reinterpret_cast<const Vec4<T>*>(x + j);         // x₁[j … j+3]
  const Vec4<T> c = *reinterpret_cast<const Vec4<T>*>(x + half + j);  // x₂[j … j+3]
  const float4 cs = *reinterpret_cast<const float4*>(p.cos + t * half + j);
  float4 sn = *reinterpret_cast<const float4*>(p.sin + t * half + j);
  if (p.inverse) sn = make_float4(-sn.x, -sn.y, -sn.z, -sn.w);  // rotation by −θ
  const float cos4[4] = {cs.x, cs.y, cs.z, cs.w}, sin4[4] = {sn.x, sn.y, sn.z, sn.w};
  Vec4<T> o1, o2;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float x1 = to_float(a.v[k]), x2 = to_float(c.v[k]);
    o1.v[k] = from_float<T>(x1 * cos4[k] - x2 * sin4[k]);
    o2.v[k] = from_float<T>(x1 * sin4[k] + x2 * cos4[k]);
  }
  *reinterpret_cast<Vec4<T>*>(y + j) = o1;
  *reinterpret_cast<Vec4<T>*>(y + half + j) = o2;
}

size_t element_bytes(ElementType d) { return d == ElementType::kFP32 ? 4 : 2; }

void check(const RopeParams& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("fused rope: " + what); };
  if (!rope_supported(p.head_dim))
    fail("head dim " + std::to_string(p.head_dim) + " unsupported (even, half of it a multiple of 4, at most 512)");
  if (p.batch < 0 || p.seq < 0 || p.heads < 0) fail("negative sizes");
  if (!p.x || !p.y || !p.cos || !p.sin) fail("x, y, cos and sin are required");
  const auto vec_bytes = 4 * element_bytes(p.dtype);
  auto aligned = [](const void* ptr, size_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; };
  if (!aligned(p.x, vec_bytes) || !aligned(p.y, vec_bytes) || !aligned(p.cos, 16) || !aligned(p.sin, 16))
    fail("x and y must be aligned to 4 elements, cos and sin to 16 bytes");
  if (p.stride_b % 4 || p.stride_t % 4 || p.stride_h % 4) fail("x's strides must be multiples of 4 elements");
}

}  // namespace

bool rope_supported(int64_t head_dim) { return head_dim > 0 && head_dim % 8 == 0 && head_dim <= 512; }

void rope_apply(const RopeParams& p, Stream stream) {
  check(p);
  const int64_t threads = p.batch * p.seq * p.heads * (p.head_dim / 8);
  if (threads == 0) return;
  const auto blocks = static_cast<unsigned>((threads + 255) / 256);
  switch (p.dtype) {
    case ElementType::kBF16: rope_kernel<__nv_bfloat16><<<blocks, 256, 0, stream>>>(p); break;
    case ElementType::kFP16: rope_kernel<__half><<<blocks, 256, 0, stream>>>(p); break;
    case ElementType::kFP32: rope_kernel<float><<<blocks, 256, 0, stream>>>(p); break;
  }
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw std::runtime_error(std::string("fused rope: kernel launch failed: ") + cudaGetErrorString(err));
}

}  // namespace sigtrain::kernels
