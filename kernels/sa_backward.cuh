// Sigmoid-attention backward kernel (FlashAttention-2 style, mma.sync), no LSE and no rowsum(dO*O) pre-pass.
//
// CTA = (k-tile of BN = 16*NW keys and a slice of D / SPLIT head-dim columns, kv head, sequence). Each warp owns
// 16 keys. K and V stay in shared memory for the whole CTA; the CTA loops over the q-heads of its GQA group and over
// q-tiles of BM rows (Q and dO double-buffered through cp.async), and keeps dK and dV in fp32 registers
// (deterministic, summed over the group):
//   S^T = K Q^T, dP^T = V dO^T                         (per warp: 16 keys x BM queries, fp32 regs)
//   P^T = sigma(.), dS^T = P(1-P) dP (0 where masked)   (registers)
//   dV += P^T dO, dK += dS^T Q                          (A operands straight from registers)
//   dS^T -> shared memory; dQ_tile = dS K               (warps re-tiled over BM x D)
//   dQ_accum (fp32, global) += dQ_tile by atomics; a small kernel scales and converts it afterwards.
// With SPLIT > 1 (head dim 256) the S^T and dP^T products use the full head dim and everything after them only the
// CTA's DV = D / SPLIT columns (of dV, dK, dQ), so its accumulators fit in registers.
// Causal block skipping: the q-loop starts at the first q-tile that can see this k-tile.
#pragma once

#include <algorithm>

#include "sa_common.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {

template <int D, int BM, int NW, int SPLIT>
struct BwdConfig {
  static constexpr int kD = D, kBM = BM, kNW = NW, kBN = 16 * NW, kThreads = NW * 32, kPitch = D + 8;
  static constexpr int kSplit = SPLIT, kDV = D / SPLIT;  // head-dim columns of dK, dV, dQ per CTA
  static constexpr int kSPitch = BM + 8;
  static constexpr int kWM = BM / 16;       // dQ tiling: warps along M
  static constexpr int kWN = NW / kWM;      // warps along the CTA's DV columns
  static constexpr int kDN = kDV / kWN;     // DV columns per warp
  static_assert(D % SPLIT == 0 && kDV % 16 == 0, "bad head-dim split");
  static_assert(NW % kWM == 0 && kDV % kWN == 0 && kDN % 16 == 0, "bad dQ warp tiling");
  static constexpr size_t kSmemBytes =
      static_cast<size_t>(2 * kBN + 4 * BM) * kPitch * 2 + static_cast<size_t>(kBN) * kSPitch * 2;
};

template <int D, int BM, int NW, int SPLIT, typename T, bool EXACT>
__global__ void __launch_bounds__(NW * 32, 1) sa_bwd_kernel(const KParams kp) {
  using Cfg = BwdConfig<D, BM, NW, SPLIT>;
  constexpr int BN = Cfg::kBN, PITCH = Cfg::kPitch, SPITCH = Cfg::kSPitch, THREADS = Cfg::kThreads;
  constexpr int WM = Cfg::kWM, DN = Cfg::kDN, DV = Cfg::kDV;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sK = reinterpret_cast<T*>(smem_raw);  // [BN][PITCH]
  T* sV = sK + BN * PITCH;                 // [BN][PITCH]
  T* sQ = sV + BN * PITCH;                 // [2][BM][PITCH]
  T* sdO = sQ + 2 * BM * PITCH;            // [2][BM][PITCH]
  T* sdS = sdO + 2 * BM * PITCH;           // [BN][SPITCH]  (dS^T: keys x queries)

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int b = blockIdx.z, hk = blockIdx.y;
  const int k0 = (blockIdx.x / SPLIT) * BN;
  const int split = SPLIT > 1 ? blockIdx.x % SPLIT : 0;
  const int c0 = split * DV;  // this CTA's first column of dK, dV, dQ
  const SeqInfo si = seq_info(p, b);

  T* dkptr = static_cast<T*>(p.dk) + seq_base(p.dk_strides, si.varlen_k, b, si.k_row0, hk);
  T* dvptr = static_cast<T*>(p.dv) + seq_base(p.dv_strides, si.varlen_k, b, si.k_row0, hk);
  // Rows without work are zeroed whole by the split-0 CTA.
  const QTileSpan span = bwd_q_tiles<D, BM, BN, THREADS>(p, si, k0, dkptr, dvptr, split == 0, tid);
  if (span.nm <= 0) return;
  const int off = si.Lk - si.Lq;
  const int m_begin = span.m_begin, nm = span.nm, row_end = span.row_end;
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
    load_tile_async<BM, D, THREADS>(sQ + stage * BM * PITCH, qbase + h * q_sh, q_sn, q0, si.Lq, tid);
    load_tile_async<BM, D, THREADS>(sdO + stage * BM * PITCH, dobase + h * do_sh, do_sn, q0, si.Lq, tid);
  };

  load_tile_async<BN, D, THREADS>(sK, kg, p.k_strides.seq, k0, si.Lk, tid);
  load_tile_async<BN, D, THREADS>(sV, vg, p.v_strides.seq, k0, si.Lk, tid);
  issue_q(0, 0);
  cp_async_commit();
  if (n_iter > 1) issue_q(1, 1);
  cp_async_commit();

  ScoreMod mod = make_score_mod(kp, b, si, hk * kp.group);  // slope: set per q-head in the loop
  const bool has_mods = mod.has_mods();
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);

  float acc_dk[DV / 8][4], acc_dv[DV / 8][4];
