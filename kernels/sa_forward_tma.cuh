// Sigmoid-attention forward kernel for Hopper (sm_90a): a TMA producer warp and NCWG consumer warpgroups.
//
// CTA = work item (q-tile of BM = 64*NCWG rows, query head, sequence; fwd_item orders them) with 1 + NCWG
// warpgroups:
//   warpgroup 0 (producer, 24 registers): one thread issues the TMA loads -- Q once, then the K/V tiles of BN keys
//     into a STAGES-deep ring; stage s is reused once every consumer warp has released it (mbarrier empty[s]).
//   warpgroups 1..NCWG (consumers, the freed registers): 64 query rows each, and nothing but wgmma and sigma.
//     Per k-tile j (software-pipelined one tile ahead, as FA3's intra-warpgroup overlap):
//       wait for tile j+1 (mbarrier full[j+1]);  issue S_{j+1} = Q K_{j+1}^T;  issue O += P_j V_j
//       wait for S_{j+1}; P_{j+1} = sigma(scale*S + b [+ mods], masked = 0) while O += P_j V_j runs
//       wait for O; release stage j; pack P_{j+1} to 16 bits (the S accumulator layout is the A-operand layout)
// The consumer warpgroups never wait for each other in the loop, so one's sigma phase overlaps the other's matrix
// products.
// TMA zero-fills rows past the tensor only: rows past a sequence inside it (padding, the next packed sequence) come
// in as they are. Their scores are masked to 0 (assignment, so NaN garbage is harmless), and the V rows of the last
// tile past L_k are zeroed in shared memory before the last P V (0 * NaN would not be 0).
#pragma once

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "sa_async.cuh"
#include "sa_common.cuh"
#include "sa_hopper.cuh"
#include "sa_tensor_map.h"

