// Sigmoid-attention forward kernel for Hopper (sm_90a): wgmma with operands in 128B-swizzled shared memory.
//
// CTA = (q-tile of BM = 64*NWG rows, query head, sequence); NWG warpgroups of 4 warps, each owning 64 query rows.
// K/V tiles of BN keys go through a 3-stage cp.async ring (every thread loads; rows past the sequence are zero),
// with one CTA barrier per tile.
// Per k-tile j, each warpgroup (software-pipelined one tile ahead):
//   issue S_{j+1} = Q K_{j+1}^T   (wgmma, A = Q and B = K from shared memory)
//   issue O += P_j V_j            (wgmma, A = P_j from registers, B = V from shared memory, transposed)
//   wait for S_{j+1}; P_{j+1} = sigma(scale*S + b [+ mods], masked = 0) while O += P_j V_j runs on the tensor cores
//   wait for O; pack P_{j+1} to 16 bits (the accumulator layout of S is the A-operand layout of the next wgmma)
// No running max, no rescale, no LSE. Causal block skipping and the per-element masking of boundary tiles are the
// mma.sync kernel's (sa_forward.cuh), through the shared ScoreMod / SeqInfo helpers.
#pragma once

#include "sa_common.cuh"
#include "sa_hopper.cuh"

namespace sigtrain::kernels::detail {

template <int D, int BN, int NWG, int MINB>
struct WgFwdConfig {
  static constexpr int kBM = 64 * NWG, kThreads = 128 * NWG, kStages = 3;
  static constexpr uint32_t kQBytes = kBM * D * 2, kKVBytes = BN * D * 2, kStageBytes = 2 * kKVBytes;
  static constexpr size_t kSmemBytes = kQBytes + kStages * kStageBytes + 1024;  // + slack to align to 1024
};

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

template <int D, int BN, int NWG, int MINB, typename T, bool EXACT>
__global__ void __launch_bounds__(NWG * 128, MINB) sa_fwd_wgmma_kernel(const KParams kp) {
#if SIGTRAIN_SA_WGMMA_ENABLED
  using Cfg = WgFwdConfig<D, BN, NWG, MINB>;
  constexpr int BM = Cfg::kBM, THREADS = Cfg::kThreads, STAGES = Cfg::kStages;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t smem0 = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = smem0;
  auto sK = [&](int stage) { return smem0 + Cfg::kQBytes + stage * Cfg::kStageBytes; };
  auto sV = [&](int stage) { return smem0 + Cfg::kQBytes + stage * Cfg::kStageBytes + Cfg::kKVBytes; };

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int wg = warp >> 2;
  const int b = blockIdx.z, h = blockIdx.y;
  const int m_block = gridDim.x - 1 - blockIdx.x;  // heaviest (causal) tiles first
  const SeqInfo si = seq_info(p, b);
  const int q0 = m_block * BM;

  T* optr = static_cast<T*>(p.o) + seq_base(p.o_strides, si.varlen_q, b, si.q_row0, h);
  const int64_t o_sn = p.o_strides.seq;
  if (q0 >= si.Lq) {
    if (!si.varlen_q) zero_rows<D, THREADS>(optr, o_sn, q0, min(q0 + BM, p.n_q), tid);
    return;
  }
  const int hk = h / kp.group;
  const int off = si.Lk - si.Lq;
  int k_end = si.Lk;
  if (p.causal) k_end = min(k_end, q0 + BM + off);
  const int n_tiles = k_end > 0 ? (k_end + BN - 1) / BN : 0;
  if (n_tiles == 0) {  // no visible key: O = 0
    const int r_end = si.varlen_q ? si.Lq : p.n_q;
    zero_rows<D, THREADS>(optr, o_sn, q0, min(q0 + BM, r_end), tid);
    return;
  }
  const int row0 = q0 + wg * 64 + (warp & 3) * 16;  // this thread's rows: row0 + g, row0 + g + 8

  const T* qg = static_cast<const T*>(p.q) + seq_base(p.q_strides, si.varlen_q, b, si.q_row0, h);
  const T* kg = static_cast<const T*>(p.k) + seq_base(p.k_strides, si.varlen_k, b, si.k_row0, hk);
  const T* vg = static_cast<const T*>(p.v) + seq_base(p.v_strides, si.varlen_k, b, si.k_row0, hk);

  ScoreMod mod;
  mod.scale = kp.scale;
  mod.b = seq_bias(p, b, si.Lk);
  mod.alibi = p.alibi_slopes != nullptr;
  mod.slope = mod.alibi ? p.alibi_slopes[h] : 0.f;
  mod.kb = p.key_bias ? p.key_bias + static_cast<int64_t>(b) * p.key_bias_stride_batch : nullptr;
  mod.off = off;
  mod.Lk = si.Lk;
  mod.causal = p.causal;
  const bool has_mods = mod.alibi || mod.kb != nullptr;
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);
  auto need_mask = [&](int k0) { return (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off); };

