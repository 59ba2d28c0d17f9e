// Device primitives shared by the sigmoid-attention kernels: mma.sync / ldmatrix / cp.async wrappers, the sigmoid,
// sequence bookkeeping (lengths, offsets, bias) and the per-element score modifiers (mask, ALiBi, key bias).
// The matrix-multiply mechanics (this file's first half) are kept apart from the masking / bias logic (second half)
// so that a Hopper port (wgmma / TMA) can reuse the latter unchanged.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "sigmoid_attention.h"

namespace sigtrain::kernels::detail {

// ------------------------------------------------------------------------------------------------------------------
// Kernel parameters: the public struct plus resolved values.
// ------------------------------------------------------------------------------------------------------------------
struct KParams {
  SigmoidAttentionParams p;
  float scale;       // resolved softmax-style scale
  int group;         // H_q / H_kv
  float* dq_accum;   // backward: fp32 [B*n_q (or packed rows), H_q, D]
  int* dq_tile_count; // backward, Hopper tuning variants 3, 8: [B, H_q, ceil(n_q / BM)] contributions (sa_dq_finish.cuh)
};

// ------------------------------------------------------------------------------------------------------------------
// Matrix-multiply mechanics (sm_80+ mma.sync m16n8k16, ldmatrix, cp.async).
// ------------------------------------------------------------------------------------------------------------------
template <typename T> struct MmaType;
template <> struct MmaType<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};
template <> struct MmaType<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
};

// 8 fp32 values, scaled, as one 16-byte vector of T.
template <typename T>
__device__ __forceinline__ uint4 pack8_scaled(float4 lo, float4 hi, float s) {
  return make_uint4(MmaType<T>::pack(lo.x * s, lo.y * s), MmaType<T>::pack(lo.z * s, lo.w * s),
                    MmaType<T>::pack(hi.x * s, hi.y * s), MmaType<T>::pack(hi.z * s, hi.w * s));
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// 16-byte async copy global->shared; zero-fills when !pred (src is then not read).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool pred) {
  const int n = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Copy a ROWS x D tile (rows row0.. of a [rows, D] view with row stride `stride` elements) into shared memory with
// row pitch D+8 elements (16-byte padding: ldmatrix reads 8 rows at one column without bank conflicts). Rows >= L
// are zero-filled (never read), so padding garbage (even NaN) never reaches the tensor cores.
template <int ROWS, int D, int THREADS, typename T>
__device__ __forceinline__ void load_tile_async(T* s, const T* g, int64_t stride, int row0, int L, int tid) {
  constexpr int CH = D / 8;
  constexpr int TOTAL = ROWS * CH;
#pragma unroll
  for (int it = 0; it < (TOTAL + THREADS - 1) / THREADS; ++it) {
    const int c = tid + it * THREADS;
    if (TOTAL % THREADS == 0 || c < TOTAL) {
      const int r = c / CH, cc = c % CH;
      const int gr = row0 + r;
      const bool ok = gr < L;
      const T* src = ok ? g + static_cast<int64_t>(gr) * stride + cc * 8 : g;
      cp_async16(smem_u32(s + r * (D + 8) + cc * 8), src, ok);
    }
  }
}

// addr[0] += a, addr[1] += b (one 8-byte atomic on sm_90).
__device__ __forceinline__ void atomic_add2(float* addr, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(addr), make_float2(a, b));
#else
  atomicAdd(addr, a);
  atomicAdd(addr + 1, b);
#endif
}

