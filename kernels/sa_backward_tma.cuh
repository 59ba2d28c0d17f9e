// Sigmoid-attention backward kernel for Hopper (sm_90a): a TMA producer warp and two consumer warpgroups.
//
// CTA = (k-tile of BN = 128 keys, kv head, sequence), 3 warpgroups:
//   warpgroup 0 (producer, 24 registers): one thread loads K and V once, then Q and dO of each (q-head of the GQA
//     group, q-tile of BM queries) into a STAGES-deep ring (mbarriers full / empty, as in the forward).
//   warpgroups 1, 2 (consumers): 64 keys each; K, V in shared memory, dK, dV in fp32 registers. Per q-tile:
//     S^T = K Q^T, dP^T = V dO^T               (wgmma, A = K / V, B = Q / dO, all from shared memory)
//     P^T = sigma(.), dS^T = P(1-P) dP^T       (registers; 0 where masked)
//     dV += P^T dO, dK += dS^T Q               (wgmma, A from registers, B = dO / Q transposed)
//     dS^T -> shared memory (two buffers); dQ_tile = dS K (wgmma, both operands transposed from shared memory;
//                                                each warpgroup takes 64 queries (BM = 128) or half of the head dim
//                                                (BM = 64)); the two warpgroups meet once per q-tile (named barrier)
//     dQ_accum (fp32, global) += dQ_tile by atomics; sa_dq_convert_kernel scales and converts it afterwards.
// Rows past a sequence inside the tensors come in through TMA as they are (padding, the next packed sequence): the
// consumers zero the K / V rows past L_k once and the Q / dO rows past L_q of a sequence's last q-tile, so that
// every masked product is an exact 0 (0 * NaN would not be).
#pragma once

#include <algorithm>

#include "sa_async.cuh"
#include "sa_backward.cuh"  // sa_dq_convert_kernel
#include "sa_backward_hopper_steps.cuh"
#include "sa_hopper.cuh"
#include "sa_tensor_map.h"

namespace sigtrain::kernels::detail {

struct BwdTmaArgs {
  CUtensorMap q, dout, k, v;  // boxes of [BM, 64] (Q, dO) and [BN, 64] (K, V), 128-byte swizzle
};

template <int D, int BM>
struct TmaBwdConfig {
  static constexpr int kNWG = 2, kBN = 64 * kNWG, kConsumers = 128 * kNWG, kThreads = kConsumers + 128;
  static constexpr int kStages = 2;
  // dQ = dS K per warpgroup: NQ columns of the head dim for MQ queries.
  static constexpr int kNQ = BM == 64 ? D / kNWG : D;
  static_assert(BM == 64 * kNWG || BM == 64, "dQ split: BM = 64 x warpgroups (split by query) or 64 (by column)");
  static_assert(kNQ == 64 || kNQ == 128, "dQ tile width must be a wgmma shape we instantiate");
  static constexpr uint32_t kKBytes = kBN * D * 2, kQBytes = BM * D * 2, kSBytes = kBN * BM * 2;
  // K, V, STAGES x (Q, dO), 2 x dS^T, then the mbarriers kv_full, full[S], empty[S].
  static constexpr uint32_t kBarOffset = 2 * kKBytes + kStages * 2 * kQBytes + 2 * kSBytes;
  static constexpr size_t kSmemBytes = kBarOffset + 8 * (1 + 2 * kStages) + 1024;
  static constexpr int kProducerRegs = 24, kConsumerRegs = 240;
};

template <int D, int BM, typename T, bool EXACT>
__global__ void __launch_bounds__(TmaBwdConfig<D, BM>::kThreads, 1)
    sa_bwd_tma_kernel(const KParams kp, const __grid_constant__ BwdTmaArgs args) {
#if SIGTRAIN_SA_WGMMA_ENABLED
  using Cfg = TmaBwdConfig<D, BM>;
  constexpr int BN = Cfg::kBN, NQ = Cfg::kNQ, STAGES = Cfg::kStages, CONSUMERS = Cfg::kConsumers;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t smem0 = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sK = smem0, sV = sK + Cfg::kKBytes;
  auto sQ = [&](int stage) { return sV + Cfg::kKBytes + stage * 2 * Cfg::kQBytes; };
  auto sdO = [&](int stage) { return sQ(stage) + Cfg::kQBytes; };
  // dS^T, two buffers: [BM/64][BN keys][64 queries], SW128
  auto sdS = [&](int buf) { return sV + Cfg::kKBytes + STAGES * 2 * Cfg::kQBytes + buf * Cfg::kSBytes; };
  const uint32_t bar_kv = smem0 + Cfg::kBarOffset;
  auto bar_full = [&](int stage) { return bar_kv + 8 + 8 * stage; };
  auto bar_empty = [&](int stage) { return bar_kv + 8 + 8 * STAGES + 8 * stage; };

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int b = blockIdx.z, hk = blockIdx.y;
  const int k0 = blockIdx.x * BN;
  const SeqInfo si = seq_info(p, b);

  T* dkptr = static_cast<T*>(p.dk) + seq_base(p.dk_strides, si.varlen_k, b, si.k_row0, hk);
  T* dvptr = static_cast<T*>(p.dv) + seq_base(p.dv_strides, si.varlen_k, b, si.k_row0, hk);
  const QTileSpan span = bwd_q_tiles<D, BM, BN, Cfg::kThreads>(p, si, k0, dkptr, dvptr, true, tid);
  if (span.nm <= 0) return;  // keys past the sequence, or seen by no query: dK = dV = 0
  const int off = si.Lk - si.Lq;
  const int m_begin = span.m_begin, nm = span.nm, row_end = span.row_end;
  const int group = kp.group;
  const int n_iter = group * nm;

  if (tid == 0) {
    mbar_init(bar_kv, 1);
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(bar_full(s), 1);
      mbar_init(bar_empty(s), CONSUMERS / 32);  // one arrival per consumer warp
    }
    fence_mbar_init();
  }
  __syncthreads();  // the only CTA-wide barrier