namespace sigtrain::kernels::detail {

struct FwdTmaArgs {
  CUtensorMap q, k, v;  // boxes of [BM, 64] (Q) and [BN, 64] (K, V), 128-byte swizzle
  int heads_per_group;  // fwd_item's grouping of (sequence, head) pairs
  int interleave;       // fwd_item's q-tile order
};

template <int D, int BN, int NCWG, int MINB>
struct TmaFwdConfig {
  static constexpr int kBM = 64 * NCWG, kConsumers = 128 * NCWG, kThreads = kConsumers + 128, kStages = 3;
  static constexpr uint32_t kQBytes = kBM * D * 2, kKVBytes = BN * D * 2, kStageBytes = 2 * kKVBytes;
  static constexpr uint32_t kBarOffset = kQBytes + kStages * kStageBytes;  // mbarriers q_full, full[S], empty[S]
  static constexpr size_t kSmemBytes = kBarOffset + 8 * (1 + 2 * kStages) + 1024;  // + slack to align to 1024
  // Register hand-over: the launch gives every thread the same share; the producer keeps 24.
  static constexpr int kLaunchRegs = (65536 / MINB / kThreads) & ~7;
  static constexpr int kProducerRegs = 24;
  static constexpr int kConsumerRegs0 = ((kLaunchRegs * kThreads - kProducerRegs * 128) / kConsumers) & ~7;
  static constexpr int kConsumerRegs = kConsumerRegs0 > 240 ? 240 : kConsumerRegs0;
};

// Work item `idx` -> (sequence b, head h, q-tile). The (sequence, head) pairs go in groups of `group` (the last one
// may be smaller), the group's heads innermost. Inside a group the q-tiles run heaviest (causal) first, or, with
// `interleave`, heaviest, lightest, second heaviest, ... so that the launch does not end on one pair's long rows.
struct FwdItem {
  int b, h, m_block;
};
__host__ __device__ __forceinline__ FwdItem fwd_item(int idx, int n_mblocks, int heads, int pairs, int group,
                                                     bool interleave) {
  const int grp = idx / (group * n_mblocks), within = idx - grp * group * n_mblocks;
  const int in_group = group < pairs - grp * group ? group : pairs - grp * group;
  const int hb = grp * group + within % in_group, rank = within / in_group;
  const int m_block = interleave && (rank & 1) ? rank >> 1 : n_mblocks - 1 - (rank >> (interleave ? 1 : 0));
  return {hb / heads, hb % heads, m_block};
}

// PINGPONG (a tuning variant, docs/kernel-notebook.md v18; two consumer warpgroups only): the warpgroups take turns
// to issue their matrix products (named barriers 2 and 3), warpgroup 0 first, so that one's sigma phase falls on the
// other's products from the first k-tile on instead of after they drift apart by themselves.
template <int D, int BN, int NCWG, int MINB, typename T, bool EXACT, bool PINGPONG = false>
__global__ void __launch_bounds__(TmaFwdConfig<D, BN, NCWG, MINB>::kThreads, MINB)
    sa_fwd_tma_kernel(const KParams kp, const __grid_constant__ FwdTmaArgs args) {
#if SIGTRAIN_SA_WGMMA_ENABLED
  using Cfg = TmaFwdConfig<D, BN, NCWG, MINB>;
  constexpr int BM = Cfg::kBM, STAGES = Cfg::kStages;
  const SigmoidAttentionParams& p = kp.p;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t smem0 = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = smem0;
  auto sK = [&](int stage) { return smem0 + Cfg::kQBytes + stage * Cfg::kStageBytes; };
  auto sV = [&](int stage) { return sK(stage) + Cfg::kKVBytes; };
  const uint32_t bar_q = smem0 + Cfg::kBarOffset;
  auto bar_full = [&](int stage) { return bar_q + 8 + 8 * stage; };
  auto bar_empty = [&](int stage) { return bar_q + 8 + 8 * STAGES + 8 * stage; };

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int n_mblocks = (p.n_q + BM - 1) / BM;
  const FwdItem item = fwd_item(blockIdx.x, n_mblocks, p.heads_q, p.heads_q * p.batch, args.heads_per_group,
                                   args.interleave != 0);
  const int b = item.b, h = item.h;
  const SeqInfo si = seq_info(p, b);
  const int q0 = item.m_block * BM;
  T* optr = static_cast<T*>(p.o) + seq_base(p.o_strides, si.varlen_q, b, si.q_row0, h);
  const int64_t o_sn = p.o_strides.seq;
  if (q0 >= si.Lq) {  // rows past the sequence
    fwd_zero_o_tile<D, BM, Cfg::kThreads>(p, si, optr, q0, tid);
    return;
  }
  const int hk = h / kp.group;
  const int off = si.Lk - si.Lq;
  const int n_tiles = fwd_k_tiles<BM, BN>(p.causal, si, q0);
  if (n_tiles == 0) {  // no visible key: O = 0
    fwd_zero_o_tile<D, BM, Cfg::kThreads>(p, si, optr, q0, tid);
    return;
  }

  if (tid == 0) {
    mbar_init(bar_q, 1);
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(bar_full(s), 1);                      // the producer's arrive.expect_tx; TMA completes the bytes
      mbar_init(bar_empty(s), Cfg::kConsumers / 32);  // one arrival per consumer warp
    }
    fence_mbar_init();
  }
  __syncthreads();  // the only CTA-wide barrier: from here the warpgroups meet at mbarriers

