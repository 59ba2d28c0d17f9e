// Fused cross-entropy forward (lse, loss per row) and backward (dx from the logits and lse), cross_entropy.h.
//
// One row per group of warps: 16 warps for large vocabularies (a GPT-2 row of 50304 bf16 is ~100 KB, ~12 16-byte
// vectors per thread), one warp for small ones (classifiers: 10–1000 classes, 4 rows per block). Loads are 16-byte
// vectors when the base pointer and row stride allow it, else scalar. exp via exp2 of a log2e-scaled argument
// (ex2.approx, relative error ~2^-22: far below bf16 input rounding; tests/kernels/test_cross_entropy.cpp bounds it).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "cross_entropy_kernel.h"

namespace sigtrain::kernels {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <typename T> __device__ __forceinline__ float to_float(T v);
template <> __device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float(float v) { return v; }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ __nv_bfloat16 from_float(float v) { return __float2bfloat16(v); }
template <> __device__ __forceinline__ __half from_float(float v) { return __float2half(v); }
template <> __device__ __forceinline__ float from_float(float v) { return v; }

// Running (max, sum of exp(x - max)) in the base-2 domain: x is pre-scaled by log2e.
struct MaxSum {
  float m = -INFINITY, s = 0.f;
  __device__ __forceinline__ void add_block(float block_max, const float* x2, int n) {
    const float m_new = fmaxf(m, block_max);
    if (m_new == -INFINITY) return;  // every value so far is -inf
    float acc = s * exp2f(m - m_new);
    for (int i = 0; i < n; ++i) acc += exp2f(x2[i] - m_new);
    m = m_new;
    s = acc;
  }
  __device__ __forceinline__ void merge(float m2, float s2) {
    const float m_new = fmaxf(m, m2);
    if (m_new == -INFINITY) return;
    s = s * exp2f(m - m_new) + s2 * exp2f(m2 - m_new);
    m = m_new;
  }
};

__device__ __forceinline__ MaxSum warp_merge(MaxSum a) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, a.m, offset);
    const float s2 = __shfl_xor_sync(0xffffffffu, a.s, offset);
    a.merge(m2, s2);
  }
  return a;
}

// VEC elements per load (16 bytes when vectorised, 1 otherwise).
template <typename T, int VEC> struct alignas(sizeof(T) * VEC) Vec { T v[VEC]; };

// dx_rj = g · (exp(x_rj − lse) − [j = t]) over one row, by the kThreads threads of the row (lane_in_row). Each
// element is read and then written by the same thread, so dx may alias x (the forward's in-place gradient).
// `staged`: the row's vectors as the thread loaded them into shared memory (the forward), read instead of x.
template <typename T, int VEC, int kThreads>
__device__ __forceinline__ void write_grad_row(const T* x, T* dx, int64_t vocab, int64_t t, bool ignored, float g,
                                               float lse, int lane_in_row, const Vec<T, VEC>* staged = nullptr) {
  const float lse2 = lse * kLog2e;
  auto grad_at = [&](float xv, int64_t j) {
    return ignored ? 0.f : g * (exp2f(xv * kLog2e - lse2) - (j == t ? 1.f : 0.f));
  };
  const int64_t n_vec = vocab / VEC;
  const auto* xv = reinterpret_cast<const Vec<T, VEC>*>(x);
  auto* dxv = reinterpret_cast<Vec<T, VEC>*>(dx);
  for (int64_t i = lane_in_row; i < n_vec; i += kThreads) {
    const Vec<T, VEC> chunk = staged ? staged[i] : xv[i];
    Vec<T, VEC> out;
#pragma unroll
    for (int j = 0; j < VEC; ++j) out.v[j] = from_float<T>(grad_at(to_float(chunk.v[j]), i * VEC + j));
    dxv[i] = out;
  }
  for (int64_t i = n_vec * VEC + lane_in_row; i < vocab; i += kThreads)
    dx[i] = from_float<T>(grad_at(to_float(x[i]), i));
}

