// Sigmoid-attention backward kernel for Hopper (sm_90a): a TMA producer warp and two consumer warpgroups.
//
// CTA = (KTILES k-tiles of BN = 128 keys, kv head, sequence), 3 warpgroups. With KTILES 2 (D 64) the two k-tiles
// are x and its mirror n_ktiles - 1 - x: a causal call's CTAs get equal numbers of q-tiles (the heaviest k-tile with
// the lightest), half as many CTAs pay the per-CTA cost, and the second k-tile's K / V load in the first one's shadow
// (2-10 % faster at D 64; at D 128 slower, so KTILES 1 there: docs/kernel-notebook.md v11).
//   warpgroup 0 (producer, 24 registers): one thread loads both k-tiles' K and V at once (a buffer each), then Q and
//     dO of each (k-tile, q-head of the GQA group, q-tile of BM queries) into a STAGES-deep ring (mbarriers full /
//     empty, as in the forward).
//   warpgroups 1, 2 (consumers): 64 keys each; K, V in shared memory, dK, dV in fp32 registers. Per q-tile:
//     S^T = K Q^T, dP^T = V dO^T               (wgmma, A = K / V, B = Q / dO, all from shared memory)
//     P^T = sigma(.), dS^T = P(1-P) dP^T       (registers; 0 where masked)
//     dV += P^T dO, dK += dS^T Q               (wgmma, A from registers, B = dO / Q transposed)
//     dS^T -> shared memory (two buffers); dQ_tile = dS K (wgmma, both operands transposed from shared memory;
//                                                each warpgroup takes 64 queries (BM = 128) or half of the head dim
//                                                (BM = 64)); the two warpgroups meet once per q-tile (named barrier)
//     dQ_accum (fp32, global) += dQ_tile by atomics; sa_dq_convert_kernel scales and converts it afterwards.
//   After a k-tile's last q-tile its dK, dV go out from the registers, which then start the next k-tile at 0.
//   DEFER_DQ (a tuning variant, docs/kernel-notebook.md v14): each warpgroup computes tile t-1's dQ in iteration t,
//   after tile t's dK / dV products are issued, and the meeting is split into signals (bar.arrive when a dS^T half is
//   written, bar.sync on the other half only before the dQ that reads it, and the same for a buffer becoming free),
//   so that neither warpgroup waits for the other in the common case and their sigma phases can fall between the
//   other's products instead of together.
//   DQ_IN_KERNEL (a tuning variant, notebook v13; slower as measured): instead of the second kernel, the CTA counts
//   its contributions to each q-tile it reached and converts the tiles whose count it completes (sa_dq_finish.cuh).
//   DQ_HELPER (a tuning variant, notebook v17): the consumers write each q-tile's dQ into shared memory instead of
//   the atomics, and the producer warpgroup's three idle warps add it to dQ_accum, count it and convert the tiles
//   whose count they complete (sa_dq_finish.cuh), overlapped with the consumers' next q-tiles; no second kernel.
//   SKIP (BwdSkip bits; tuning builds only, timing only: the results are wrong): leave one stage out, so that the
//   difference to the whole kernel's time places that stage's cost without hardware counters (notebook v16).
// Rows past a sequence inside the tensors come in through TMA as they are (padding, the next packed sequence): the
// consumers zero the K / V rows past L_k once and the Q / dO rows past L_q of a sequence's last q-tile, so that
// every masked product is an exact 0 (0 * NaN would not be).
#pragma once

#include <algorithm>

#include "sa_async.cuh"
#include "sa_backward.cuh"  // launch_dq_convert
#include "sa_backward_hopper_steps.cuh"
#include "sa_dispatch.h"  // WgBwdTile
#include "sa_dq_finish.cuh"
#include "sa_hopper.cuh"
#include "sa_tensor_map.h"