  if (warp < 4) {
    // ---- producer ---------------------------------------------------------------------------------------------
    setmaxnreg_dec<Cfg::kProducerRegs>();
    if (tid == 0) {
      const int bq = si.varlen_q ? 0 : b, bk = si.varlen_k ? 0 : b;
      mbar_arrive_expect_tx(bar_q, Cfg::kQBytes);
#pragma unroll
      for (int cb = 0; cb < D / 64; ++cb)
        tma_load_4d(sQ + cb * (BM * 128), &args.q, bar_q, cb * 64, si.q_row0 + q0, h, bq);
      for (int t = 0; t < n_tiles; ++t) {
        const int s = t % STAGES;
        if (t >= STAGES) mbar_wait(bar_empty(s), ((t / STAGES) - 1) & 1);
        mbar_arrive_expect_tx(bar_full(s), Cfg::kStageBytes);
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
          tma_load_4d(sK(s) + cb * (BN * 128), &args.k, bar_full(s), cb * 64, si.k_row0 + t * BN, hk, bk);
          tma_load_4d(sV(s) + cb * (BN * 128), &args.v, bar_full(s), cb * 64, si.k_row0 + t * BN, hk, bk);
        }
      }
    }
    return;
  }

  // ---- consumers --------------------------------------------------------------------------------------------------
  setmaxnreg_inc<Cfg::kConsumerRegs>();
  const int ctid = tid - 128;                       // 0 .. kConsumers-1
  const int cw = ctid >> 7;                         // consumer warpgroup: query rows q0 + 64*cw ..
  const int row0 = q0 + cw * 64 + (warp & 3) * 16;  // this thread's rows: row0 + g, row0 + g + 8
  ScoreMod mod = make_score_mod(kp, b, si, h);
  const bool has_mods = mod.has_mods();
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);
  auto need_mask = [&](int k0) { return (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off); };

  // S = Q K^T for the K tile in `stage`: D/16 wgmma steps along the head dim.
  const uint32_t q_wg = sQ + cw * 64 * 128;
  auto issue_s = [&](float (&acc)[BN / 2], int stage) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t step = (kk & 3) * 32;  // 16 elements along the 128-byte row of the column block
      const uint64_t da = kmajor_desc(q_wg + (kk >> 2) * (BM * 128) + step);
      const uint64_t db = kmajor_desc(sK(stage) + (kk >> 2) * (BN * 128) + step);
      Wgmma<BN, T>::ss(acc, da, db, kk > 0 ? 1 : 0);
    }
  };
  // O += P V for the V tile in `stage`: BN/16 wgmma steps along the keys.
  auto issue_pv = [&](float (&acc)[D / 2], const uint32_t (&pa)[BN / 16][4], int stage) {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      Wgmma<D, T>::rs_bt(acc, pa[kk], mnmajor_desc(sV(stage) + kk * 16 * 128, BN * 128), 1);
  };
  auto release = [&](int stage) {
    __syncwarp();
    if (lane == 0) mbar_arrive(bar_empty(stage));
  };
  // PINGPONG: before issuing products, wait for my turn (barrier 2 + cw, which the other warpgroup arrives at after
  // its issue); afterwards give the turn away. Warpgroup 1 starts by giving warpgroup 0 the first turn and leaves its
  // own last turn ungiven, so that every barrier phase has exactly its 2 x 128 threads.
  static_assert(!PINGPONG || NCWG == 2, "ping-pong alternates two consumer warpgroups");
  constexpr int kTurnBar = 2;
  [[maybe_unused]] int turns_left = n_tiles + 1;  // S_0, one per loop iteration, the last P V
  auto my_turn = [&] {
    if constexpr (PINGPONG) named_barrier_sync(kTurnBar + cw, 2 * 128);
  };
  auto give_turn = [&] {
    if constexpr (PINGPONG)
      if (--turns_left > 0 || cw == 0) named_barrier_arrive(kTurnBar + (1 - cw), 2 * 128);
  };
  if constexpr (PINGPONG)
    if (cw == 1) named_barrier_arrive(kTurnBar, 2 * 128);

  float acc_s[BN / 2];
  float acc_o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) acc_o[i] = 0.f;
  uint32_t pa[BN / 16][4];

  mbar_wait(bar_q, 0);
  mbar_wait(bar_full(0), 0);
  my_turn();
  wgmma_fence();
  issue_s(acc_s, 0);
  wgmma_commit();
  give_turn();
  wgmma_wait<0>();
  fence_regs(acc_s);
  sigmoid_tile<BN, EXACT>(acc_s, mod, sc, has_mods, need_mask(0), row0, 0, g, tg);
  pack_p<BN, T>(pa, acc_s);

  // Branch-free loop body (the last tile is peeled off below): ptxas must see that S_{j+1} is complete after
  // wgmma_wait<1>, or it serialises every wgmma of the kernel.
  for (int j = 0; j + 1 < n_tiles; ++j) {
    const int s_next = (j + 1) % STAGES;
    mbar_wait(bar_full(s_next), ((j + 1) / STAGES) & 1);
    fence_regs(pa);
    fence_regs(acc_o);
    my_turn();
    wgmma_fence();
    issue_s(acc_s, s_next);
    wgmma_commit();
    issue_pv(acc_o, pa, j % STAGES);
    wgmma_commit();
    give_turn();
    wgmma_wait<1>();  // S_{j+1} done; O += P_j V_j may still run
    fence_regs(acc_s);
    sigmoid_tile<BN, EXACT>(acc_s, mod, sc, has_mods, need_mask((j + 1) * BN), row0, (j + 1) * BN, g, tg);
    wgmma_wait<0>();
    fence_regs(acc_o);
    fence_regs(pa);
    release(j % STAGES);  // K_j and V_j are no longer read by this warp
    pack_p<BN, T>(pa, acc_s);
  }
  const int s_last = (n_tiles - 1) % STAGES;
  if (n_tiles * BN > si.Lk) {
    // The last V tile reaches past the sequence: zero those rows (TMA brought whatever memory holds there). Both
    // consumer warpgroups read the tile, so they zero it together and meet before either multiplies.
    zero_tile_rows_sw128<BN, D, Cfg::kConsumers>(sV(s_last), si.Lk - (n_tiles - 1) * BN, ctid);
    fence_proxy_async_smem();
    named_barrier_sync(1, Cfg::kConsumers);
  }
  fence_regs(pa);
  fence_regs(acc_o);
  my_turn();
  wgmma_fence();
  issue_pv(acc_o, pa, s_last);
  wgmma_commit();
  give_turn();
  wgmma_wait<0>();
  fence_regs(acc_o);

  // ---- Epilogue: rows < L_q get O, padded rows (< n_q, padded layout only) get 0 -----------------------------
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int r = row0 + g + 8 * hr;
    const bool valid = r < si.Lq;
    if (valid || (!si.varlen_q && r < p.n_q)) {
      T* orow = optr + static_cast<int64_t>(r) * o_sn + 2 * tg;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const uint32_t v = valid ? MmaType<T>::pack(acc_o[4 * dt + 2 * hr], acc_o[4 * dt + 2 * hr + 1]) : 0u;
        *reinterpret_cast<uint32_t*>(orow + dt * 8) = v;
      }
    }
  }
