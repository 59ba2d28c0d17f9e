// Sigmoid-attention backward kernel for Hopper (sm_90a): wgmma with operands in 128B-swizzled shared memory.
//
// Same decomposition as the mma.sync backward (sa_backward.cuh): CTA = (k-tile of BN = 64*NWG keys, kv head,
// sequence); warpgroup w owns keys 64w..64w+63, keeps K and V in shared memory and dK, dV in fp32 registers, and
// the CTA loops over the q-heads of the GQA group and the q-tiles of BM queries (Q and dO through a 2-stage
// cp.async ring):
//   S^T = K Q^T, dP^T = V dO^T               (wgmma, A = K / V, B = Q / dO, all from shared memory)
//   P^T = sigma(.), dS^T = P(1-P) dP^T       (registers; 0 where masked)
//   dV += P^T dO, dK += dS^T Q               (wgmma, A from registers, B = dO / Q transposed)
//   dS^T -> shared memory; dQ_tile = dS K     (wgmma, both operands transposed from shared memory; each warpgroup
//                                             takes 64 queries (BM = 128) or half of the head dim (BM = 64))
//   dQ_accum (fp32, global) += dQ_tile by atomics; sa_dq_convert_kernel scales and converts it afterwards.
#pragma once

#include "sa_backward.cuh"
#include "sa_hopper.cuh"

namespace sigtrain::kernels::detail {

template <int D, int BM, int NWG>
struct WgBwdConfig {
  static constexpr int kBN = 64 * NWG, kThreads = 128 * NWG;
  // dQ = dS K per warpgroup: NQ columns of the head dim for MQ queries.
  static constexpr int kMQ = 64, kNQ = BM == 64 ? D / NWG : D;
  static_assert(BM == 64 * NWG || BM == 64, "dQ split: BM = 64 x warpgroups (split by query) or 64 (by column)");
  static_assert(kNQ == 64 || kNQ == 128, "dQ tile width must be a wgmma shape we instantiate");
  static constexpr uint32_t kKBytes = kBN * D * 2, kQBytes = BM * D * 2, kSBytes = kBN * BM * 2;
  static constexpr size_t kSmemBytes = 2 * kKBytes + 4 * kQBytes + kSBytes + 1024;  // K, V, 2x(Q, dO), dS^T
};

template <int D, int BM, int NWG, typename T, bool EXACT>
__global__ void __launch_bounds__(NWG * 128, 1) sa_bwd_wgmma_kernel(const KParams kp) {
#if SIGTRAIN_SA_WGMMA_ENABLED
  using Cfg = WgBwdConfig<D, BM, NWG>;
  constexpr int BN = Cfg::kBN, THREADS = Cfg::kThreads, NQ = Cfg::kNQ;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t smem0 = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sK = smem0, sV = sK + Cfg::kKBytes;
  auto sQ = [&](int stage) { return sV + Cfg::kKBytes + stage * 2 * Cfg::kQBytes; };
  auto sdO = [&](int stage) { return sV + Cfg::kKBytes + stage * 2 * Cfg::kQBytes + Cfg::kQBytes; };
  const uint32_t sdS = sV + Cfg::kKBytes + 4 * Cfg::kQBytes;  // dS^T: [BM/64][BN keys][64 queries], SW128

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int wg = warp >> 2;
  const int b = blockIdx.z, hk = blockIdx.y;
  const int k0 = blockIdx.x * BN;
  const SeqInfo si = seq_info(p, b);

  T* dkptr = static_cast<T*>(p.dk) + seq_base(p.dk_strides, si.varlen_k, b, si.k_row0, hk);
  T* dvptr = static_cast<T*>(p.dv) + seq_base(p.dv_strides, si.varlen_k, b, si.k_row0, hk);
  const int row_end = si.varlen_k ? min(k0 + BN, si.Lk) : min(k0 + BN, p.n_k);  // rows this CTA must write
  if (k0 >= si.Lk) {
    if (!si.varlen_k) {
      zero_rows<D, THREADS>(dkptr, p.dk_strides.seq, k0, row_end, tid);
      zero_rows<D, THREADS>(dvptr, p.dv_strides.seq, k0, row_end, tid);
    }
    return;
  }
  const int off = si.Lk - si.Lq;
  int m_begin = 0;
  if (p.causal) {
    const int first_q = k0 - off;  // smallest query row that sees key k0
    m_begin = first_q > 0 ? first_q / BM : 0;
  }
  const int m_end = (si.Lq + BM - 1) / BM;
  const int nm = m_end - m_begin;
  if (nm <= 0) {
    zero_rows<D, THREADS>(dkptr, p.dk_strides.seq, k0, row_end, tid);
    zero_rows<D, THREADS>(dvptr, p.dv_strides.seq, k0, row_end, tid);
    return;
  }
  const int group = kp.group;
  const int n_iter = group * nm;

  const T* kg = static_cast<const T*>(p.k) + seq_base(p.k_strides, si.varlen_k, b, si.k_row0, hk);
  const T* vg = static_cast<const T*>(p.v) + seq_base(p.v_strides, si.varlen_k, b, si.k_row0, hk);
  const T* qbase = static_cast<const T*>(p.q) + seq_base(p.q_strides, si.varlen_q, b, si.q_row0, 0);
  const T* dobase = static_cast<const T*>(p.dout) + seq_base(p.dout_strides, si.varlen_q, b, si.q_row0, 0);
  const int64_t q_sn = p.q_strides.seq, q_sh = p.q_strides.head;
  const int64_t do_sn = p.dout_strides.seq, do_sh = p.dout_strides.head;
  const int64_t dq_row0 = si.varlen_q ? si.q_row0 : static_cast<int64_t>(b) * p.n_q;
  const int Hq = p.heads_q;

  auto issue_q = [&](int t, int stage) {
    const int h = hk * group + t / nm;
    const int q0 = (m_begin + t % nm) * BM;
    load_tile_sw128<BM, D, THREADS>(sQ(stage), qbase + h * q_sh, q_sn, q0, si.Lq, tid);
    load_tile_sw128<BM, D, THREADS>(sdO(stage), dobase + h * do_sh, do_sn, q0, si.Lq, tid);
  };
  load_tile_sw128<BN, D, THREADS>(sK, kg, p.k_strides.seq, k0, si.Lk, tid);
  load_tile_sw128<BN, D, THREADS>(sV, vg, p.v_strides.seq, k0, si.Lk, tid);
  issue_q(0, 0);
  cp_async_commit();
  if (n_iter > 1) issue_q(1, 1);
  cp_async_commit();

  ScoreMod mod;
  mod.scale = kp.scale;
  mod.b = seq_bias(p, b, si.Lk);
  mod.alibi = p.alibi_slopes != nullptr;
  mod.slope = 0.f;
  mod.kb = p.key_bias ? p.key_bias + static_cast<int64_t>(b) * p.key_bias_stride_batch : nullptr;
  mod.off = off;
  mod.Lk = si.Lk;
  mod.causal = p.causal;
  const bool has_mods = mod.alibi || mod.kb != nullptr;
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);

