// Fused LayerNorm / RMSNorm forward and backward (norm_kernel.h).
//
// One warp per row, the row held in registers (CHUNKS 4-element vectors per lane, dim ≤ 2048): the forward reads x
// once and writes y once in its own dtype; the backward reads x and dy once and writes dx once. dγ / dβ: each warp
// of the backward keeps per-column partial sums in shared memory over the rows it visits (a grid-stride loop over
// a fixed number of blocks), each block writes its warps' sum to the workspace, and a second kernel sums the
// workspace's columns in a fixed order; the residual branch's bias gradient (ddelta_bias) the same way.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "norm_kernel.h"

namespace sigtrain::kernels {
namespace {

constexpr int kMaxDim = 2048;  // 16 vectors per lane
constexpr int kWarpsPerBlock = 8;
// Backward blocks at most: two per SM of a 132-SM H100 / H200, so that all are resident at once (one wave). A
// constant, not the device's SM count, so that dγ / dβ (summed per block, then over blocks) are the same numbers on
// every GPU.
constexpr int kBackwardBlocks = 264;
// The backward's per-column sums: dγ, dβ and the residual branch's bias gradient (norm_kernel.h).
constexpr int kSums = 3;

// 4 consecutive elements in, as floats / out, from floats.
__device__ __forceinline__ void load4(const float* p, float v[4]) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void load4(const __nv_bfloat16* p, float v[4]) {
  const uint2 q = *reinterpret_cast<const uint2*>(p);
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.y));
  v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void load4(const __half* p, float v[4]) {
  const uint2 q = *reinterpret_cast<const uint2*>(p);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&q.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&q.y));
  v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void store4(float* p, const float v[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, const float v[4]) {
  __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
  uint2 q;
  q.x = *reinterpret_cast<uint32_t*>(&a);
  q.y = *reinterpret_cast<uint32_t*>(&b);
  *reinterpret_cast<uint2*>(p) = q;
}
__device__ __forceinline__ void store4(__half* p, const float v[4]) {
  __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
  uint2 q;
  q.x = *reinterpret_cast<uint32_t*>(&a);
  q.y = *reinterpret_cast<uint32_t*>(&b);
  *reinterpret_cast<uint2*>(p) = q;
}

// v as x's dtype would hold it.
template <typename T>
__device__ __forceinline__ float round_to(float v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(__float2bfloat16_rn(v));
  else if constexpr (std::is_same_v<T, __half>) return __half2float(__float2half_rn(v));
  else return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename TX, typename TY, int CHUNKS, bool RMS>
__global__ void __launch_bounds__(32 * kWarpsPerBlock) norm_forward_kernel(NormParams p) {
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= p.rows) return;
  const int n_chunks = static_cast<int>(p.dim / 4);
  const TX* x = static_cast<const TX*>(p.x) + row * p.dim;
  const TY* delta = p.delta ? static_cast<const TY*>(p.delta) + row * p.dim : nullptr;
  TX* x_sum = p.delta ? static_cast<TX*>(p.sum) + row * p.dim : nullptr;
  float v[CHUNKS][4];
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < CHUNKS; ++c) {
    const int chunk = lane + c * 32;
    if (chunk < n_chunks) {
      load4(x + chunk * 4, v[c]);
      if (delta) {
        // The sum is rounded to x's dtype before it is normalised, as the unfused add + norm would see it.
        float d[4];
        load4(delta + chunk * 4, d);
        if (p.delta_bias) {
          float b[4];
          load4(p.delta_bias + chunk * 4, b);
#pragma unroll
          for (int j = 0; j < 4; ++j) d[j] += b[j];
        }
#pragma unroll
        for (int j = 0; j < 4; ++j) v[c][j] = round_to<TX>(v[c][j] + d[j]);
        store4(x_sum + chunk * 4, v[c]);
      }
      sum += (v[c][0] + v[c][1]) + (v[c][2] + v[c][3]);
    } else {
      v[c][0] = v[c][1] = v[c][2] = v[c][3] = 0.f;
    }
  }
  const float inv_dim = 1.f / static_cast<float>(p.dim);
  const float mean = RMS ? 0.f : warp_sum(sum) * inv_dim;
  float sq = 0.f;
#pragma unroll
  for (int c = 0; c < CHUNKS; ++c)
    if (lane + c * 32 < n_chunks)
#pragma unroll
      for (int j = 0; j < 4; ++j) sq += (v[c][j] - mean) * (v[c][j] - mean);
  const float rstd = rsqrtf(warp_sum(sq) * inv_dim + p.eps);
  if (lane == 0) {
    if (!RMS) p.mean[row] = mean;
    p.rstd[row] = rstd;
  }
  TY* y = static_cast<TY*>(p.y) + row * p.dim;
#pragma unroll
  for (int c = 0; c < CHUNKS; ++c) {
    const int chunk = lane + c * 32;
    if (chunk >= n_chunks) continue;
    float g[4], b[4] = {0.f, 0.f, 0.f, 0.f}, out[4];
    load4(p.gamma + chunk * 4, g);
    if (p.beta) load4(p.beta + chunk * 4, b);
#pragma unroll
    for (int j = 0; j < 4; ++j) out[j] = (v[c][j] - mean) * rstd * g[j] + b[j];
    store4(y + chunk * 4, out);
  }
}