namespace sigtrain::kernels::detail {

struct BwdTmaArgs {
  CUtensorMap q, dout, k, v;  // boxes of [BM, 64] (Q, dO) and [BN, 64] (K, V), 128-byte swizzle
};

// Stages a timing-only variant leaves out (BwdSkip bits; 0 in every kernel that computes).
enum BwdSkip : int {
  kSkipNone = 0,
  kSkipDqAtomics = 1,  // the dQ_accum atomics (the dQ product still runs)
  kSkipPointwise = 2,  // sigma, dS = P(1 - P) dP and the masks: P^T = S^T, dS^T = dP^T as they come
  kSkipMeeting = 4,    // the two warpgroups' per-q-tile meeting before dQ (dQ then reads a half-written dS^T)
  kSkipDqConvert = 8,  // the second kernel (dQ stays in the fp32 workspace)
  kSkipMasking = 16,   // the masked tiles' per-element path (causal diagonal, sequence ends): the fast path everywhere
};

template <int D, int BM, int KTILES, bool DQ_SMEM = false>
struct TmaBwdConfig {
  static constexpr int kNWG = 2, kBN = 64 * kNWG, kConsumers = 128 * kNWG, kThreads = kConsumers + 128;
  static constexpr int kStages = 2;
  static constexpr int kKTiles = KTILES;  // k-tiles per CTA: 2, x and its mirror (D 64); 1, x alone (D 128)
  static_assert(KTILES == 1 || KTILES == 2, "k-tiles per CTA");
  // dQ = dS K per warpgroup: NQ columns of the head dim for MQ queries.
  static constexpr int kNQ = BM == 64 ? D / kNWG : D;
  static_assert(BM == 64 * kNWG || BM == 64, "dQ split: BM = 64 x warpgroups (split by query) or 64 (by column)");
  static_assert(kNQ == 64 || kNQ == 128, "dQ tile width must be a wgmma shape we instantiate");
  static constexpr uint32_t kKBytes = kBN * D * 2, kQBytes = BM * D * 2, kSBytes = kBN * BM * 2;
  // DQ_SMEM (the DQ_HELPER variant): one q-tile's dQ in fp32 for the helpers.
  static constexpr uint32_t kDqBytes = DQ_SMEM ? BM * D * 4 : 0;
  // K-TILES x (K, V), STAGES x (Q, dO), 2 x dS^T, [dQ], then the mbarriers kv_full[K-TILES], full[S], empty[S],
  // [dq_full, dq_free and the helpers' `won` word].
  static constexpr uint32_t kBarOffset = kKTiles * 2 * kKBytes + kStages * 2 * kQBytes + 2 * kSBytes + kDqBytes;
  static constexpr size_t kSmemBytes = kBarOffset + 8 * (kKTiles + 2 * kStages) + (DQ_SMEM ? 24 : 0) + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "shared memory of one CTA on sm_90");
  // DQ_SMEM: the helpers' loops (dQ atomics, counting, two conversion items in flight) beside the TMA issue need
  // more than 24 (ptxas: 40 left 20-52 bytes of helper spills, 56 none).
  static constexpr int kProducerRegs = DQ_SMEM ? 56 : 24, kConsumerRegs = DQ_SMEM ? 224 : 240;
};

template <int D, int BM, int KTILES, typename T, bool EXACT, bool DEFER_DQ, bool DQ_IN_KERNEL, int SKIP,
          bool DQ_HELPER>