  float acc_dk[D / 2], acc_dv[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) acc_dk[i] = acc_dv[i] = 0.f;

  const int key_lo = wg * 64 + (warp & 3) * 16 + g;  // this thread's keys in the tile: key_lo, key_lo + 8
  const uint32_t k_wg = sK + wg * 64 * 128, v_wg = sV + wg * 64 * 128;
  // dQ tile of this warpgroup: queries mq0.. (BM = 128) or head-dim columns nq0.. (BM = 64).
  const int mq0 = BM == 64 ? 0 : wg * 64, nq0 = BM == 64 ? wg * NQ : 0;

  for (int t = 0; t < n_iter; ++t) {
    cp_async_wait<1>();
    fence_proxy_async_smem();
    __syncthreads();
    const int stage = t & 1;
    const int h = hk * group + t / nm;
    const int q0 = (m_begin + t % nm) * BM;

    // ---- S^T = K Q^T and dP^T = V dO^T (per warpgroup: 64 keys x BM queries) ----------------------------------
    float acc_s[BM / 2], acc_dp[BM / 2];
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t step = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qstep = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
      Wgmma<BM, T>::ss(acc_s, kmajor_desc(k_wg + step), kmajor_desc(sQ(stage) + qstep), kk > 0 ? 1 : 0);
    }
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t step = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qstep = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
      Wgmma<BM, T>::ss(acc_dp, kmajor_desc(v_wg + step), kmajor_desc(sdO(stage) + qstep), kk > 0 ? 1 : 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    fence_regs(acc_s);
    fence_regs(acc_dp);

    // ---- P^T = sigma(S^T), dS^T = P(1-P) dP^T; element (key k0 + key_lo + 8*(e>>1), query q0 + 8*nt + 2*tg + (e&1))
    const bool need_mask = (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off);
    if (!need_mask && !has_mods) {
#pragma unroll
      for (int i = 0; i < BM / 2; ++i) {
        const float pr = sigmoid_fast<EXACT>(acc_s[i], sc);
        const float pd = pr * acc_dp[i];
        acc_s[i] = pr;
        acc_dp[i] = fmaf(-pr, pd, pd);
      }
    } else {
      mod.slope = mod.alibi ? p.alibi_slopes[h] : 0.f;
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int jj = k0 + key_lo + 8 * (e >> 1);
          const int i = q0 + nt * 8 + 2 * tg + (e & 1);
          const float s = acc_s[4 * nt + e];
          const float pr = mod.valid(i, jj) ? sigmoid_of<EXACT>(mod.score(s, i, jj)) : 0.f;
          const float pd = pr * acc_dp[4 * nt + e];
          acc_s[4 * nt + e] = pr;
          acc_dp[4 * nt + e] = fmaf(-pr, pd, pd);
        }
    }
    uint32_t pa[BM / 16][4], pd[BM / 16][4];
    pack_p<BM, T>(pa, acc_s);
    pack_p<BM, T>(pd, acc_dp);