// Backward rows: one warp per row as in the forward. The warp's dγ / dβ (and with ddelta_bias, Σ dx) partial sums
// live in shared memory ([warps][kSums][dim] floats, each lane owning its columns: no atomics), not in registers,
// and γ is re-read per row from L1: that keeps the kernel near 100 registers (it was 196 with both in registers, one
// block per SM in two waves at a third of HBM's bandwidth) so that all blocks are resident at once. dsum is loaded
// with x and dy, before the row's reductions, so that a row costs one memory round trip, not two.
template <typename TX, typename TY, int CHUNKS, bool RMS>
__global__ void __launch_bounds__(32 * kWarpsPerBlock, CHUNKS <= 8 ? 2 : 1) norm_backward_kernel(NormParams p) {
  extern __shared__ float4 partial_sums[];  // [warps_per_block][kSums][dim / 4]
  const int lane = threadIdx.x % 32;
  const int warps_per_block = blockDim.x / 32;
  const int n_chunks = static_cast<int>(p.dim / 4);
  const float inv_dim = 1.f / static_cast<float>(p.dim);
  float4* acc_gamma = partial_sums + static_cast<int64_t>(threadIdx.x / 32) * kSums * n_chunks;
  float4* acc_beta = acc_gamma + n_chunks;
  float4* acc_delta_bias = acc_beta + n_chunks;  // used with p.ddelta_bias only
  for (int chunk = lane; chunk < n_chunks; chunk += 32)
    acc_gamma[chunk] = acc_beta[chunk] = acc_delta_bias[chunk] = make_float4(0, 0, 0, 0);
  const int64_t row_step = static_cast<int64_t>(gridDim.x) * warps_per_block;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps_per_block + threadIdx.x / 32; row < p.rows;
       row += row_step) {
    const TX* x = static_cast<const TX*>(p.x) + row * p.dim;
    const TY* dy = static_cast<const TY*>(p.dy) + row * p.dim;
    const TX* dsum = p.dsum ? static_cast<const TX*>(p.dsum) + row * p.dim : nullptr;
    const float mean = RMS ? 0.f : p.mean[row], rstd = p.rstd[row];
    float xhat[CHUNKS][4], g[CHUNKS][4], r[CHUNKS][4];
    float s1 = 0.f, s2 = 0.f;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
      const int chunk = lane + c * 32;
      if (chunk >= n_chunks) continue;
      float xv[4], dyv[4], gamma[4];
      load4(x + chunk * 4, xv);
      load4(dy + chunk * 4, dyv);
      if (dsum) load4(dsum + chunk * 4, r[c]);
      load4(p.gamma + chunk * 4, gamma);
      float4 ag = acc_gamma[chunk], ab = acc_beta[chunk];
      float* ag_j = &ag.x;
      float* ab_j = &ab.x;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        xhat[c][j] = (xv[j] - mean) * rstd;
        g[c][j] = dyv[j] * gamma[j];
        s1 += g[c][j];
        s2 += g[c][j] * xhat[c][j];
        ag_j[j] += dyv[j] * xhat[c][j];
        ab_j[j] += dyv[j];
      }
      acc_gamma[chunk] = ag;
      acc_beta[chunk] = ab;
    }
    const float mean_g = RMS ? 0.f : warp_sum(s1) * inv_dim;
    const float mean_gx = warp_sum(s2) * inv_dim;
    TX* dx = static_cast<TX*>(p.dx) + row * p.dim;
    TY* ddelta = p.ddelta ? static_cast<TY*>(p.ddelta) + row * p.dim : nullptr;
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
      const int chunk = lane + c * 32;
      if (chunk >= n_chunks) continue;
      float out[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) out[j] = rstd * (g[c][j] - mean_g - xhat[c][j] * mean_gx);
      if (dsum) {
        // __fadd_rn: never contracted into an FMA with the multiply above, so dx is bit for bit the norm's dx plus
        // the stream's gradient, as the unfused add's backward sums them (fused_ops.add_norm changes no number).
#pragma unroll
        for (int j = 0; j < 4; ++j) out[j] = __fadd_rn(out[j], r[c][j]);
      }
      store4(dx + chunk * 4, out);
      if (ddelta) store4(ddelta + chunk * 4, out);  // delta's gradient: the sum's, in delta's dtype
      if (p.ddelta_bias) {
        float4 ad = acc_delta_bias[chunk];
        ad.x += out[0]; ad.y += out[1]; ad.z += out[2]; ad.w += out[3];
        acc_delta_bias[chunk] = ad;
      }
    }
  }
  // The block's partial sums, its warps added in order: row blockIdx.x of each of the workspace's kSums parts (dγ,
  // dβ, Σ dx).
  __syncthreads();
  const float* sums = reinterpret_cast<const float*>(partial_sums);
  for (int col = threadIdx.x; col < p.dim; col += blockDim.x) {
    float t[kSums] = {};
    for (int w = 0; w < warps_per_block; ++w)
#pragma unroll
      for (int k = 0; k < kSums; ++k) t[k] += sums[(kSums * w + k) * p.dim + col];
#pragma unroll
    for (int k = 0; k < kSums; ++k)
      if (k == 0 || (k == 1 && p.dbeta) || (k == 2 && p.ddelta_bias))
        p.workspace[(static_cast<int64_t>(k) * gridDim.x + blockIdx.x) * p.dim + col] = t[k];
  }
}