#else
  (void)kp;  // not built for this target; the host launches this kernel on sm_90 only
  (void)args;
#endif
}
template <int D, int BN, int NCWG, int MINB, typename T, bool EXACT, bool PINGPONG = false>
void launch_fwd_tma(const KParams& kp, cudaStream_t stream) {
  using Cfg = TmaFwdConfig<D, BN, NCWG, MINB>;
  const SigmoidAttentionParams& p = kp.p;
  const bool packed = p.cu_seqlens_q != nullptr;
  FwdTmaArgs args;
  args.q = make_sw128_tensor_map(p.q, p.q_strides, packed, packed ? p.total_q : p.n_q, p.heads_q, p.batch, D,
                                 Cfg::kBM, "q");
  args.k = make_sw128_tensor_map(p.k, p.k_strides, packed, packed ? p.total_k : p.n_k, p.heads_kv, p.batch, D, BN,
                                 "k");
  args.v = make_sw128_tensor_map(p.v, p.v_strides, packed, packed ? p.total_k : p.n_k, p.heads_kv, p.batch, D, BN,
                                 "v");
  const int64_t n_items = static_cast<int64_t>((p.n_q + Cfg::kBM - 1) / Cfg::kBM) * p.heads_q * p.batch;
  if (n_items > INT_MAX)
    throw std::invalid_argument("sigmoid_attention_forward: more than 2^31 - 1 q-tiles x heads x sequences");
  // Causal: (sequence, head) pairs in groups whose K/V (~8 MB) stays in L2, q-tiles interleaved heaviest / lightest
  // (fwd_item) so that the launch does not end on long rows. Not causal: one pair at a time (each q-tile reads all
  // of its K/V), in order. Measured against the alternatives in docs/kernel-notebook.md (v7).
  const int64_t kv_bytes_per_pair = static_cast<int64_t>(std::max(p.n_k, 1)) * D * 2 * 2;
  args.heads_per_group =
      p.causal ? static_cast<int>(std::clamp<int64_t>((int64_t{8} << 20) / kv_bytes_per_pair, 1,
                                                      static_cast<int64_t>(p.heads_q) * p.batch))
               : 1;
  args.interleave = p.causal ? 1 : 0;
  auto kernel = sa_fwd_tma_kernel<D, BN, NCWG, MINB, T, EXACT, PINGPONG>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  if (n_items > 0) kernel<<<static_cast<unsigned>(n_items), Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp, args);
}

}  // namespace sigtrain::kernels::detail