#pragma unroll
  for (int i = 0; i < DV / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc_dk[i][e] = acc_dv[i][e] = 0.f;

  const int key_lo = warp * 16 + g;  // this thread's keys in the tile: key_lo, key_lo + 8
  const int mw = warp % WM, nw = warp / WM;

  for (int t = 0; t < n_iter; ++t) {
    cp_async_wait<1>();
    __syncthreads();
    const int stage = t & 1;
    const int h = hk * group + t / nm;
    const int q0 = (m_begin + t % nm) * BM;
    const T* sQs = sQ + stage * BM * PITCH;
    const T* sdOs = sdO + stage * BM * PITCH;

    // ---- S^T = K Q^T and dP^T = V dO^T ----------------------------------------------------------------------
    float acc_s[BM / 8][4], acc_dp[BM / 8][4];
#pragma unroll
    for (int i = 0; i < BM / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_s[i][e] = acc_dp[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t ak[4], av[4];
      ldsm_x4(ak, smem_u32(sK + (warp * 16 + (lane & 15)) * PITCH + kk * 16 + (lane >> 4) * 8));
      ldsm_x4(av, smem_u32(sV + (warp * 16 + (lane & 15)) * PITCH + kk * 16 + (lane >> 4) * 8));
#pragma unroll
      for (int np = 0; np < BM / 16; ++np) {
        const int boff = (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * PITCH + kk * 16 + ((lane >> 3) & 1) * 8;
        uint32_t bq[4], bo[4];
        ldsm_x4(bq, smem_u32(sQs + boff));
        mma16816<T>(acc_s[2 * np], ak, bq[0], bq[1]);
        mma16816<T>(acc_s[2 * np + 1], ak, bq[2], bq[3]);
        ldsm_x4(bo, smem_u32(sdOs + boff));
        mma16816<T>(acc_dp[2 * np], av, bo[0], bo[1]);
        mma16816<T>(acc_dp[2 * np + 1], av, bo[2], bo[3]);
      }
    }

    // ---- P^T = sigma(S^T), dS^T = P(1-P) dP^T (element (key, query)) ---------------------------------------------
    const bool need_mask = (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off);
    if (!need_mask && !has_mods) {
      // Fast path for interior tiles. Boundary tiles take the general path below: a compare + select inside this
      // loop measured 5-10 % slower (register pressure at 255 registers; docs/kernel-notebook.md).
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float pr = sigmoid_fast<EXACT>(acc_s[nt][e], sc);
          const float pd = pr * acc_dp[nt][e];
          acc_s[nt][e] = pr;
          acc_dp[nt][e] = fmaf(-pr, pd, pd);
        }
    } else {
      mod.slope = mod.alibi ? p.alibi_slopes[h] : 0.f;
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int jj = k0 + key_lo + 8 * (e >> 1);
          const int i = q0 + nt * 8 + 2 * tg + (e & 1);
          const float pr = mod.valid(i, jj) ? sigmoid_of<EXACT>(mod.score(acc_s[nt][e], i, jj)) : 0.f;
          const float pd = pr * acc_dp[nt][e];
          acc_s[nt][e] = pr;
          acc_dp[nt][e] = fmaf(-pr, pd, pd);
        }
    }

    // ---- dV += P^T dO, dK += dS^T Q; dS^T -> shared ------------------------------------------------------------
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t ap[4], ad[4];
      ap[0] = MmaType<T>::pack(acc_s[2 * kk][0], acc_s[2 * kk][1]);
      ap[1] = MmaType<T>::pack(acc_s[2 * kk][2], acc_s[2 * kk][3]);
      ap[2] = MmaType<T>::pack(acc_s[2 * kk + 1][0], acc_s[2 * kk + 1][1]);
      ap[3] = MmaType<T>::pack(acc_s[2 * kk + 1][2], acc_s[2 * kk + 1][3]);
      ad[0] = MmaType<T>::pack(acc_dp[2 * kk][0], acc_dp[2 * kk][1]);
      ad[1] = MmaType<T>::pack(acc_dp[2 * kk][2], acc_dp[2 * kk][3]);
      ad[2] = MmaType<T>::pack(acc_dp[2 * kk + 1][0], acc_dp[2 * kk + 1][1]);
      ad[3] = MmaType<T>::pack(acc_dp[2 * kk + 1][2], acc_dp[2 * kk + 1][3]);
      uint32_t* srow0 = reinterpret_cast<uint32_t*>(sdS + key_lo * SPITCH + kk * 16 + 2 * tg);
      uint32_t* srow1 = reinterpret_cast<uint32_t*>(sdS + (key_lo + 8) * SPITCH + kk * 16 + 2 * tg);
      srow0[0] = ad[0];
      srow1[0] = ad[1];
      srow0[4] = ad[2];  // +8 elements
      srow1[4] = ad[3];
#pragma unroll
      for (int dp = 0; dp < DV / 16; ++dp) {
        const int boff = (kk * 16 + (lane & 15)) * PITCH + c0 + dp * 16 + (lane >> 4) * 8;
        uint32_t bo[4], bq[4];
        ldsm_x4_t(bo, smem_u32(sdOs + boff));
        mma16816<T>(acc_dv[2 * dp], ap, bo[0], bo[1]);
        mma16816<T>(acc_dv[2 * dp + 1], ap, bo[2], bo[3]);
        ldsm_x4_t(bq, smem_u32(sQs + boff));
        mma16816<T>(acc_dk[2 * dp], ad, bq[0], bq[1]);
        mma16816<T>(acc_dk[2 * dp + 1], ad, bq[2], bq[3]);
      }
    }
    __syncthreads();  // dS^T complete

    // ---- dQ_tile = dS K (warp tile: 16 rows x DN cols), atomically added to the fp32 accumulator -----------------
    {
      float acc_dq[DN / 8][4];
#pragma unroll
      for (int i = 0; i < DN / 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc_dq[i][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t a[4];
        ldsm_x4_t(a, smem_u32(sdS + (kk * 16 + (lane & 7) + ((lane >> 4) << 3)) * SPITCH + mw * 16 +
                              ((lane >> 3) & 1) * 8));
#pragma unroll
        for (int dp = 0; dp < DN / 16; ++dp) {
          uint32_t bk[4];
          ldsm_x4_t(bk, smem_u32(sK + (kk * 16 + (lane & 15)) * PITCH + c0 + nw * DN + dp * 16 + (lane >> 4) * 8));
          mma16816<T>(acc_dq[2 * dp], a, bk[0], bk[1]);
          mma16816<T>(acc_dq[2 * dp + 1], a, bk[2], bk[3]);
        }
      }
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int r = q0 + mw * 16 + g + 8 * hr;
        if (r < si.Lq) {
          float* dst = kp.dq_accum + ((dq_row0 + r) * Hq + h) * static_cast<int64_t>(D) + c0 + nw * DN + 2 * tg;
#pragma unroll
          for (int nt = 0; nt < DN / 8; ++nt) atomic_add2(dst + nt * 8, acc_dq[nt][2 * hr], acc_dq[nt][2 * hr + 1]);
        }
      }
    }
    __syncthreads();  // everyone done with sdS and this Q/dO stage
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
      T* dkrow = dkptr + static_cast<int64_t>(r) * p.dk_strides.seq + c0 + 2 * tg;
      T* dvrow = dvptr + static_cast<int64_t>(r) * p.dv_strides.seq + c0 + 2 * tg;
#pragma unroll
      for (int dt = 0; dt < DV / 8; ++dt) {
        const uint32_t vk =
            valid ? MmaType<T>::pack(acc_dk[dt][2 * hr] * scale, acc_dk[dt][2 * hr + 1] * scale) : 0u;
        const uint32_t vv = valid ? MmaType<T>::pack(acc_dv[dt][2 * hr], acc_dv[dt][2 * hr + 1]) : 0u;
        *reinterpret_cast<uint32_t*>(dkrow + dt * 8) = vk;
        *reinterpret_cast<uint32_t*>(dvrow + dt * 8) = vv;
      }
    }
  }
}