// WRITE_GRAD: the forward also writes the gradient with g_r = 1 into p.grad_logits (may alias the logits), after
// the row's lse is known. With `stage` (one row a block), the first pass keeps the row's vectors in dynamic shared
// memory and the second reads them from there: a GPT-2 row is ~100 KB, and re-reading it from L2 missed (with four
// 100 KB rows per SM in flight, 53 MB against a 50 MB L2: the forward then read the logits twice from HBM).
template <typename T, int VEC, int WARPS_PER_ROW, int ROWS_PER_BLOCK, bool WRITE_GRAD>
__global__ void __launch_bounds__(32 * WARPS_PER_ROW * ROWS_PER_BLOCK)
    cross_entropy_forward_kernel(CrossEntropyParams p, bool stage) {
  extern __shared__ __align__(16) unsigned char stage_raw[];
  auto* staged = reinterpret_cast<Vec<T, VEC>*>(stage_raw);
  constexpr int kThreads = 32 * WARPS_PER_ROW;
  const int lane_in_row = threadIdx.x % kThreads;
  const int row_in_block = threadIdx.x / kThreads;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * ROWS_PER_BLOCK + row_in_block;
  __shared__ float shared_m[ROWS_PER_BLOCK][WARPS_PER_ROW], shared_s[ROWS_PER_BLOCK][WARPS_PER_ROW];
  const bool active = row < p.rows;
  const T* x = static_cast<const T*>(p.logits) + (active ? row : 0) * p.row_stride;

  MaxSum acc;
  const int64_t n_vec = p.vocab / VEC;
  if (active) {
    const auto* xv = reinterpret_cast<const Vec<T, VEC>*>(x);
    // kBatch loads in flight per thread before the first is used: with two staged blocks per SM (half the threads of
    // the plain forward) one load at a time left HBM at ~2.2 TB/s (H100 profile, docs/benchmarks.md). Same order of
    // accumulation as one at a time.
    constexpr int kBatch = 4;
    for (int64_t i0 = lane_in_row; i0 < n_vec; i0 += kBatch * kThreads) {
      Vec<T, VEC> chunks[kBatch];
#pragma unroll
      for (int k = 0; k < kBatch; ++k)
        if (i0 + k * kThreads < n_vec) chunks[k] = xv[i0 + k * kThreads];
#pragma unroll
      for (int k = 0; k < kBatch; ++k) {
        const int64_t i = i0 + k * kThreads;
        if (i >= n_vec) break;
        if (WRITE_GRAD && stage) staged[i] = chunks[k];  // read back by this same thread only
        float x2[VEC], block_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          x2[j] = to_float(chunks[k].v[j]) * kLog2e;
          block_max = fmaxf(block_max, x2[j]);
        }
        acc.add_block(block_max, x2, VEC);
      }
    }
    for (int64_t i = n_vec * VEC + lane_in_row; i < p.vocab; i += kThreads) {  // tail
      const float x2 = to_float(x[i]) * kLog2e;
      acc.add_block(x2, &x2, 1);
    }
  }
  acc = warp_merge(acc);
  if constexpr (WARPS_PER_ROW > 1) {
    const int warp = lane_in_row / 32;
    if (lane_in_row % 32 == 0) {
      shared_m[row_in_block][warp] = acc.m;
      shared_s[row_in_block][warp] = acc.s;
    }
    __syncthreads();
    if (lane_in_row == 0)
      for (int w = 1; w < WARPS_PER_ROW; ++w) acc.merge(shared_m[row_in_block][w], shared_s[row_in_block][w]);
  }
  __shared__ float shared_lse[ROWS_PER_BLOCK];
  if (active && lane_in_row == 0) {
    const float lse = (acc.m + log2f(acc.s)) * kLn2;
    p.lse[row] = lse;
    const int64_t t = p.targets[row];
    float loss = 0.f;
    if (t != p.ignore_index) loss = (t >= 0 && t < p.vocab) ? lse - to_float(x[t]) : NAN;  // bad target: NaN, no read
    p.loss[row] = loss;
    if constexpr (WRITE_GRAD) shared_lse[row_in_block] = lse;
  }
  if constexpr (WRITE_GRAD) {
    __syncthreads();  // the row's lse to all its threads, and x[t] read before any thread overwrites the row
    if (!active) return;
    const int64_t t = p.targets[row];
    const bool ignored = t == p.ignore_index;
    const float g = ignored ? 0.f : ((t >= 0 && t < p.vocab) ? 1.f : NAN);
    write_grad_row<T, VEC, kThreads>(x, static_cast<T*>(p.grad_logits) + row * p.grad_row_stride, p.vocab, t,
                                     ignored, g, shared_lse[row_in_block], lane_in_row, stage ? staged : nullptr);
  }
}

template <typename T, int VEC, int WARPS_PER_ROW, int ROWS_PER_BLOCK>
__global__ void __launch_bounds__(32 * WARPS_PER_ROW * ROWS_PER_BLOCK)
    cross_entropy_backward_kernel(CrossEntropyParams p) {
  constexpr int kThreads = 32 * WARPS_PER_ROW;
  const int lane_in_row = threadIdx.x % kThreads;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * ROWS_PER_BLOCK + threadIdx.x / kThreads;
  if (row >= p.rows) return;
  const T* x = static_cast<const T*>(p.logits) + row * p.row_stride;
  T* dx = static_cast<T*>(p.grad_logits) + row * p.grad_row_stride;
  const int64_t t = p.targets[row];
  const bool ignored = t == p.ignore_index;
  // A target out of range poisons the row (the forward's loss is NaN too).
  const float g = ignored ? 0.f : ((t >= 0 && t < p.vocab) ? p.grad_loss[row * p.grad_loss_stride] : NAN);
  write_grad_row<T, VEC, kThreads>(x, dx, p.vocab, t, ignored, g, p.lse[row], lane_in_row);
}