// Write zeros to rows [r_begin, r_end) of a [rows, D] view (D contiguous, 16-byte aligned rows).
template <int D, int THREADS, typename T>
__device__ __forceinline__ void zero_rows(T* g, int64_t stride, int r_begin, int r_end, int tid) {
  constexpr int CH = D / 8;
  const int total = (r_end - r_begin) * CH;
  for (int c = tid; c < total; c += THREADS) {
    const int r = r_begin + c / CH, cc = c % CH;
    *reinterpret_cast<uint4*>(g + static_cast<int64_t>(r) * stride + cc * 8) = make_uint4(0, 0, 0, 0);
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Sigmoid.
// ------------------------------------------------------------------------------------------------------------------
__device__ __forceinline__ float tanh_approx(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
// sigma(s) for a full score s.
template <bool EXACT>
__device__ __forceinline__ float sigmoid_of(float s) {
  if constexpr (EXACT) {
    return 1.f / (1.f + expf(-s));
  } else {
    return fmaf(0.5f, tanh_approx(0.5f * s), 0.5f);
  }
}
// Fast path without extra biases: sigma(acc*scale + b) from pre-folded constants (see ScoreConsts).
struct ScoreConsts {
  float mul, add;  // tanh mode: 0.5*scale, 0.5*b; exact mode: scale, b
};
template <bool EXACT>
__device__ __forceinline__ ScoreConsts score_consts(float scale, float b) {
  if constexpr (EXACT) return {scale, b};
  else return {0.5f * scale, 0.5f * b};
}
template <bool EXACT>
__device__ __forceinline__ float sigmoid_fast(float acc, ScoreConsts c) {
  const float x = fmaf(acc, c.mul, c.add);
  if constexpr (EXACT) {
    return 1.f / (1.f + expf(-x));
  } else {
    return fmaf(0.5f, tanh_approx(x), 0.5f);
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Sequence bookkeeping and score modifiers (layout-independent: a Hopper port reuses these).
// ------------------------------------------------------------------------------------------------------------------
struct SeqInfo {
  int q_row0, k_row0;  // first row of this sequence in the (packed) row numbering; 0 when padded
  int Lq, Lk;          // valid lengths
  bool varlen_q, varlen_k;
};

__device__ __forceinline__ SeqInfo seq_info(const SigmoidAttentionParams& p, int b) {
  SeqInfo s;
  s.varlen_q = p.cu_seqlens_q != nullptr;
  s.varlen_k = p.cu_seqlens_k != nullptr;
  if (s.varlen_q) {
    s.q_row0 = p.cu_seqlens_q[b];
    s.Lq = p.cu_seqlens_q[b + 1] - s.q_row0;
  } else {
    s.q_row0 = 0;
    s.Lq = p.seq_lens_q ? p.seq_lens_q[b] : p.n_q;
  }
  if (s.varlen_k) {
    s.k_row0 = p.cu_seqlens_k[b];
    s.Lk = p.cu_seqlens_k[b + 1] - s.k_row0;
  } else {
    s.k_row0 = 0;
    s.Lk = p.seq_lens_k ? p.seq_lens_k[b] : p.n_k;
  }
  s.Lq = max(0, min(s.Lq, p.n_q));
  s.Lk = max(0, min(s.Lk, p.n_k));
  return s;
}

// Element offset of (sequence b, row 0, head h) in a tensor.
__device__ __forceinline__ int64_t seq_base(const Strides& st, bool varlen, int b, int row0, int h) {
  return (varlen ? 0 : static_cast<int64_t>(b) * st.batch) + static_cast<int64_t>(row0) * st.seq +
         static_cast<int64_t>(h) * st.head;
}

__device__ __forceinline__ float seq_bias(const SigmoidAttentionParams& p, int b, int Lk) {
  switch (p.bias_mode) {
    case BiasMode::kScalar: return p.bias_scalar;
    case BiasMode::kPerSequence: return p.bias_per_seq[b];
    default: return Lk > 0 ? -logf(static_cast<float>(Lk)) : 0.f;
  }
}

// Per-(query, key) score context for the slow path: masking + ALiBi + key bias.
struct ScoreMod {
  float scale, b;       // score = acc*scale + b + extras
  float slope;          // ALiBi slope (0 when none)
  const float* kb;      // key bias row of this sequence (nullptr when none)
  int off;              // causal / ALiBi alignment: L_k - L_q
  int Lk;
  bool causal;
  bool alibi;
  // ALiBi or a key bias: every score takes the per-element path.
  __device__ __forceinline__ bool has_mods() const { return alibi || kb != nullptr; }
  // Score of (query i, key j) (local indices) or -inf when masked; returns whether the entry is valid.
  __device__ __forceinline__ bool valid(int i, int j) const { return j < Lk && (!causal || j <= i + off); }
  __device__ __forceinline__ float score(float acc, int i, int j) const {
    float s = fmaf(acc, scale, b);
    if (alibi) s -= slope * fabsf(static_cast<float>(i + off - j));
    if (kb) s += kb[j];
    return s;
  }
};

// The score context of sequence b (query head h: its ALiBi slope; the backward sets the slope per head itself).
__device__ __forceinline__ ScoreMod make_score_mod(const KParams& kp, int b, const SeqInfo& si, int h) {
  const SigmoidAttentionParams& p = kp.p;
  ScoreMod mod;
  mod.scale = kp.scale;
  mod.b = seq_bias(p, b, si.Lk);
  mod.alibi = p.alibi_slopes != nullptr;
  mod.slope = mod.alibi ? p.alibi_slopes[h] : 0.f;
  mod.kb = p.key_bias ? p.key_bias + static_cast<int64_t>(b) * p.key_bias_stride_batch : nullptr;
  mod.off = si.Lk - si.Lq;
  mod.Lk = si.Lk;
  mod.causal = p.causal;
  return mod;
}

// ---- The forward kernels' shared prologue: how many k-tiles a q-tile meets, and the output rows it only zeroes ----

// Forward (both kernel families): the number of BN-key tiles the q-tile [q0, q0 + BM) (q0 < Lq) reads: every key of
// its sequence, causally those up to its last row's diagonal. 0: it sees no key (O = 0).
template <int BM, int BN>
__host__ __device__ __forceinline__ int fwd_k_tiles(bool causal, const SeqInfo& si, int q0) {
  int k_end = si.Lk;
  if (causal) k_end = min(k_end, q0 + BM + (si.Lk - si.Lq));
  return k_end > 0 ? (k_end + BN - 1) / BN : 0;
}
// O = 0 on the q-tile's rows that the output layout gives this CTA: up to n_q padded, up to Lq packed (the rows past
// a packed sequence are the next one's). The kernels call it at each of their two early exits and keep both: merged
// exits cost 3-9 % (notebook v10). The guard is redundant but not idle: each call site's condition folds it to what
// the inline prologue tested, and the kernels compile to the same SASS as before; without it they did not (v15).
template <int D, int BM, int THREADS, typename T>
__device__ __forceinline__ void fwd_zero_o_tile(const SigmoidAttentionParams& p, const SeqInfo& si, T* optr, int q0,
                                                int tid) {
  if (!si.varlen_q || q0 < si.Lq)
    zero_rows<D, THREADS>(optr, p.o_strides.seq, q0, min(q0 + BM, si.varlen_q ? si.Lq : p.n_q), tid);
}

// ---- The backward kernels' shared prologue: which q-tiles a CTA meets, and the rows it only zeroes --------------

// Backward (both kernel families): the q-tiles [m_begin, m_begin + nm) of BM queries that see the k-tile
// [k0, k0 + BN) (causal: from the first query on its diagonal), and row_end, the end of the dK / dV rows this CTA
// writes. nm <= 0 means nothing to compute: dK = dV = 0 for those rows, written here when `writes_zeros` (with a
// head-dim split only one CTA of the k-tile does).
struct QTileSpan {
  int m_begin, nm, row_end;
};
// The span alone (no memory touched; host and device, so that a CI test checks the dQ epilogue's counting against it).
template <int BM, int BN>
__host__ __device__ __forceinline__ QTileSpan bwd_q_span(bool causal, int n_k, const SeqInfo& si, int k0) {
  QTileSpan span;
  span.row_end = si.varlen_k ? min(k0 + BN, si.Lk) : min(k0 + BN, n_k);
  const int first_q = k0 - (si.Lk - si.Lq);  // smallest query row that sees key k0 (causal)
  span.m_begin = causal && first_q > 0 ? first_q / BM : 0;
  span.nm = k0 >= si.Lk ? 0 : (si.Lq + BM - 1) / BM - span.m_begin;
  return span;
}
template <int D, int BM, int BN, int THREADS, typename T>
__device__ __forceinline__ QTileSpan bwd_q_tiles(const SigmoidAttentionParams& p, const SeqInfo& si, int k0,
                                                 T* dkptr, T* dvptr, bool writes_zeros, int tid) {
  const QTileSpan span = bwd_q_span<BM, BN>(p.causal, p.n_k, si, k0);
  // Keys past the sequence belong to this CTA only in the padded layout.
  if (span.nm <= 0 && writes_zeros && (k0 < si.Lk || !si.varlen_k)) {
    zero_rows<D, THREADS>(dkptr, p.dk_strides.seq, k0, span.row_end, tid);
    zero_rows<D, THREADS>(dvptr, p.dv_strides.seq, k0, span.row_end, tid);
  }
  return span;
}

// sigma (and masking) of one S tile in place. acc[4*nt + e] holds (row r0 + g + 8*(e>>1), key k0 + 8*nt + 2*tg +
// (e&1)) -- the wgmma (and mma.sync) accumulator layout.
template <int BN, bool EXACT>
__device__ __forceinline__ void sigmoid_tile(float (&acc)[BN / 2], const ScoreMod& mod, const ScoreConsts& sc,
                                             bool has_mods, bool need_mask, int r0, int k0, int g, int tg) {
  if (!has_mods) {
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = sigmoid_fast<EXACT>(acc[i], sc);
    if (need_mask) {
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (!mod.valid(r0 + g + 8 * (e >> 1), k0 + nt * 8 + 2 * tg + (e & 1))) acc[4 * nt + e] = 0.f;
    }
  } else {
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = r0 + g + 8 * (e >> 1), jj = k0 + nt * 8 + 2 * tg + (e & 1);
        acc[4 * nt + e] = mod.valid(i, jj) ? sigmoid_of<EXACT>(mod.score(acc[4 * nt + e], i, jj)) : 0.f;
      }
  }
}

}  // namespace sigtrain::kernels::detail
