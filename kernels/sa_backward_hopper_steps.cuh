// The per-q-tile steps of the Hopper backward kernel (sa_backward_tma.cuh), apart from its load and synchronisation
// mechanics.
// Layouts: K, V tiles [BN keys, D], Q, dO tiles [BM queries, D], dS^T [BM/64][BN keys][64 queries], all SW128;
// warpgroup w owns keys 64w..64w+63; this thread's keys in the tile are key_lo and key_lo + 8.
#pragma once

#include "sa_common.cuh"
#include "sa_hopper.cuh"

namespace sigtrain::kernels::detail {

// S^T = K Q^T and dP^T = V dO^T for the warpgroup's 64 keys x BM queries (waits for both).
template <int D, int BM, int BN, typename T>
__device__ __forceinline__ void wg_bwd_scores(float (&acc_s)[BM / 2], float (&acc_dp)[BM / 2], uint32_t k_wg,
                                              uint32_t v_wg, uint32_t sQ, uint32_t sdO) {
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t step = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qstep = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
    Wgmma<BM, T>::ss(acc_s, kmajor_desc(k_wg + step), kmajor_desc(sQ + qstep), kk > 0 ? 1 : 0);
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t step = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qstep = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
    Wgmma<BM, T>::ss(acc_dp, kmajor_desc(v_wg + step), kmajor_desc(sdO + qstep), kk > 0 ? 1 : 0);
  }
  wgmma_commit();
  wgmma_wait<0>();
  fence_regs(acc_s);
  fence_regs(acc_dp);
}

// In place: acc_s <- P^T = sigma(S^T), acc_dp <- dS^T = P(1-P) dP^T; element e of column block nt is
// (key key0 + 8*(e>>1), query q0 + 8*nt + 2*tg + (e&1)). Masked entries are 0 as long as dP^T is finite there: the
// kernels zero the K / V rows past L_k and the Q / dO rows past L_q in shared memory.
template <int BM, bool EXACT>
__device__ __forceinline__ void wg_bwd_pointwise(float (&acc_s)[BM / 2], float (&acc_dp)[BM / 2], ScoreMod& mod,
                                                 const ScoreConsts& sc, bool fast, const float* alibi_slopes, int h,
                                                 int key0, int q0, int tg) {
  if (fast) {
#pragma unroll
    for (int i = 0; i < BM / 2; ++i) {
      const float pr = sigmoid_fast<EXACT>(acc_s[i], sc);
      const float pd = pr * acc_dp[i];
      acc_s[i] = pr;
      acc_dp[i] = fmaf(-pr, pd, pd);
    }
  } else {
    mod.slope = mod.alibi ? alibi_slopes[h] : 0.f;  // of this q-head
#pragma unroll
    for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int jj = key0 + 8 * (e >> 1);
        const int i = q0 + nt * 8 + 2 * tg + (e & 1);
        const bool valid = mod.valid(i, jj);
        const float pr = valid ? sigmoid_of<EXACT>(mod.score(acc_s[4 * nt + e], i, jj)) : 0.f;
        const float pd = pr * acc_dp[4 * nt + e];
        acc_s[4 * nt + e] = pr;
        acc_dp[4 * nt + e] = fmaf(-pr, pd, pd);
      }
  }
}

// The packed dS^T fragments -> the SW128 dS^T tile (conflict-free: the swizzle spreads a warp's 8 keys over 8 chunks).
template <int BM, int BN>
__device__ __forceinline__ void wg_bwd_store_dst(uint32_t sdS, const uint32_t (&pd)[BM / 16][4], int key_lo, int tg) {
#pragma unroll
  for (int kk = 0; kk < BM / 16; ++kk)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      // pd[kk][e]: key key_lo + 8*(e&1), queries 16*kk + 8*(e>>1) + 2*tg, +1
      const int key = key_lo + 8 * (e & 1), q = 16 * kk + 8 * (e >> 1) + 2 * tg;
      const uint32_t addr =
          sdS + (q >> 6) * (BN * 128) + key * 128 + ((((q & 63) >> 3) ^ (key & 7)) << 4) + (q & 7) * 2;
      asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(pd[kk][e]) : "memory");
    }
}