  // Prologue: Q + tile 0 (group 0), tiles 1 and 2 (groups 1, 2; possibly empty). Every iteration commits one group.
  auto load_kv = [&](int tile, int stage) {
    load_tile_sw128<BN, D, THREADS>(sK(stage), kg, p.k_strides.seq, tile * BN, si.Lk, tid);
    load_tile_sw128<BN, D, THREADS>(sV(stage), vg, p.v_strides.seq, tile * BN, si.Lk, tid);
  };
  load_tile_sw128<BM, D, THREADS>(sQ, qg, p.q_strides.seq, q0, si.Lq, tid);
  load_kv(0, 0);
  cp_async_commit();
#pragma unroll
  for (int t = 1; t < STAGES; ++t) {
    if (t < n_tiles) load_kv(t, t);
    cp_async_commit();
  }

  // S = Q K^T for the K tile in `stage`: D/16 wgmma steps along the head dim.
  const uint32_t q_wg = sQ + wg * 64 * 128;
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

  float acc_s[BN / 2];
  float acc_o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) acc_o[i] = 0.f;
  uint32_t pa[BN / 16][4];

  cp_async_wait<STAGES - 2>();  // Q and tiles 0, 1 landed (tile 1 is the first S_{j+1} of the loop)
  fence_proxy_async_smem();
  __syncthreads();
  wgmma_fence();
  issue_s(acc_s, 0);
  wgmma_commit();
  wgmma_wait<0>();
  fence_regs(acc_s);
  sigmoid_tile<BN, EXACT>(acc_s, mod, sc, has_mods, need_mask(0), row0, 0, g, tg);
  pack_p<BN, T>(pa, acc_s);

  // The loop body is branch-free (the last tile is peeled off below): ptxas must see that S_{j+1} is complete after
  // wgmma_wait<1>, or it serialises every wgmma of the kernel.
  // One barrier per tile, at its end: it both frees stage j % STAGES and publishes tile j+2 (issued one iteration
  // earlier), which the next iteration's S_{j+2} reads.
  for (int j = 0; j + 1 < n_tiles; ++j) {
    fence_regs(pa);
    fence_regs(acc_o);
    wgmma_fence();
    issue_s(acc_s, (j + 1) % STAGES);
    wgmma_commit();
    issue_pv(acc_o, pa, j % STAGES);
    wgmma_commit();
    wgmma_wait<1>();  // S_{j+1} done; O += P_j V_j may still run
    fence_regs(acc_s);
    sigmoid_tile<BN, EXACT>(acc_s, mod, sc, has_mods, need_mask((j + 1) * BN), row0, (j + 1) * BN, g, tg);
    wgmma_wait<0>();
    fence_regs(acc_o);
    fence_regs(pa);
    pack_p<BN, T>(pa, acc_s);
    cp_async_wait<0>();  // tile j+2 (the newest group) landed
    fence_proxy_async_smem();
    __syncthreads();  // ... for every thread; and every warpgroup is done with stage j % STAGES (K_j, V_j)
    if (j + STAGES < n_tiles) load_kv(j + STAGES, j % STAGES);
    cp_async_commit();
  }
  fence_regs(pa);
  fence_regs(acc_o);
  wgmma_fence();
  issue_pv(acc_o, pa, (n_tiles - 1) % STAGES);
  wgmma_commit();
  wgmma_wait<0>();
  fence_regs(acc_o);
  cp_async_wait<0>();

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
#endif
}

template <int D, int BN, int NWG, int MINB, typename T, bool EXACT>
void launch_fwd_wgmma(const KParams& kp, cudaStream_t stream) {
  using Cfg = WgFwdConfig<D, BN, NWG, MINB>;
  auto kernel = sa_fwd_wgmma_kernel<D, BN, NWG, MINB, T, EXACT>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  dim3 grid((kp.p.n_q + Cfg::kBM - 1) / Cfg::kBM, kp.p.heads_q, kp.p.batch);
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp);
}

}  // namespace sigtrain::kernels::detail