enum class Pass { kForward, kForwardWithGrad, kBackward };

// Two 512-thread blocks with a staged row each on one SM (227 KB of shared memory): rows up to 56K bf16 values.
constexpr size_t kMaxStageBytes = 112 * 1024;

void check(const CrossEntropyParams& p, Pass pass) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("cross_entropy: " + what); };
  if (p.rows < 0 || p.vocab <= 0) fail("rows must be >= 0 and vocab > 0");
  if (p.row_stride < p.vocab) fail("row_stride must be >= vocab");
  if (p.rows > 0x7fffffffLL * 4) fail("too many rows for one launch");
  if (!p.logits || !p.targets || !p.lse) fail("logits, targets and lse are required");
  if (pass != Pass::kBackward && !p.loss) fail("loss is required");
  if (pass == Pass::kBackward && !p.grad_loss) fail("backward needs grad_loss");
  if (pass != Pass::kForward && (!p.grad_logits || p.grad_row_stride < p.vocab))
    fail("the gradient needs grad_logits and grad_row_stride >= vocab");
  if (pass == Pass::kForwardWithGrad && p.grad_logits == p.logits && p.grad_row_stride != p.row_stride)
    fail("an in-place gradient (grad_logits == logits) needs grad_row_stride == row_stride");
}

template <typename T, Pass kPass>
void launch(const CrossEntropyParams& p, Stream stream) {
  if (p.rows == 0) return;
  constexpr int kVec = 16 / sizeof(T);
  const auto addr = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); };
  bool vectorised = addr(p.logits) % 16 == 0 && (p.row_stride * sizeof(T)) % 16 == 0;
  if (kPass != Pass::kForward)
    vectorised = vectorised && addr(p.grad_logits) % 16 == 0 && (p.grad_row_stride * sizeof(T)) % 16 == 0;
  const bool small_vocab = p.vocab <= 2048;
  // The forward with the gradient stages a large row in shared memory where two such blocks fit an SM.
  const size_t row_bytes = static_cast<size_t>(p.vocab / kVec) * 16;
  const bool stage = kPass == Pass::kForwardWithGrad && vectorised && !small_vocab && row_bytes <= kMaxStageBytes;
  auto run = [&](auto kernel, int rows_per_block, int threads, size_t smem_bytes) {
    const auto blocks = static_cast<unsigned>((p.rows + rows_per_block - 1) / rows_per_block);
    if constexpr (kPass == Pass::kBackward) {
      kernel<<<blocks, threads, 0, stream>>>(p);
    } else {
      if (smem_bytes > 48 * 1024)
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes));
      kernel<<<blocks, threads, smem_bytes, stream>>>(p, smem_bytes > 0);
    }
  };
  constexpr bool kGrad = kPass == Pass::kForwardWithGrad;
  auto pick = [](auto backward, auto forward) {
    if constexpr (kPass == Pass::kBackward) return backward;
    else return forward;
  };
#define SIGTRAIN_CE_KERNEL(VEC, WARPS, ROWS) \
  pick(cross_entropy_backward_kernel<T, VEC, WARPS, ROWS>, cross_entropy_forward_kernel<T, VEC, WARPS, ROWS, kGrad>)
  if (small_vocab) {
    if (vectorised) run(SIGTRAIN_CE_KERNEL(kVec, 1, 4), 4, 128, 0);
    else run(SIGTRAIN_CE_KERNEL(1, 1, 4), 4, 128, 0);
  } else {
    if (vectorised) run(SIGTRAIN_CE_KERNEL(kVec, 16, 1), 1, 512, stage ? row_bytes : 0);
    else run(SIGTRAIN_CE_KERNEL(1, 16, 1), 1, 512, 0);
  }
#undef SIGTRAIN_CE_KERNEL
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw std::runtime_error(std::string("cross_entropy: kernel launch failed: ") + cudaGetErrorString(err));
}

template <Pass kPass>
void dispatch(const CrossEntropyParams& p, Stream stream) {
  check(p, kPass);
  switch (p.dtype) {
    case ElementType::kBF16: return launch<__nv_bfloat16, kPass>(p, stream);
    case ElementType::kFP16: return launch<__half, kPass>(p, stream);
    case ElementType::kFP32: return launch<float, kPass>(p, stream);
  }
  throw std::invalid_argument("cross_entropy: unknown dtype");
}

}  // namespace

void cross_entropy_forward(const CrossEntropyParams& p, Stream stream) {
  if (p.grad_logits) dispatch<Pass::kForwardWithGrad>(p, stream);
  else dispatch<Pass::kForward>(p, stream);
}
void cross_entropy_backward(const CrossEntropyParams& p, Stream stream) { dispatch<Pass::kBackward>(p, stream); }

}  // namespace sigtrain::kernels
