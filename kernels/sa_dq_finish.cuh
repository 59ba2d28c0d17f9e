// The Hopper backward's dQ epilogue, inside the backward kernel instead of a second kernel after it.
//
// dQ_accum (fp32) is summed by atomics from every k-tile that sees a q-tile. Each (sequence, q-head, q-tile) has a
// counter in the workspace: once a CTA's atomics are visible it adds the number of its k-tiles that reached the tile,
// and the CTA that completes the count (dq_tile_contributors) scales and converts the tile into dQ. Meant to overlap
// the conversion's memory traffic with the other CTAs' products; measured slower than the separate kernel
// (docs/kernel-notebook.md v13: probably because the converting CTA's loads are latency-bound and the last CTA of a
// (sequence, head) converts most of its tiles), so it is a tuning variant of the Hopper backward (3) only.
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
  const int64_t dq_row0 = si.varlen_q ? si.q_row0 : static_cast<int64_t>(b) * p.n_q;
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
    constexpr int CH = D / 8;  // 8 fp32 in, one 16-byte vector of T out
    for (int w = 0; w < n_won; ++w) {
      const int i = won[w] / n_m, q0 = (m_lo + won[w] % n_m) * BM, h = h_begin + i;
      T* dq = static_cast<T*>(p.dq) + seq_base(p.dq_strides, si.varlen_q, b, si.q_row0, h);
      const int rows = min(BM, si.Lq - q0);
      for (int e = tid; e < rows * CH; e += THREADS) {
        const int r = q0 + e / CH, cc = e % CH;
        const float4* acc = reinterpret_cast<const float4*>(kp.dq_accum + ((dq_row0 + r) * p.heads_q + h) * D + cc * 8);
        const float4 lo = __ldcg(acc), hi = __ldcg(acc + 1);  // from L2, where the atomics went
        *reinterpret_cast<uint4*>(dq + static_cast<int64_t>(r) * p.dq_strides.seq + cc * 8) =
            pack8_scaled<T>(lo, hi, kp.scale);
      }
    }
    named_barrier_sync(barrier_id, THREADS);  // the list is read before the next chunk rewrites it
  }
}

}  // namespace sigtrain::kernels::detail
