// The Hopper backward's dQ epilogue, inside the backward kernel instead of a second kernel after it (tuning variants).
//
// dQ_accum (fp32) is summed by atomics from every k-tile that sees a q-tile. Each (sequence, q-head, q-tile) has a
// counter in the workspace: once a CTA's atomics are visible it adds the number of its k-tiles that reached the tile,
// and the CTA that completes the count (dq_tile_contributors) scales and converts the tile into dQ.
//   v13 (variant 3, dq_finish_tiles): the consumers count and convert after their last q-tile. Measured slower than
//     the separate kernel (docs/kernel-notebook.md v13: probably because the converting CTA's loads are latency-bound
//     and the last CTA of a (sequence, head) converts most of its tiles at its end).
//   v17 (variant 8, dq_helper_tiles): the consumers hand each q-tile's dQ to the producer warpgroup's three idle warps
//     through shared memory; those add it to dQ_accum (16-byte atomics), count it and convert the tile when they
//     complete its count, while the consumers go on with the next q-tile: the conversions spread over the kernel,
//     and the consumers issue shared-memory stores instead of the atomics.
#pragma once

#include <climits>

#include "sa_async.cuh"
#include "sa_common.cuh"

namespace sigtrain::kernels::detail {

// Number of k-tiles of BN keys whose backward pass accumulates into q-tile m (BM queries): the k-tiles with keys
// (k0 < L_k) whose q-tile span (bwd_q_span) reaches m, i.e. k0 < (m + 1)·BM + L_k − L_q when causal. (Host and
// device: a CI test checks it and dq_first_reached_row against bwd_q_span.)
template <int BM, int BN>
__host__ __device__ __forceinline__ int dq_tile_contributors(bool causal, const SeqInfo& si, int m) {
  const int key_end = causal ? min(si.Lk, (m + 1) * BM + si.Lk - si.Lq) : si.Lk;
  return key_end > 0 ? (key_end + BN - 1) / BN : 0;
}

// The counters of one (sequence, q-head): ceil(n_q / BM) ints.
template <int BM>
__device__ __forceinline__ int* dq_tile_counts(const KParams& kp, int b, int h) {
  const int n_mtiles = (kp.p.n_q + BM - 1) / BM;
  return kp.dq_tile_count + (static_cast<int64_t>(b) * kp.p.heads_q + h) * n_mtiles;
}

// The first dQ row of the first q-tile with a contributor: L_q when no k-tile has keys; with causal and L_q > L_k
// the start of the q-tile of the first row that sees a key (row L_q − L_k); else 0.
template <int BM>
__host__ __device__ __forceinline__ int dq_first_reached_row(bool causal, const SeqInfo& si) {
  if (si.Lk <= 0) return si.Lq;
  return causal && si.Lq > si.Lk ? (si.Lq - si.Lk) / BM * BM : 0;
}

// dQ rows no k-tile accumulates into, written as 0: the q-tiles before the first with a contributor and, in the
// padded layout, rows [L_q, n_q). One CTA per (sequence, kv head) calls this, for the `group` q-heads h_begin...
template <int D, int BM, int THREADS, typename T>
__device__ void dq_zero_unreached_rows(const SigmoidAttentionParams& p, const SeqInfo& si, int b, int h_begin,
                                       int group, int tid) {
  const int first_reached = dq_first_reached_row<BM>(p.causal, si);
  for (int i = 0; i < group; ++i) {
    T* dq = static_cast<T*>(p.dq) + seq_base(p.dq_strides, si.varlen_q, b, si.q_row0, h_begin + i);
    zero_rows<D, THREADS>(dq, p.dq_strides.seq, 0, first_reached, tid);
    if (!si.varlen_q) zero_rows<D, THREADS>(dq, p.dq_strides.seq, si.Lq, p.n_q, tid);
  }
}

// dQ rows [q0, q0 + rows) of q-head h = scale * dQ_accum, by THREADS threads (tid 0 ..), reading the accumulator from
// L2, where the atomics went.
template <int D, int THREADS, typename T>
__device__ __forceinline__ void dq_convert_tile(const KParams& kp, const SeqInfo& si, int b, int h, int q0, int rows,
                                                int tid) {
  const SigmoidAttentionParams& p = kp.p;
  const int64_t dq_row0 = si.varlen_q ? si.q_row0 : static_cast<int64_t>(b) * p.n_q;
  T* dq = static_cast<T*>(p.dq) + seq_base(p.dq_strides, si.varlen_q, b, si.q_row0, h);
  constexpr int CH = D / 8;  // 8 fp32 in, one 16-byte vector of T out
  auto src = [&](int e) {
    return reinterpret_cast<const float4*>(kp.dq_accum + ((dq_row0 + q0 + e / CH) * p.heads_q + h) * D + e % CH * 8);
  };
  auto dst = [&](int e) {
    return reinterpret_cast<uint4*>(dq + static_cast<int64_t>(q0 + e / CH) * p.dq_strides.seq + e % CH * 8);
  };
  // Two items per thread in flight: the loads of both are issued before either store (L2 latency, not bandwidth,
  // bounds a few warps' loop).
  const int total = rows * CH;
  for (int e = tid; e < total; e += 2 * THREADS) {
    const int e2 = e + THREADS;
    const float4 lo = __ldcg(src(e)), hi = __ldcg(src(e) + 1);
    float4 lo2 = make_float4(0.f, 0.f, 0.f, 0.f), hi2 = lo2;
    if (e2 < total) lo2 = __ldcg(src(e2)), hi2 = __ldcg(src(e2) + 1);
    *dst(e) = pack8_scaled<T>(lo, hi, kp.scale);
    if (e2 < total) *dst(e2) = pack8_scaled<T>(lo2, hi2, kp.scale);
  }
}

// Called by the THREADS threads that issued this CTA's dQ atomics, after their last one. The CTA's k-tiles reached
// q-tiles [m_begin0, ceil(L_q / BM)) and (a second k-tile; INT_MAX when none) [m_begin1, ...) of the q-heads
// h_begin.. h_begin + group - 1. `scratch`: THREADS + 1 ints of shared memory no one else uses any more.
template <int D, int BM, int BN, int THREADS, typename T>
__device__ void dq_finish_tiles(const KParams& kp, const SeqInfo& si, int b, int h_begin, int group, int m_begin0,
                                int m_begin1, int* scratch, int tid, int barrier_id) {
  const SigmoidAttentionParams& p = kp.p;
  int* won = scratch;              // pairs whose count this CTA completed, this chunk
  int& n_won = scratch[THREADS];
  __threadfence();  // this thread's dQ atomics, visible on the GPU before any count below says they are there
  named_barrier_sync(barrier_id, THREADS);  // and every product that read `scratch` (as dS^T) is complete

  const int m_lo = min(m_begin0, m_begin1), n_m = (si.Lq + BM - 1) / BM - m_lo, n_pairs = group * n_m;
  for (int base = 0; base < n_pairs; base += THREADS) {
    if (tid == 0) n_won = 0;
    named_barrier_sync(barrier_id, THREADS);
    const int pair = base + tid;
    if (pair < n_pairs) {
      const int i = pair / n_m, m = m_lo + pair % n_m;
      const int mine = (m >= m_begin0) + (m >= m_begin1);
      int* count = dq_tile_counts<BM>(kp, b, h_begin + i) + m;
      if (mine > 0 && atomicAdd(count, mine) + mine == dq_tile_contributors<BM, BN>(p.causal, si, m)) {
        __threadfence();  // and the other CTAs' atomics are seen before this CTA reads the tile
        won[atomicAdd(&n_won, 1)] = pair;
      }
    }
    named_barrier_sync(barrier_id, THREADS);
    for (int w = 0; w < n_won; ++w) {
      const int q0 = (m_lo + won[w] % n_m) * BM;
      dq_convert_tile<D, THREADS, T>(kp, si, b, h_begin + won[w] / n_m, q0, min(BM, si.Lq - q0), tid);
    }
    named_barrier_sync(barrier_id, THREADS);  // the list is read before the next chunk rewrites it
  }
}

// ---- v17: the dQ tile through shared memory to the producer warpgroup's idle warps --------------------------------

// Byte offset of dQ tile element (row, col) in shared memory: [BM rows][D] fp32, each row's 16-byte chunks permuted by
// chunk ^ (row & 7), so that the consumers' 8-byte stores (a wgmma accumulator: 8 rows x 4 column pairs per
// instruction) and the helpers' 16-byte loads (consecutive chunks) are free of bank conflicts.
template <int D>
__host__ __device__ __forceinline__ uint32_t dq_smem_offset(int row, int col) {
  static_assert(D / 4 >= 8, "the swizzle permutes 8 chunks of a row");
  return static_cast<uint32_t>(row * D * 4 + ((((col >> 2) ^ (row & 7))) << 4) + (col & 3) * 4);
}

// A consumer warpgroup's dQ accumulator (wgmma layout: this thread's rows row_lo, row_lo + 8 of the tile, columns
// nq0 + 8 nt + 2 tg, +1) into the shared dQ tile.
template <int D, int NQ>
__device__ __forceinline__ void wg_bwd_dq_to_smem(uint32_t sdq, const float (&acc_dq)[NQ / 2], int row_lo, int nq0,
                                                  int tg) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr)