// dQ = scale * dQ_accum, converted; padded rows (never accumulated, zeroed by the memset) come out as 0.
template <int D, typename T>
__global__ void sa_dq_convert_kernel(const KParams kp) {
  const SigmoidAttentionParams& p = kp.p;
  constexpr int CH = D / 8;
  const int64_t total_rows = static_cast<int64_t>(p.batch) * p.n_q;
  const int64_t n = total_rows * p.heads_q * CH;
  const int64_t packed_rows = p.cu_seqlens_q ? p.cu_seqlens_q[p.batch] : total_rows;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int cc = idx % CH;
    const int64_t rh = idx / CH;
    const int h = rh % p.heads_q;
    const int64_t row = rh / p.heads_q;
    if (row >= packed_rows) continue;
    int64_t dst_off;
    if (p.cu_seqlens_q) {
      dst_off = row * p.dq_strides.seq + h * p.dq_strides.head;
    } else {
      const int64_t bb = row / p.n_q, r = row % p.n_q;
      dst_off = bb * p.dq_strides.batch + r * p.dq_strides.seq + h * p.dq_strides.head;
    }
    const float4* src = reinterpret_cast<const float4*>(kp.dq_accum + rh * D + cc * 8);
    *reinterpret_cast<uint4*>(static_cast<T*>(p.dq) + dst_off + cc * 8) = pack8_scaled<T>(src[0], src[1], kp.scale);
  }
}