__global__ void __launch_bounds__(TmaBwdConfig<D, BM, KTILES>::kThreads, 1)
    sa_bwd_tma_kernel(const KParams kp, const __grid_constant__ BwdTmaArgs args) {
#if SIGTRAIN_SA_WGMMA_ENABLED
  using Cfg = TmaBwdConfig<D, BM, KTILES, DQ_HELPER>;
  constexpr int BN = Cfg::kBN, NQ = Cfg::kNQ, STAGES = Cfg::kStages, CONSUMERS = Cfg::kConsumers;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t smem0 = (smem_u32(smem_raw) + 1023u) & ~1023u;
  auto sK = [&](int item) { return smem0 + item * 2 * Cfg::kKBytes; };
  auto sV = [&](int item) { return sK(item) + Cfg::kKBytes; };
  const uint32_t sQ0 = smem0 + Cfg::kKTiles * 2 * Cfg::kKBytes;
  auto sQ = [&](int stage) { return sQ0 + stage * 2 * Cfg::kQBytes; };
  auto sdO = [&](int stage) { return sQ(stage) + Cfg::kQBytes; };
  // dS^T, two buffers: [BM/64][BN keys][64 queries], SW128
  auto sdS = [&](int buf) { return sQ0 + STAGES * 2 * Cfg::kQBytes + buf * Cfg::kSBytes; };
  const uint32_t bar0 = smem0 + Cfg::kBarOffset;
  auto bar_kv = [&](int item) { return bar0 + 8 * item; };
  auto bar_full = [&](int stage) { return bar0 + 8 * Cfg::kKTiles + 8 * stage; };
  auto bar_empty = [&](int stage) { return bar0 + 8 * Cfg::kKTiles + 8 * STAGES + 8 * stage; };
  // DQ_HELPER: the dQ tile, its two mbarriers and the helpers' `won` word; the helpers' named barrier (v14's
  // signals use 2-9).
  constexpr int kHelperBar = 10;
  [[maybe_unused]] const uint32_t sdq = sdS(2), bar_dq_full = bar0 + 8 * (Cfg::kKTiles + 2 * STAGES),
                                  bar_dq_free = bar_dq_full + 8;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int b = blockIdx.z, hk = blockIdx.y;
  const SeqInfo si = seq_info(p, b);
  const int group = kp.group;

  T* dkptr = static_cast<T*>(p.dk) + seq_base(p.dk_strides, si.varlen_k, b, si.k_row0, hk);
  T* dvptr = static_cast<T*>(p.dv) + seq_base(p.dv_strides, si.varlen_k, b, si.k_row0, hk);
  // This CTA's k-tiles with work (a k-tile of keys past the sequence or seen by no query has dK = dV = 0, which
  // bwd_q_tiles writes where the layout has such rows). An array in local memory, read once per k-tile: held in
  // registers across the q-tile loop instead, the two k-tiles' values made the consumers spill (ptxas: 188 bytes).
  struct KTileWork {
    int k0;
    QTileSpan span;
  };
  const int n_ktiles = (p.n_k + BN - 1) / BN, kt_mirror = n_ktiles - 1 - static_cast<int>(blockIdx.x);
  KTileWork works[Cfg::kKTiles];
  int n_items = 0;
  for (int i = 0; i < Cfg::kKTiles; ++i) {
    const int kt = i == 0 ? static_cast<int>(blockIdx.x) : kt_mirror;
    if (i > 0 && kt <= static_cast<int>(blockIdx.x)) break;  // the middle k-tile of an odd count comes alone
    const QTileSpan span = bwd_q_tiles<D, BM, BN, Cfg::kThreads>(p, si, kt * BN, dkptr, dvptr, true, tid);
    if (span.nm > 0) works[n_items++] = KTileWork{kt * BN, span};
  }
  if constexpr (DQ_IN_KERNEL || DQ_HELPER)
    if (blockIdx.x == 0) dq_zero_unreached_rows<D, BM, Cfg::kThreads, T>(p, si, b, hk * group, group, tid);
  if (n_items == 0) return;
  // A compile-time 1 for the one-k-tile variant, so that it compiles to the loop-free kernel it was.
  const int n_ktiles_here = KTILES == 1 ? 1 : n_items;
  const int off = si.Lk - si.Lq;

  if (tid == 0) {
    for (int i = 0; i < Cfg::kKTiles; ++i) mbar_init(bar_kv(i), 1);
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(bar_full(s), 1);
      mbar_init(bar_empty(s), CONSUMERS / 32);  // one arrival per consumer warp
    }
    if constexpr (DQ_HELPER) {
      mbar_init(bar_dq_full, CONSUMERS / 32);  // one arrival per consumer warp
      mbar_init(bar_dq_free, 1);               // the first helper's
    }
    fence_mbar_init();
  }
  __syncthreads();  // the only CTA-wide barrier

  if (warp < 4) {
    // ---- producer ---------------------------------------------------------------------------------------------
    setmaxnreg_dec<Cfg::kProducerRegs>();
    if (tid == 0) {
      const int bq = si.varlen_q ? 0 : b, bk = si.varlen_k ? 0 : b;
      for (int i = 0; i < n_ktiles_here; ++i) {
        const int k_row = si.k_row0 + works[i].k0;
        mbar_arrive_expect_tx(bar_kv(i), 2 * Cfg::kKBytes);
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
          tma_load_4d(sK(i) + cb * (BN * 128), &args.k, bar_kv(i), cb * 64, k_row, hk, bk);
          tma_load_4d(sV(i) + cb * (BN * 128), &args.v, bar_kv(i), cb * 64, k_row, hk, bk);
        }
      }
      int t = 0;  // the ring runs on across the k-tiles
      for (int i = 0; i < n_ktiles_here; ++i) {
        const int m_begin = works[i].span.m_begin, nm = works[i].span.nm;
        for (int it = 0; it < group * nm; ++it, ++t) {
          const int s = t % STAGES;
          if (t >= STAGES) mbar_wait(bar_empty(s), ((t / STAGES) - 1) & 1);
          const int h = hk * group + it / nm, q0 = (m_begin + it % nm) * BM;
          mbar_arrive_expect_tx(bar_full(s), 2 * Cfg::kQBytes);
#pragma unroll
          for (int cb = 0; cb < D / 64; ++cb) {
            tma_load_4d(sQ(s) + cb * (BM * 128), &args.q, bar_full(s), cb * 64, si.q_row0 + q0, h, bq);
            tma_load_4d(sdO(s) + cb * (BM * 128), &args.dout, bar_full(s), cb * 64, si.q_row0 + q0, h, bq);
          }
        }
      }
    }
    if constexpr (DQ_HELPER)
      if (warp >= 1)  // warps 1-3: the dQ tiles the consumers hand over
        dq_helper_tiles<D, BM, BN, 96, T>(kp, si, b, hk, group, works, n_ktiles_here, sdq, bar_dq_full, bar_dq_free,
                                          reinterpret_cast<int*>(smem_raw + (bar_dq_free + 8 - smem_u32(smem_raw))),
                                          tid - 32, kHelperBar);
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

  const int key_lo = wg * 64 + (warp & 3) * 16 + g;  // this thread's keys in the tile: key_lo, key_lo + 8
  // dQ tile of this warpgroup: queries mq0.. (BM = 128) or head-dim columns nq0.. (BM = 64).
  const int mq0 = BM == 64 ? 0 : wg * 64, nq0 = BM == 64 ? wg * NQ : 0;

  int t = 0;  // q-tiles of this CTA so far: the ring's stage and phase, the dS^T buffer
  // DEFER_DQ: the tile whose dQ is pending, and named barriers 2 + 2w + parity (warpgroup w's dS^T half of buffer
  // `parity` written) and 6 + 2w + parity (warpgroup w's dQ read of that buffer done).
  [[maybe_unused]] int total_tiles = 0, prev_q0 = 0, prev_h = 0;
  [[maybe_unused]] uint32_t prev_sK = 0;
  constexpr int kWrittenBar = 2, kReadBar = 6, kStaggerBar = 11;
  if constexpr (DEFER_DQ)
    for (int i = 0; i < n_ktiles_here; ++i) total_tiles += group * works[i].span.nm;
  for (int item = 0; item < n_ktiles_here; ++item) {
    const KTileWork work = works[item];
    const int k0 = work.k0, m_begin = work.span.m_begin, nm = work.span.nm;
    const uint32_t sK_t = sK(item), k_wg = sK_t + wg * 64 * 128, v_wg = sV(item) + wg * 64 * 128;
    float acc_dk[D / 2], acc_dv[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) acc_dk[i] = acc_dv[i] = 0.f;

    mbar_wait(bar_kv(item), 0);
    if (k0 + BN > si.Lk) {  // K, V rows past the sequence: dQ = dS K and dP^T = V dO^T must not see garbage
      zero_tile_rows_sw128<BN, D, CONSUMERS>(sK_t, si.Lk - k0, ctid);
      zero_tile_rows_sw128<BN, D, CONSUMERS>(sV(item), si.Lk - k0, ctid);
      fence_proxy_async_smem();
      named_barrier_sync(1, CONSUMERS);
    }

    for (int it = 0; it < group * nm; ++it, ++t) {
      const int stage = t % STAGES;
      const int h = hk * group + it / nm;
      const int q0 = (m_begin + it % nm) * BM;
      mbar_wait(bar_full(stage), (t / STAGES) & 1);
      if (q0 + BM > si.Lq) {  // Q / dO rows past the sequence would meet P, dS = 0 in dV and dK
        zero_tile_rows_sw128<BM, D, CONSUMERS>(sQ(stage), si.Lq - q0, ctid);
        zero_tile_rows_sw128<BM, D, CONSUMERS>(sdO(stage), si.Lq - q0, ctid);
        fence_proxy_async_smem();
        named_barrier_sync(1, CONSUMERS);
      }

      float acc_s[BM / 2], acc_dp[BM / 2];
      // DEFER_DQ: warpgroup 1 starts its first products when warpgroup 0's are done, so that from the first q-tile on
      // one's sigma phase meets the other's products (otherwise both start in lockstep and only contention at the
      // tensor cores would pull them apart).
      if constexpr (DEFER_DQ)
        if (t == 0 && wg == 1) named_barrier_sync(kStaggerBar, CONSUMERS);
      wg_bwd_scores<D, BM, BN, T>(acc_s, acc_dp, k_wg, v_wg, sQ(stage), sdO(stage));
      if constexpr (DEFER_DQ)
        if (t == 0 && wg == 0) named_barrier_arrive(kStaggerBar, CONSUMERS);
      const bool need_mask =
          !(SKIP & kSkipMasking) && ((k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off));
      if constexpr (!(SKIP & kSkipPointwise))
        wg_bwd_pointwise<BM, EXACT>(acc_s, acc_dp, mod, sc, !need_mask && !has_mods, p.alibi_slopes, h, k0 + key_lo,
                                    q0, tg);
      uint32_t pa[BM / 16][4], pd[BM / 16][4];
      pack_p<BM, T>(pa, acc_s);
      pack_p<BM, T>(pd, acc_dp);
      const uint32_t sdS_t = sdS(t & 1);
      // DEFER_DQ: buffer t & 1 was last read by the other warpgroup's dQ of tile t - 2.
      if constexpr (DEFER_DQ)
        if (t >= 2) named_barrier_sync(kReadBar + 2 * (1 - wg) + (t & 1), CONSUMERS);
      wg_bwd_store_dst<BM, BN>(sdS_t, pd, key_lo, tg);
      wg_bwd_dkdv<D, BM, T>(acc_dv, acc_dk, pa, pd, sQ(stage), sdO(stage));
      fence_proxy_async_smem();

      float acc_dq[NQ / 2];
      if constexpr (!DEFER_DQ) {
        // Both warpgroups' dS^T written. (The other buffer is rewritten only after the next meeting, by which time
        // every dQ product that read it is complete.)
        if constexpr (!(SKIP & kSkipMeeting)) named_barrier_sync(1, CONSUMERS);
        wg_bwd_dq<NQ, BN, T>(acc_dq, sdS_t, sK_t, mq0, nq0);
      } else {
        named_barrier_arrive(kWrittenBar + 2 * wg + (t & 1), CONSUMERS);  // this half of dS^T_t is written
        // Tile t - 1's dQ, once the other half of its dS^T is written. At t = 0 the product reads the K / V tiles
        // (which no one writes now) in place of a dS^T and is dropped: a wgmma under a branch made ptxas serialise
        // them all and spill 420-620 bytes.
        if (t >= 1) named_barrier_sync(kWrittenBar + 2 * (1 - wg) + ((t - 1) & 1), CONSUMERS);
        wg_bwd_dq<NQ, BN, T>(acc_dq, t >= 1 ? sdS((t - 1) & 1) : sK_t, t >= 1 ? prev_sK : sK_t, mq0, nq0);
      }
      wgmma_wait<0>();
      fence_regs(acc_dv);
      fence_regs(acc_dk);
      fence_regs(acc_dq);
      fence_regs(pa);
      fence_regs(pd);
      __syncwarp();
      if (lane == 0) mbar_arrive(bar_empty(stage));  // Q and dO of this stage are no longer read by this warp
      if constexpr (DQ_HELPER) {
        if (t >= 1) mbar_wait(bar_dq_free, (t - 1) & 1);  // the helpers have read the previous tile
        wg_bwd_dq_to_smem<D, NQ>(sdq, acc_dq, mq0 + (warp & 3) * 16 + g, nq0, tg);
        __syncwarp();
        if (lane == 0) mbar_arrive(bar_dq_full);
      } else if constexpr (!DEFER_DQ) {
        if constexpr (!(SKIP & kSkipDqAtomics))
          wg_bwd_dq_accumulate<D, NQ>(kp.dq_accum, acc_dq, dq_row0, q0 + mq0 + (warp & 3) * 16 + g, si.Lq, Hq, h,
                                      nq0, tg);
      } else {
        if (t >= 1) {
          // Buffer (t - 1) & 1 is free for the other warpgroup's tile t + 1 (none comes after the last two tiles).
          if (t - 1 < total_tiles - 2) named_barrier_arrive(kReadBar + 2 * wg + ((t - 1) & 1), CONSUMERS);
          wg_bwd_dq_accumulate<D, NQ>(kp.dq_accum, acc_dq, dq_row0, prev_q0 + mq0 + (warp & 3) * 16 + g, si.Lq, Hq,
                                      prev_h, nq0, tg);
        }
        prev_q0 = q0;
        prev_h = h;
        prev_sK = sK_t;
      }
    }

    // ---- The k-tile's dK (scaled), dV; rows >= L_k are written as 0 (padded layout) -------------------------------
    wg_bwd_write_dkdv<D, T>(p, kp.scale, dkptr, dvptr, acc_dk, acc_dv, k0 + key_lo, si.Lk, work.span.row_end, tg);
  }

  if constexpr (DEFER_DQ) {  // the last tile's dQ (t >= 1: a CTA that gets here had a q-tile)
    named_barrier_sync(kWrittenBar + 2 * (1 - wg) + ((t - 1) & 1), CONSUMERS);
    float acc_dq[NQ / 2];
    wgmma_fence();
    wg_bwd_dq<NQ, BN, T>(acc_dq, sdS((t - 1) & 1), prev_sK, mq0, nq0);
    wgmma_wait<0>();
    fence_regs(acc_dq);
    wg_bwd_dq_accumulate<D, NQ>(kp.dq_accum, acc_dq, dq_row0, prev_q0 + mq0 + (warp & 3) * 16 + g, si.Lq, Hq, prev_h,
                                nq0, tg);
  }

  // ---- DQ_IN_KERNEL: dQ of the q-tiles whose last contribution this CTA made (the dS^T buffers as scratch) -------
  if constexpr (DQ_IN_KERNEL) {
    int* scratch = reinterpret_cast<int*>(smem_raw + (sdS(0) - smem_u32(smem_raw)));
    dq_finish_tiles<D, BM, BN, CONSUMERS, T>(kp, si, b, hk * group, group, works[0].span.m_begin,
                                             n_ktiles_here > 1 ? works[Cfg::kKTiles - 1].span.m_begin : INT_MAX,
                                             scratch, ctid, 1);
  }