  if (warp < 4) {
    // ---- producer ---------------------------------------------------------------------------------------------
    setmaxnreg_dec<Cfg::kProducerRegs>();
    if (tid == 0) {
      const int bq = si.varlen_q ? 0 : b, bk = si.varlen_k ? 0 : b;
      mbar_arrive_expect_tx(bar_kv, 2 * Cfg::kKBytes);
#pragma unroll
      for (int cb = 0; cb < D / 64; ++cb) {
        tma_load_4d(sK + cb * (BN * 128), &args.k, bar_kv, cb * 64, si.k_row0 + k0, hk, bk);
        tma_load_4d(sV + cb * (BN * 128), &args.v, bar_kv, cb * 64, si.k_row0 + k0, hk, bk);
      }
      for (int t = 0; t < n_iter; ++t) {
        const int s = t % STAGES;
        if (t >= STAGES) mbar_wait(bar_empty(s), ((t / STAGES) - 1) & 1);
        const int h = hk * group + t / nm, q0 = (m_begin + t % nm) * BM;
        mbar_arrive_expect_tx(bar_full(s), 2 * Cfg::kQBytes);
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
          tma_load_4d(sQ(s) + cb * (BM * 128), &args.q, bar_full(s), cb * 64, si.q_row0 + q0, h, bq);
          tma_load_4d(sdO(s) + cb * (BM * 128), &args.dout, bar_full(s), cb * 64, si.q_row0 + q0, h, bq);
        }
      }
    }
    return;
  }

  // ---- consumers --------------------------------------------------------------------------------------------------
  setmaxnreg_inc<Cfg::kConsumerRegs>();
  const int ctid = tid - 128, wg = ctid >> 7;
  const int64_t dq_row0 = si.varlen_q ? si.q_row0 : static_cast<int64_t>(b) * p.n_q;
  const int Hq = p.heads_q;

  ScoreMod mod = make_score_mod(kp, b, si, hk * kp.group);  // slope: set per q-head in the loop
  const bool has_mods = mod.has_mods();
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);

  float acc_dk[D / 2], acc_dv[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) acc_dk[i] = acc_dv[i] = 0.f;

  const int key_lo = wg * 64 + (warp & 3) * 16 + g;  // this thread's keys in the tile: key_lo, key_lo + 8
  const uint32_t k_wg = sK + wg * 64 * 128, v_wg = sV + wg * 64 * 128;
  // dQ tile of this warpgroup: queries mq0.. (BM = 128) or head-dim columns nq0.. (BM = 64).
  const int mq0 = BM == 64 ? 0 : wg * 64, nq0 = BM == 64 ? wg * NQ : 0;

  mbar_wait(bar_kv, 0);
  if (k0 + BN > si.Lk) {  // K, V rows past the sequence: dQ = dS K and dP^T = V dO^T must not see garbage
    zero_tile_rows_sw128<BN, D, CONSUMERS>(sK, si.Lk - k0, ctid);
    zero_tile_rows_sw128<BN, D, CONSUMERS>(sV, si.Lk - k0, ctid);
    fence_proxy_async_smem();
    named_barrier_sync(1, CONSUMERS);
  }

  for (int t = 0; t < n_iter; ++t) {
    const int stage = t % STAGES;
    const int h = hk * group + t / nm;
    const int q0 = (m_begin + t % nm) * BM;
    mbar_wait(bar_full(stage), (t / STAGES) & 1);
    if (q0 + BM > si.Lq) {  // Q / dO rows past the sequence would meet P, dS = 0 in dV and dK
      zero_tile_rows_sw128<BM, D, CONSUMERS>(sQ(stage), si.Lq - q0, ctid);
      zero_tile_rows_sw128<BM, D, CONSUMERS>(sdO(stage), si.Lq - q0, ctid);
      fence_proxy_async_smem();
      named_barrier_sync(1, CONSUMERS);
    }

    float acc_s[BM / 2], acc_dp[BM / 2];
    wg_bwd_scores<D, BM, BN, T>(acc_s, acc_dp, k_wg, v_wg, sQ(stage), sdO(stage));
    const bool need_mask = (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off);
    wg_bwd_pointwise<BM, EXACT>(acc_s, acc_dp, mod, sc, !need_mask && !has_mods, p.alibi_slopes, h, k0 + key_lo, q0,
                                tg);
    uint32_t pa[BM / 16][4], pd[BM / 16][4];
    pack_p<BM, T>(pa, acc_s);
    pack_p<BM, T>(pd, acc_dp);
    const uint32_t sdS_t = sdS(t & 1);
    wg_bwd_store_dst<BM, BN>(sdS_t, pd, key_lo, tg);
    wg_bwd_dkdv<D, BM, T>(acc_dv, acc_dk, pa, pd, sQ(stage), sdO(stage));

    // Both warpgroups' dS^T written. (The other buffer is rewritten only after the next meeting, by which time
    // every dQ product that read it is complete.)
    fence_proxy_async_smem();
    named_barrier_sync(1, CONSUMERS);

    float acc_dq[NQ / 2];
    wg_bwd_dq<NQ, BN, T>(acc_dq, sdS_t, sK, mq0, nq0);
    wgmma_wait<0>();
    fence_regs(acc_dv);
    fence_regs(acc_dk);
    fence_regs(acc_dq);
    fence_regs(pa);
    fence_regs(pd);
    __syncwarp();
    if (lane == 0) mbar_arrive(bar_empty(stage));  // Q and dO of this stage are no longer read by this warp
    wg_bwd_dq_accumulate<D, NQ>(kp.dq_accum, acc_dq, dq_row0, q0 + mq0 + (warp & 3) * 16 + g, si.Lq, Hq, h, nq0, tg);
  }

  // ---- Epilogue: dK (scaled), dV; rows >= L_k are written as 0 (padded layout) ---------------------------------
  wg_bwd_write_dkdv<D, T>(p, kp.scale, dkptr, dvptr, acc_dk, acc_dv, k0 + key_lo, si.Lk, row_end, tg);