// dQ = scale * dQ_accum for the whole call, after the backward kernel on the same stream.
template <int D, typename T>
void launch_dq_convert(const KParams& kp, cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(kp.p.batch) * kp.p.n_q * kp.p.heads_q * (D / 8);
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 132 * 16);
  if (n > 0) sa_dq_convert_kernel<D, T><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(kp);
}

template <int D, int BM, int NW, int SPLIT, typename T, bool EXACT>
void launch_bwd(const KParams& kp, cudaStream_t stream) {
  using Cfg = BwdConfig<D, BM, NW, SPLIT>;
  auto kernel = sa_bwd_kernel<D, BM, NW, SPLIT, T, EXACT>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  // The SPLIT column slices of one k-tile are neighbours in the grid, so they read the same K, V, Q, dO from L2.
  dim3 grid((kp.p.n_k + Cfg::kBN - 1) / Cfg::kBN * SPLIT, kp.p.heads_kv, kp.p.batch);
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp);
  launch_dq_convert<D, T>(kp, stream);
}

// The mma.sync backward of head dim D with its production tile (BwdTile<D, 0>; tuning builds: variant 1),
// instantiated once per head dim (SIGTRAIN_SA_INSTANTIATE) in sa_bwd_dD.cu.
template <int D, typename T, bool EXACT>
void run_bwd(const KParams& kp, cudaStream_t stream, int variant) {
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) launch_bwd<D, BwdTile<D, 1>::BM, BwdTile<D, 1>::NW, BwdTile<D, 1>::SPLIT, T, EXACT>(kp, stream);
  else launch_bwd<D, BwdTile<D, 0>::BM, BwdTile<D, 0>::NW, BwdTile<D, 0>::SPLIT, T, EXACT>(kp, stream);
#else
  (void)variant;
  launch_bwd<D, BwdTile<D, 0>::BM, BwdTile<D, 0>::NW, BwdTile<D, 0>::SPLIT, T, EXACT>(kp, stream);
#endif
}

}  // namespace sigtrain::kernels::detail
