// Bias gradients as column sums (bias_grad_kernel.h).
//
// Pass 1: a block of 32 × 8 threads owns 256 columns (8 per thread, one 16-byte vector) of kRowsPerPartial rows;
// thread row ty sums rows ty, ty + 8, ... in order, the block adds its 8 row sums in order and writes one workspace
// row. Pass 2: 32 columns × 32 slices per block sum the workspace's rows, each slice a fixed stride of them, then the
// slices in order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "bias_grad_kernel.h"

namespace sigtrain::kernels {
namespace {

constexpr int kVec = 8;                          // elements per 16-byte vector
constexpr int kColVecs = 32;                     // threadIdx.x: 256 columns per block
constexpr int kRowGroups = 8;                    // threadIdx.y
constexpr int kTileCols = kColVecs * kVec;       // 256
constexpr int64_t kRowsPerPartial = 128;         // fixed: the partial sums do not depend on the GPU

template <typename T>
struct Vec;
template <>
struct Vec<__nv_bfloat16> {
  using Pair = __nv_bfloat162;
  __device__ static float2 to_float2(Pair v) { return __bfloat1622float2(v); }
  __device__ static Pair from_float2(float2 v) { return __floats2bfloat162_rn(v.x, v.y); }
};
template <>
struct Vec<__half> {
  using Pair = __half2;
  __device__ static float2 to_float2(Pair v) { return __half22float2(v); }
  __device__ static Pair from_float2(float2 v) { return __floats2half2_rn(v.x, v.y); }
};

template <typename T>
__device__ __forceinline__ void load8(const T* p, float v[8]) {
  const uint4 q = *reinterpret_cast<const uint4*>(p);
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = Vec<T>::to_float2(*reinterpret_cast<const typename Vec<T>::Pair*>(&words[i]));
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
}

// Rounds v to T in place (the value dpre holds) and stores it.
template <typename T>
__device__ __forceinline__ void round_store8(T* p, float v[8]) {
  uint32_t words[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const typename Vec<T>::Pair h = Vec<T>::from_float2(make_float2(v[2 * i], v[2 * i + 1]));
    words[i] = *reinterpret_cast<const uint32_t*>(&h);
    const float2 f = Vec<T>::to_float2(h);
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
  *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
}

// GELU's tanh form 0.5·x·(1 + tanh(β(x + κx³))), β = sqrt(2/π), κ = 0.044715, and its derivative, in fp32 (as
// LibTorch's gelu / gelu_backward compute them for bf16 / fp16).
struct GeluTanh {
  float value, derivative;
};
__device__ __forceinline__ GeluTanh gelu_tanh(float x) {
  constexpr float kBeta = 0.7978845608028654f;
  constexpr float kKappa = 0.044715f;
  const float x_sq = x * x;
  const float t = tanhf(kBeta * (x + kKappa * x_sq * x));
  return {0.5f * x * (1.f + t), 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kBeta * (1.f + 3.f * kKappa * x_sq)};
}

// kGelu: the GELU form; kGeluOut: it also writes GELU(pre).
template <typename T, bool kGelu, bool kGeluOut = false>
__global__ void __launch_bounds__(kColVecs * kRowGroups) bias_grad_partial_kernel(BiasGradParams p) {
  __shared__ float4 row_sums[kRowGroups][kTileCols / 4];
  const int64_t col = (static_cast<int64_t>(blockIdx.y) * kColVecs + threadIdx.x) * kVec;
  const int64_t row_begin = static_cast<int64_t>(blockIdx.x) * kRowsPerPartial;
  const int64_t row_end = row_begin + kRowsPerPartial < p.rows ? row_begin + kRowsPerPartial : p.rows;
  float acc[kVec] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (col < p.cols) {
    const T* grad = static_cast<const T*>(p.grad);
#pragma unroll 4
    for (int64_t row = row_begin + threadIdx.y; row < row_end; row += kRowGroups) {
      const int64_t at = row * p.cols + col;
      float g[kVec];
      load8(grad + at, g);
      if constexpr (kGelu) {
        float pre[kVec];
        load8(static_cast<const T*>(p.gelu_pre) + at, pre);
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          const GeluTanh gelu = gelu_tanh(pre[j]);
          g[j] *= gelu.derivative;
          pre[j] = gelu.value;
        }
        round_store8(static_cast<T*>(p.gelu_grad) + at, g);
        if constexpr (kGeluOut) round_store8(static_cast<T*>(p.gelu_out) + at, pre);
      }
#pragma unroll
      for (int j = 0; j < kVec; ++j) acc[j] += g[j];
    }
  }
  row_sums[threadIdx.y][2 * threadIdx.x] = make_float4(acc[0], acc[1], acc[2], acc[3]);
  row_sums[threadIdx.y][2 * threadIdx.x + 1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
  __syncthreads();
  const int tile_col = threadIdx.y * kColVecs + threadIdx.x;  // 0 .. 255, one column each
  const int64_t out_col = static_cast<int64_t>(blockIdx.y) * kTileCols + tile_col;
  if (out_col >= p.cols) return;
  const float* sums = reinterpret_cast<const float*>(row_sums);
  float total = 0.f;
#pragma unroll
  for (int g = 0; g < kRowGroups; ++g) total += sums[g * kTileCols + tile_col];
  p.workspace[static_cast<int64_t>(blockIdx.x) * p.cols + out_col] = total;
}

__global__ void __launch_bounds__(1024) bias_grad_finish_kernel(BiasGradParams p, int64_t n_partials) {
  __shared__ float slice_sums[32][33];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x % 32;
  const int slice = threadIdx.x / 32;
  float s = 0.f;
  if (col < p.cols)
    for (int64_t w = slice; w < n_partials; w += 32) s += p.workspace[w * p.cols + col];
  slice_sums[slice][threadIdx.x % 32] = s;
  __syncthreads();
  if (slice != 0 || col >= p.cols) return;
  float total = 0.f;
  for (int k = 0; k < 32; ++k) total += slice_sums[k][threadIdx.x];
  p.bias_grad[col] = total;
}

int64_t partials(int64_t rows) { return (rows + kRowsPerPartial - 1) / kRowsPerPartial; }

void check(const BiasGradParams& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("bias gradient: " + what); };
  if (!bias_grad_supported(p.cols)) fail("cols " + std::to_string(p.cols) + " unsupported (a positive multiple of 8)");
  if (p.rows < 0) fail("rows must be >= 0");
  if (!p.grad || !p.bias_grad || !p.workspace) fail("grad, bias_grad and the workspace are required");
  if (!p.gelu_pre != !p.gelu_grad) fail("gelu_pre and gelu_grad come together");
  if (p.gelu_out && !p.gelu_pre) fail("gelu_out needs gelu_pre");
  if (p.dtype != ElementType::kBF16 && p.dtype != ElementType::kFP16) fail("dtype must be bf16 or fp16");
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  if (!aligned(p.grad) || !aligned(p.gelu_pre) || !aligned(p.gelu_grad) || !aligned(p.gelu_out))
    fail("tensors must be 16-byte aligned");
}

template <typename T>
void launch(const BiasGradParams& p, Stream stream) {
  const dim3 grid(static_cast<unsigned>(partials(p.rows)), static_cast<unsigned>((p.cols + kTileCols - 1) / kTileCols));
  const dim3 block(kColVecs, kRowGroups);
  if (p.gelu_out) bias_grad_partial_kernel<T, true, true><<<grid, block, 0, stream>>>(p);
  else if (p.gelu_pre) bias_grad_partial_kernel<T, true><<<grid, block, 0, stream>>>(p);
  else bias_grad_partial_kernel<T, false><<<grid, block, 0, stream>>>(p);
  bias_grad_finish_kernel<<<static_cast<unsigned>((p.cols + 31) / 32), 1024, 0, stream>>>(p, partials(p.rows));
}

}  // namespace

bool bias_grad_supported(int64_t cols) { return cols > 0 && cols % kVec == 0 && cols / kTileCols < 65535; }

int64_t bias_grad_workspace_floats(int64_t rows, int64_t cols) { return partials(rows) * cols; }

void bias_grad(const BiasGradParams& p, Stream stream) {
  check(p);
  if (p.rows == 0) {
    // An empty sum is zero (no kernel needed, but the output must still be written).
    if (const cudaError_t err = cudaMemsetAsync(p.bias_grad, 0, static_cast<size_t>(p.cols) * sizeof(float), stream);
        err != cudaSuccess)
      throw std::runtime_error(std::string("bias gradient: memset failed: ") + cudaGetErrorString(err));
    return;
  }
  if (p.dtype == ElementType::kBF16) launch<__nv_bfloat16>(p, stream);
  else launch<__half>(p, stream);
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw std::runtime_error(std::string("bias gradient: kernel launch failed: ") + cudaGetErrorString(err));
}

}  // namespace sigtrain::kernels