// Issue dV += P^T dO and dK += dS^T Q (A from registers, B transposed from shared memory); one commit group.
template <int D, int BM, typename T>
__device__ __forceinline__ void wg_bwd_dkdv(float (&acc_dv)[D / 2], float (&acc_dk)[D / 2],
                                            uint32_t (&pa)[BM / 16][4], uint32_t (&pd)[BM / 16][4], uint32_t sQ,
                                            uint32_t sdO) {
  fence_regs(pa);
  fence_regs(pd);
  fence_regs(acc_dv);
  fence_regs(acc_dk);
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < BM / 16; ++kk)
    Wgmma<D, T>::rs_bt(acc_dv, pa[kk], mnmajor_desc(sdO + kk * 16 * 128, BM * 128), 1);
#pragma unroll
  for (int kk = 0; kk < BM / 16; ++kk)
    Wgmma<D, T>::rs_bt(acc_dk, pd[kk], mnmajor_desc(sQ + kk * 16 * 128, BM * 128), 1);
  wgmma_commit();
}

// Issue dQ_tile = dS K for queries mq0.. and head-dim columns nq0.. (A and B transposed from shared memory).
template <int NQ, int BN, typename T>
__device__ __forceinline__ void wg_bwd_dq(float (&acc_dq)[NQ / 2], uint32_t sdS, uint32_t sK, int mq0, int nq0) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    const uint64_t da = mnmajor_desc(sdS + (mq0 >> 6) * (BN * 128) + kk * 16 * 128, BN * 128);
    const uint64_t db = mnmajor_desc(sK + (nq0 >> 6) * (BN * 128) + kk * 16 * 128, BN * 128);
    Wgmma<NQ, T>::ss_tt(acc_dq, da, db, kk > 0 ? 1 : 0);
  }
  wgmma_commit();
}

// dQ_accum[row, h, nq0..] += acc_dq for this thread's two rows (row_lo, row_lo + 8) below L_q.
template <int D, int NQ>
__device__ __forceinline__ void wg_bwd_dq_accumulate(float* dq_accum, const float (&acc_dq)[NQ / 2], int64_t dq_row0,
                                                     int row_lo, int Lq, int heads_q, int h, int nq0, int tg) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int r = row_lo + 8 * hr;
    if (r < Lq) {
      float* dst = dq_accum + ((dq_row0 + r) * heads_q + h) * static_cast<int64_t>(D) + nq0 + 2 * tg;
#pragma unroll
      for (int nt = 0; nt < NQ / 8; ++nt) atomic_add2(dst + nt * 8, acc_dq[4 * nt + 2 * hr], acc_dq[4 * nt + 2 * hr + 1]);
    }
  }
}

// dK (scaled) and dV of this thread's two key rows; rows in [L_k, row_end) (padded layout) are written as 0.
template <int D, typename T>
__device__ __forceinline__ void wg_bwd_write_dkdv(const SigmoidAttentionParams& p, float scale, T* dkptr, T* dvptr,
                                                  const float (&acc_dk)[D / 2], const float (&acc_dv)[D / 2],
                                                  int row_lo, int Lk, int row_end, int tg) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int r = row_lo + 8 * hr;
    if (r < row_end) {
      const bool valid = r < Lk;
      T* dkrow = dkptr + static_cast<int64_t>(r) * p.dk_strides.seq + 2 * tg;
      T* dvrow = dvptr + static_cast<int64_t>(r) * p.dv_strides.seq + 2 * tg;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const uint32_t vk =
            valid ? MmaType<T>::pack(acc_dk[4 * dt + 2 * hr] * scale, acc_dk[4 * dt + 2 * hr + 1] * scale) : 0u;
        const uint32_t vv = valid ? MmaType<T>::pack(acc_dv[4 * dt + 2 * hr], acc_dv[4 * dt + 2 * hr + 1]) : 0u;
        *reinterpret_cast<uint32_t*>(dkrow + dt * 8) = vk;
        *reinterpret_cast<uint32_t*>(dvrow + dt * 8) = vv;
      }
    }
  }
}

}  // namespace sigtrain::kernels::detail