#else
  (void)kp;  // not built for this target; the host launches this kernel on sm_90 only
  (void)args;
#endif
}

template <int D, int BM, typename T, bool EXACT>
void launch_bwd_tma(const KParams& kp, cudaStream_t stream) {
  using Cfg = TmaBwdConfig<D, BM>;
  const SigmoidAttentionParams& p = kp.p;
  const bool packed = p.cu_seqlens_q != nullptr;
  const int64_t rows_q = packed ? p.total_q : p.n_q, rows_k = packed ? p.total_k : p.n_k;
  BwdTmaArgs args;
  args.q = make_sw128_tensor_map(p.q, p.q_strides, packed, rows_q, p.heads_q, p.batch, D, BM, "q");
  args.dout = make_sw128_tensor_map(p.dout, p.dout_strides, packed, rows_q, p.heads_q, p.batch, D, BM, "dout");
  args.k = make_sw128_tensor_map(p.k, p.k_strides, packed, rows_k, p.heads_kv, p.batch, D, Cfg::kBN, "k");
  args.v = make_sw128_tensor_map(p.v, p.v_strides, packed, rows_k, p.heads_kv, p.batch, D, Cfg::kBN, "v");
  auto kernel = sa_bwd_tma_kernel<D, BM, T, EXACT>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  dim3 grid((p.n_k + Cfg::kBN - 1) / Cfg::kBN, p.heads_kv, p.batch);
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp, args);
  launch_dq_convert<D, T>(kp, stream);
}

}  // namespace sigtrain::kernels::detail