#else
  (void)kp;  // not built for this target; the host launches this kernel on sm_90 only
  (void)args;
#endif
}

template <int D, int BM, int KTILES, typename T, bool EXACT, bool DEFER_DQ = false, bool DQ_IN_KERNEL = false,
          int SKIP = kSkipNone, bool DQ_HELPER = false>
void launch_bwd_tma(const KParams& kp, cudaStream_t stream) {
  using Cfg = TmaBwdConfig<D, BM, KTILES, DQ_HELPER>;
  const SigmoidAttentionParams& p = kp.p;
  const bool packed = p.cu_seqlens_q != nullptr;
  const int64_t rows_q = packed ? p.total_q : p.n_q, rows_k = packed ? p.total_k : p.n_k;
  BwdTmaArgs args;
  args.q = make_sw128_tensor_map(p.q, p.q_strides, packed, rows_q, p.heads_q, p.batch, D, BM, "q");
  args.dout = make_sw128_tensor_map(p.dout, p.dout_strides, packed, rows_q, p.heads_q, p.batch, D, BM, "dout");
  args.k = make_sw128_tensor_map(p.k, p.k_strides, packed, rows_k, p.heads_kv, p.batch, D, Cfg::kBN, "k");
  args.v = make_sw128_tensor_map(p.v, p.v_strides, packed, rows_k, p.heads_kv, p.batch, D, Cfg::kBN, "v");
  static_assert(SKIP == kSkipNone || (!DEFER_DQ && !DQ_IN_KERNEL && !DQ_HELPER),
                "timing variants leave stages of variant 0 out");
  static_assert(int(DEFER_DQ) + int(DQ_IN_KERNEL) + int(DQ_HELPER) <= 1, "one dQ scheme per variant");
  auto kernel = sa_bwd_tma_kernel<D, BM, KTILES, T, EXACT, DEFER_DQ, DQ_IN_KERNEL, SKIP, DQ_HELPER>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  const int n_ktiles = (p.n_k + Cfg::kBN - 1) / Cfg::kBN;
  dim3 grid((n_ktiles + Cfg::kKTiles - 1) / Cfg::kKTiles, p.heads_kv, p.batch);  // k-tiles x and n_ktiles - 1 - x
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp, args);
  // The second kernel converts dQ (also for DQ_IN_KERNEL when no CTA runs: dQ = 0 from the cleared workspace).
  if ((grid.x == 0 || !(DQ_IN_KERNEL || DQ_HELPER)) && !(SKIP & kSkipDqConvert)) launch_dq_convert<D, T>(kp, stream);
}