// Column sums of the workspace's kSums parts ([n_partials, dim] each): 32 columns x 32 row slices per block.
__global__ void __launch_bounds__(1024) norm_param_grad_kernel(NormParams p, int n_partials) {
  __shared__ float partial[kSums][32][33];
  const int col = blockIdx.x * 32 + threadIdx.x % 32;
  const int slice = threadIdx.x / 32;
  float* const out[kSums] = {p.dgamma, p.dbeta, p.ddelta_bias};
  float s[kSums] = {};
  if (col < p.dim)
    for (int w = slice; w < n_partials; w += 32)
#pragma unroll
      for (int k = 0; k < kSums; ++k)
        if (out[k]) s[k] += p.workspace[(static_cast<int64_t>(k) * n_partials + w) * p.dim + col];
#pragma unroll
  for (int k = 0; k < kSums; ++k) partial[k][slice][threadIdx.x % 32] = s[k];
  __syncthreads();
  if (slice == 0 && col < p.dim) {
#pragma unroll
    for (int k = 0; k < kSums; ++k) {
      float t = 0.f;
      for (int i = 0; i < 32; ++i) t += partial[k][i][threadIdx.x];
      if (out[k]) out[k][col] = t;
    }
  }
}

// The 4-element vectors each lane holds: the built count at or above dim / 128 (exact for 384, 768, 1024, 1536:
// a rounded-up count costs registers for vectors no lane uses).
int chunks_for(int64_t dim) {
  const int64_t per_lane = (dim / 4 + 31) / 32;
  for (const int c : {1, 2, 3, 4, 6, 8, 12})
    if (c >= per_lane) return c;
  return 16;
}

// Fewer warps per backward block for wide rows keep the shared partial sums at 96 KB a block (two blocks per SM).
int backward_warps_per_block(int64_t dim) { return dim <= 1024 ? kWarpsPerBlock : kWarpsPerBlock / 2; }

size_t backward_shared_bytes(int64_t dim) {
  return static_cast<size_t>(backward_warps_per_block(dim)) * kSums * static_cast<size_t>(dim) * sizeof(float);
}

int backward_blocks(int64_t rows, int64_t dim) {
  const int64_t warps = backward_warps_per_block(dim);
  return static_cast<int>(std::min<int64_t>(kBackwardBlocks, std::max<int64_t>(1, (rows + warps - 1) / warps)));
}

void check(const NormParams& p, bool backward) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("fused norm: " + what); };
  if (!norm_supported(p.dim))
    fail("dim " + std::to_string(p.dim) + " unsupported (a multiple of 4, at most " + std::to_string(kMaxDim) + ")");
  if (p.rows < 0) fail("rows must be >= 0");
  if (!p.x || !p.gamma || !p.rstd || (!p.rms && !p.mean)) fail("x, gamma, rstd (and mean for LayerNorm) are required");
  if (p.rms && p.beta) fail("RMSNorm has no beta");
  if (!backward && !p.y) fail("y is required");
  if (!backward && p.delta && !p.sum) fail("a residual delta needs the sum output");
  if (!backward && p.delta_bias && !p.delta) fail("delta_bias needs delta");
  if (backward && (!p.dy || !p.dx || !p.dgamma || !p.workspace || (p.beta && !p.dbeta)))
    fail("backward needs dy, dx, dgamma (dbeta with beta) and the workspace");
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  if (!aligned(p.x) || (!backward && !aligned(p.y)) || (backward && (!aligned(p.dy) || !aligned(p.dx))) ||
      !aligned(p.delta) || !aligned(p.sum) || !aligned(p.dsum) || !aligned(p.ddelta) || !aligned(p.delta_bias) ||
      !aligned(p.ddelta_bias))  // the optional ones: null passes
    fail("tensors must be 16-byte aligned");
}