#pragma unroll
    for (int nt = 0; nt < NQ / 8; ++nt) {
      const int r = row_lo + 8 * hr, c = nq0 + 8 * nt + 2 * tg;
      asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(sdq + dq_smem_offset<D>(r, c)),
                   "f"(acc_dq[4 * nt + 2 * hr]), "f"(acc_dq[4 * nt + 2 * hr + 1])
                   : "memory");
    }
}

// dst[0..3] += v (one 16-byte atomic on sm_90).
__device__ __forceinline__ void atomic_add4(float* dst, float4 v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float4*>(dst), v);
#else
  atomicAdd(dst, v.x);
  atomicAdd(dst + 1, v.y);
  atomicAdd(dst + 2, v.z);
  atomicAdd(dst + 3, v.w);
#endif
}

// The HELPERS threads (hid 0 ..) of the producer warpgroup's idle warps, for every q-tile the consumers hand over in
// the order they compute them (`works`: the CTA's k-tiles with their q-tile spans; per k-tile the q-heads of the GQA
// group, then the q-tiles): wait until the tile is in `sdq` (mbarrier `bar_full`, one arrival per consumer warp), add
// it to dQ_accum, release `sdq` (mbarrier `bar_free`, one arrival), then count the tile and, if this CTA completes
// its count, convert it (`won`: a shared int). The counting is v13's (each writer's own fence, a barrier, then the
// count), which ran correct on the GPU.
template <int D, int BM, int BN, int HELPERS, typename T, typename KTileWork>
__device__ void dq_helper_tiles(const KParams& kp, const SeqInfo& si, int b, int hk, int group,
                                const KTileWork* works, int n_items, uint32_t sdq, uint32_t bar_full,
                                uint32_t bar_free, int* won, int hid, int barrier_id) {
  const SigmoidAttentionParams& p = kp.p;
  const int64_t dq_row0 = si.varlen_q ? si.q_row0 : static_cast<int64_t>(b) * p.n_q;
  constexpr int CPR = D / 4;  // 16-byte chunks per row
  int t = 0;
  for (int item = 0; item < n_items; ++item) {
    const int m_begin = works[item].span.m_begin, nm = works[item].span.nm;
    for (int it = 0; it < group * nm; ++it, ++t) {
      const int h = hk * group + it / nm, m = m_begin + it % nm, q0 = m * BM, rows = min(BM, si.Lq - q0);
      mbar_wait(bar_full, t & 1);
      float* acc = kp.dq_accum + ((dq_row0 + q0) * p.heads_q + h) * static_cast<int64_t>(D);
      for (int i = hid; i < rows * CPR; i += HELPERS) {
        const int r = i / CPR, pc = i % CPR;
        float4 v;
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                     : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                     : "r"(sdq + static_cast<uint32_t>(r * D * 4 + pc * 16))
                     : "memory");
        atomic_add4(acc + static_cast<int64_t>(r) * p.heads_q * D + ((pc ^ (r & 7)) << 2), v);
      }
      named_barrier_sync(barrier_id, HELPERS);  // every helper has read the tile: the consumers may write the next
      if (hid == 0) mbar_arrive(bar_free);
      __threadfence();  // this helper's atomics, visible on the GPU before the count below says they are there
      named_barrier_sync(barrier_id, HELPERS);
      if (hid == 0) {
        *won = atomicAdd(dq_tile_counts<BM>(kp, b, h) + m, 1) + 1 == dq_tile_contributors<BM, BN>(p.causal, si, m);
        if (*won) __threadfence();  // and the other CTAs' atomics are seen before the tile is read
      }
      named_barrier_sync(barrier_id, HELPERS);
      if (*won) dq_convert_tile<D, HELPERS, T>(kp, si, b, h, q0, rows, hid);
    }
  }
}

}  // namespace sigtrain::kernels::detail