// The Hopper backward of head dim D: the production kernel with PROD_KTILES k-tiles per CTA and, in builds with the
// tuning variants (kernels/sa_dispatch.h), variant 1 with the other count and variants 2-9 on the production tiles.
template <int D, int PROD_KTILES, typename T, bool EXACT>
void run_bwd_tma_variant(const KParams& kp, cudaStream_t stream, int variant) {
  constexpr int BM = WgBwdTile<D>::BM, K = PROD_KTILES;
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  switch (variant) {
    case 1: return launch_bwd_tma<D, BM, 3 - K, T, EXACT>(kp, stream);  // the other k-tile count (v11)
    case 2: return launch_bwd_tma<D, BM, K, T, EXACT, true>(kp, stream);  // dQ one tile later (v14)
    case 3: return launch_bwd_tma<D, BM, K, T, EXACT, false, true>(kp, stream);  // dQ at the CTA's end (v13)
    // 4-7 and 9, timing only (wrong results): one stage left out (BwdSkip; notebook v16).
    case 4: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipDqAtomics>(kp, stream);
    case 5: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipPointwise>(kp, stream);
    case 6: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipMeeting>(kp, stream);
    case 7: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipDqConvert>(kp, stream);
    case 9: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipMasking>(kp, stream);
    // dQ through shared memory to the producer warpgroup's idle warps, which add, count and convert it (v17).
    case 8: return launch_bwd_tma<D, BM, K, T, EXACT, false, false, kSkipNone, true>(kp, stream);
    default: break;
  }
#endif
  (void)variant;
  launch_bwd_tma<D, BM, K, T, EXACT>(kp, stream);
}

}  // namespace sigtrain::kernels::detail