template <typename TX, typename TY, bool kBackward, bool RMS, int CHUNKS>
void launch_chunks(const NormParams& p, Stream stream) {
  if constexpr (kBackward) {
    const int blocks = backward_blocks(p.rows, p.dim);
    const size_t shared_bytes = backward_shared_bytes(p.dim);
    auto* kernel = norm_backward_kernel<TX, TY, CHUNKS, RMS>;
    if (shared_bytes > 48 * 1024)  // above the default limit a kernel must opt in (a host-side attribute)
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes));
    kernel<<<blocks, 32 * backward_warps_per_block(p.dim), shared_bytes, stream>>>(p);
    norm_param_grad_kernel<<<static_cast<unsigned>((p.dim + 31) / 32), 1024, 0, stream>>>(p, blocks);
  } else {
    const auto blocks = static_cast<unsigned>((p.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
    norm_forward_kernel<TX, TY, CHUNKS, RMS><<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(p);
  }
}

template <typename TX, typename TY, bool kBackward, bool RMS>
void launch(const NormParams& p, Stream stream) {
  switch (chunks_for(p.dim)) {
    case 1: return launch_chunks<TX, TY, kBackward, RMS, 1>(p, stream);
    case 2: return launch_chunks<TX, TY, kBackward, RMS, 2>(p, stream);
    case 3: return launch_chunks<TX, TY, kBackward, RMS, 3>(p, stream);
    case 4: return launch_chunks<TX, TY, kBackward, RMS, 4>(p, stream);
    case 6: return launch_chunks<TX, TY, kBackward, RMS, 6>(p, stream);
    case 8: return launch_chunks<TX, TY, kBackward, RMS, 8>(p, stream);
    case 12: return launch_chunks<TX, TY, kBackward, RMS, 12>(p, stream);
    default: return launch_chunks<TX, TY, kBackward, RMS, 16>(p, stream);
  }
}

// The dtype pairs built: y in x's dtype, or an fp32 x normalised into bf16 / fp16 (autocast's residual stream).
template <bool kBackward, bool RMS>
void dispatch_x(const NormParams& p, Stream stream) {
  using D = ElementType;
  if (p.x_dtype == D::kFP32 && p.y_dtype == D::kFP32) return launch<float, float, kBackward, RMS>(p, stream);
  if (p.x_dtype == D::kFP32 && p.y_dtype == D::kBF16) return launch<float, __nv_bfloat16, kBackward, RMS>(p, stream);
  if (p.x_dtype == D::kFP32 && p.y_dtype == D::kFP16) return launch<float, __half, kBackward, RMS>(p, stream);
  if (p.x_dtype == D::kBF16 && p.y_dtype == D::kBF16)
    return launch<__nv_bfloat16, __nv_bfloat16, kBackward, RMS>(p, stream);
  if (p.x_dtype == D::kFP16 && p.y_dtype == D::kFP16) return launch<__half, __half, kBackward, RMS>(p, stream);
  throw std::invalid_argument("fused norm: unsupported dtype pair (y in x's dtype, or fp32 x into bf16 / fp16 y)");
}

template <bool kBackward>
void run(const NormParams& p, Stream stream) {
  check(p, kBackward);
  if (p.rows == 0) return;
  if (p.rms) dispatch_x<kBackward, true>(p, stream);
  else dispatch_x<kBackward, false>(p, stream);
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess)
    throw std::runtime_error(std::string("fused norm: kernel launch failed: ") + cudaGetErrorString(err));
}

}  // namespace

bool norm_supported(int64_t dim) { return dim > 0 && dim % 4 == 0 && dim <= kMaxDim; }

int64_t norm_workspace_floats(int64_t rows, int64_t dim) {
  return kSums * static_cast<int64_t>(backward_blocks(rows, dim)) * dim;
}

void norm_forward(const NormParams& p, Stream stream) { run<false>(p, stream); }
void norm_backward(const NormParams& p, Stream stream) { run<true>(p, stream); }

}  // namespace sigtrain::kernels