    // ---- dS^T -> shared memory (SW128, keys x queries) for dQ ----------------------------------------------------
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        // pd[kk][e]: key key_lo + 8*(e&1), queries 16*kk + 8*(e>>1) + 2*tg, +1
        const int key = key_lo + 8 * (e & 1), q = 16 * kk + 8 * (e >> 1) + 2 * tg;
        const uint32_t addr = sdS + (q >> 6) * (BN * 128) + key * 128 + ((((q & 63) >> 3) ^ (key & 7)) << 4) +
                              (q & 7) * 2;
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(pd[kk][e]) : "memory");
      }

    // ---- dV += P^T dO, dK += dS^T Q (B operands transposed from shared memory) ---------------------------------
    fence_regs(pa);
    fence_regs(pd);
    fence_regs(acc_dv);
    fence_regs(acc_dk);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk)
      Wgmma<D, T>::rs_bt(acc_dv, pa[kk], mnmajor_desc(sdO(stage) + kk * 16 * 128, BM * 128), 1);
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk)
      Wgmma<D, T>::rs_bt(acc_dk, pd[kk], mnmajor_desc(sQ(stage) + kk * 16 * 128, BM * 128), 1);
    wgmma_commit();

    fence_proxy_async_smem();  // this thread's dS^T stores -> visible to wgmma (after the barrier)
    __syncthreads();           // all of dS^T written

    // ---- dQ_tile = dS K: A = dS (queries x keys) and B = K (keys x head dim), both transposed from shared memory --
    float acc_dq[NQ / 2];
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      const uint64_t da = mnmajor_desc(sdS + (mq0 >> 6) * (BN * 128) + kk * 16 * 128, BN * 128);
      const uint64_t db = mnmajor_desc(sK + (nq0 >> 6) * (BN * 128) + kk * 16 * 128, BN * 128);
      Wgmma<NQ, T>::ss_tt(acc_dq, da, db, kk > 0 ? 1 : 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    fence_regs(acc_dv);
    fence_regs(acc_dk);
    fence_regs(acc_dq);
    fence_regs(pa);
    fence_regs(pd);

    // acc_dq[4*nt + e]: query q0 + mq0 + (warp&3)*16 + g + 8*(e>>1), column nq0 + 8*nt + 2*tg + (e&1)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int r = q0 + mq0 + (warp & 3) * 16 + g + 8 * hr;
      if (r < si.Lq) {
        float* dst = kp.dq_accum + ((dq_row0 + r) * Hq + h) * static_cast<int64_t>(D) + nq0 + 2 * tg;
#pragma unroll
        for (int nt = 0; nt < NQ / 8; ++nt)
          atomic_add2(dst + nt * 8, acc_dq[4 * nt + 2 * hr], acc_dq[4 * nt + 2 * hr + 1]);
      }
    }
    __syncthreads();  // everyone done with dS^T and this Q/dO stage
    if (t + 2 < n_iter) issue_q(t + 2, stage);
    cp_async_commit();
  }
  cp_async_wait<0>();

  // ---- Epilogue: dK (scaled), dV; rows >= L_k are written as 0 (padded layout) ---------------------------------
  const float scale = kp.scale;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int r = k0 + key_lo + 8 * hr;
    if (r < row_end) {
      const bool valid = r < si.Lk;
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
#else
  (void)kp;  // not built for this target; the host launches this kernel on sm_90 only
#endif
}

template <int D, int BM, int NWG, typename T, bool EXACT>
void launch_bwd_wgmma(const KParams& kp, cudaStream_t stream) {
  using Cfg = WgBwdConfig<D, BM, NWG>;
  auto kernel = sa_bwd_wgmma_kernel<D, BM, NWG, T, EXACT>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  dim3 grid((kp.p.n_k + Cfg::kBN - 1) / Cfg::kBN, kp.p.heads_kv, kp.p.batch);
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp);
  const int64_t n = static_cast<int64_t>(kp.p.batch) * kp.p.n_q * kp.p.heads_q * (D / 8);
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 132 * 16);
  if (n > 0) sa_dq_convert_kernel<D, T><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(kp);
}

}  // namespace sigtrain::kernels::detail
