// Sigmoid-attention forward kernel (FlashAttention-2 style, mma.sync).
//
// CTA = (q-tile of BM = 16*MT*NW rows, query head, sequence). Each warp owns 16*MT query rows; its Q fragments stay
// in registers (QREG) or are re-read from shared memory. Loop over k-tiles of BN keys (K and V double-buffered through cp.async, two tiles in flight):
//   S = Q K^T (fp32 regs) -> P = sigma(scale*S + b [+ mods], masked = 0) -> P as bf16/fp16 A-fragments -> O += P V.
// No running max, no rescale, no LSE. Causal block skipping: the k-loop stops at the last tile a row of this q-tile
// can see. Only tiles that straddle the causal diagonal or the key length (or runs with ALiBi / key bias) take the
// per-element path.
#pragma once

#include "sa_common.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {

// D: head dim; BN: keys per k-tile; NW: warps; MT: 16-row m-tiles per warp (each K/V fragment read from shared
// memory feeds MT mma's: MT=2 halves the shared-memory traffic per flop); QREG: keep Q's A-fragments in registers
// for the whole CTA (else re-read from shared memory at every k-tile).
template <int D, int BN, int NW, int MT, bool QREG>
struct FwdConfig {
  static constexpr int kD = D, kBN = BN, kNW = NW, kMT = MT, kBM = 16 * MT * NW, kThreads = NW * 32,
                       kPitch = D + 8;
  static constexpr size_t kSmemBytes = static_cast<size_t>(kBM + 4 * kBN) * kPitch * 2;  // Q + 2x(K,V)
};

template <int D, int BN, int NW, int MT, bool QREG, typename T, bool EXACT>
__global__ void __launch_bounds__(NW * 32, 1) sa_fwd_kernel(const KParams kp) {
  using Cfg = FwdConfig<D, BN, NW, MT, QREG>;
  constexpr int BM = Cfg::kBM, PITCH = Cfg::kPitch, THREADS = Cfg::kThreads;
  const SigmoidAttentionParams& p = kp.p;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * PITCH;      // [2][BN][PITCH]
  T* sV = sK + 2 * BN * PITCH;  // [2][BN][PITCH]

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int b = blockIdx.z, h = blockIdx.y;
  const int m_block = gridDim.x - 1 - blockIdx.x;  // heaviest (causal) tiles first
  const SeqInfo si = seq_info(p, b);
  const int q0 = m_block * BM;

  T* optr = static_cast<T*>(p.o) + seq_base(p.o_strides, si.varlen_q, b, si.q_row0, h);
  const int64_t o_sn = p.o_strides.seq;
  if (q0 >= si.Lq) {  // rows past the sequence
    fwd_zero_o_tile<D, BM, THREADS>(p, si, optr, q0, tid);
    return;
  }
  const int hk = h / kp.group;
  const int off = si.Lk - si.Lq;
  const int n_tiles = fwd_k_tiles<BM, BN>(p.causal, si, q0);

  const int warp_row0 = warp * 16 * MT;  // this warp's first row in the tile; thread rows: + mt*16 + g (+8)
  if (n_tiles == 0) {                    // no visible key: O = 0
    fwd_zero_o_tile<D, BM, THREADS>(p, si, optr, q0, tid);
    return;
  }

  const T* qg = static_cast<const T*>(p.q) + seq_base(p.q_strides, si.varlen_q, b, si.q_row0, h);
  const T* kg = static_cast<const T*>(p.k) + seq_base(p.k_strides, si.varlen_k, b, si.k_row0, hk);
  const T* vg = static_cast<const T*>(p.v) + seq_base(p.v_strides, si.varlen_k, b, si.k_row0, hk);

  ScoreMod mod = make_score_mod(kp, b, si, h);
  const bool has_mods = mod.has_mods();
  const ScoreConsts sc = score_consts<EXACT>(kp.scale, mod.b);

  // Prologue: Q + tile 0 in group 0, tile 1 in group 1 (possibly empty).
  load_tile_async<BM, D, THREADS>(sQ, qg, p.q_strides.seq, q0, si.Lq, tid);
  load_tile_async<BN, D, THREADS>(sK, kg, p.k_strides.seq, 0, si.Lk, tid);
  load_tile_async<BN, D, THREADS>(sV, vg, p.v_strides.seq, 0, si.Lk, tid);
  cp_async_commit();
  if (n_tiles > 1) {
    load_tile_async<BN, D, THREADS>(sK + BN * PITCH, kg, p.k_strides.seq, BN, si.Lk, tid);
    load_tile_async<BN, D, THREADS>(sV + BN * PITCH, vg, p.v_strides.seq, BN, si.Lk, tid);
  }
  cp_async_commit();

  float acc_o[MT][D / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) acc_o[mt][i][0] = acc_o[mt][i][1] = acc_o[mt][i][2] = acc_o[mt][i][3] = 0.f;
  uint32_t qf[QREG ? MT : 1][QREG ? D / 16 : 1][4];
  auto q_addr = [&](int mt, int kk) {
    return smem_u32(sQ + (warp_row0 + mt * 16 + (lane & 15)) * PITCH + kk * 16 + (lane >> 4) * 8);
  };

  for (int j = 0; j < n_tiles; ++j) {
    cp_async_wait<1>();
    __syncthreads();
    if constexpr (QREG) {
      if (j == 0) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int kk = 0; kk < D / 16; ++kk) ldsm_x4(qf[mt][kk], q_addr(mt, kk));
      }
    }
    const T* sKj = sK + (j & 1) * BN * PITCH;
    const T* sVj = sV + (j & 1) * BN * PITCH;

    // ---- S = Q K^T -------------------------------------------------------------------------------------------
    float acc_s[MT][BN / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) acc_s[mt][i][0] = acc_s[mt][i][1] = acc_s[mt][i][2] = acc_s[mt][i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[MT][4];
      if constexpr (QREG) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int e = 0; e < 4; ++e) qa[mt][e] = qf[mt][kk][e];
      } else {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) ldsm_x4(qa[mt], q_addr(mt, kk));
      }
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t bk[4];
        ldsm_x4(bk, smem_u32(sKj + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * PITCH + kk * 16 +
                             ((lane >> 3) & 1) * 8));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816<T>(acc_s[mt][2 * np], qa[mt], bk[0], bk[1]);
          mma16816<T>(acc_s[mt][2 * np + 1], qa[mt], bk[2], bk[3]);
        }
      }
    }

    // ---- P = sigma(S) (tile loop / masking, independent of the MMA layout except for the index map) ----------
    const int k0 = j * BN;
    const bool need_mask = (k0 + BN > si.Lk) || (p.causal && k0 + BN - 1 > q0 + off);
    if (!has_mods) {
      // Fast path: one FMA + sigma per score; boundary tiles (causal diagonal, key end) add a compare + select.
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc_s[mt][nt][e] = sigmoid_fast<EXACT>(acc_s[mt][nt][e], sc);
      if (need_mask) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int i = q0 + warp_row0 + mt * 16 + g + 8 * (e >> 1);
              const int jj = k0 + nt * 8 + 2 * tg + (e & 1);
              if (!mod.valid(i, jj)) acc_s[mt][nt][e] = 0.f;
            }
      }
    } else {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int i = q0 + warp_row0 + mt * 16 + g + 8 * (e >> 1);
            const int jj = k0 + nt * 8 + 2 * tg + (e & 1);
            acc_s[mt][nt][e] =
                mod.valid(i, jj) ? sigmoid_of<EXACT>(mod.score(acc_s[mt][nt][e], i, jj)) : 0.f;
          }
        }
    }

    // ---- O += P V ----------------------------------------------------------------------------------------------
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        a[mt][0] = MmaType<T>::pack(acc_s[mt][2 * kk][0], acc_s[mt][2 * kk][1]);
        a[mt][1] = MmaType<T>::pack(acc_s[mt][2 * kk][2], acc_s[mt][2 * kk][3]);
        a[mt][2] = MmaType<T>::pack(acc_s[mt][2 * kk + 1][0], acc_s[mt][2 * kk + 1][1]);
        a[mt][3] = MmaType<T>::pack(acc_s[mt][2 * kk + 1][2], acc_s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t bv[4];
        ldsm_x4_t(bv, smem_u32(sVj + (kk * 16 + (lane & 15)) * PITCH + dp * 16 + (lane >> 4) * 8));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816<T>(acc_o[mt][2 * dp], a[mt], bv[0], bv[1]);
          mma16816<T>(acc_o[mt][2 * dp + 1], a[mt], bv[2], bv[3]);
        }
      }
    }

    __syncthreads();  // every warp is done with stage j&1
    if (j + 2 < n_tiles) {
      T* dK = sK + (j & 1) * BN * PITCH;
      T* dV = sV + (j & 1) * BN * PITCH;
      load_tile_async<BN, D, THREADS>(dK, kg, p.k_strides.seq, (j + 2) * BN, si.Lk, tid);
      load_tile_async<BN, D, THREADS>(dV, vg, p.v_strides.seq, (j + 2) * BN, si.Lk, tid);
    }
    cp_async_commit();
  }
  cp_async_wait<0>();

  // ---- Epilogue: rows < L_q get O, padded rows (< n_q, padded layout only) get 0 -----------------------------
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int r = q0 + warp_row0 + mt * 16 + g + 8 * hr;
      const bool valid = r < si.Lq;
      if (valid || (!si.varlen_q && r < p.n_q)) {
        T* orow = optr + static_cast<int64_t>(r) * o_sn + 2 * tg;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          const uint32_t v = valid ? MmaType<T>::pack(acc_o[mt][dt][2 * hr], acc_o[mt][dt][2 * hr + 1]) : 0u;
          *reinterpret_cast<uint32_t*>(orow + dt * 8) = v;
        }
      }
    }
}

template <int D, int BN, int NW, int MT, bool QREG, typename T, bool EXACT>
void launch_fwd(const KParams& kp, cudaStream_t stream) {
  using Cfg = FwdConfig<D, BN, NW, MT, QREG>;
  auto kernel = sa_fwd_kernel<D, BN, NW, MT, QREG, T, EXACT>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmemBytes));
  dim3 grid((kp.p.n_q + Cfg::kBM - 1) / Cfg::kBM, kp.p.heads_q, kp.p.batch);
  if (grid.x > 0 && grid.y > 0 && grid.z > 0) kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(kp);
}

// The mma.sync forward of head dim D with its production tile (FwdTile<D, 0>; tuning builds: variants 1 and 2),
// instantiated once per head dim (SIGTRAIN_SA_INSTANTIATE) in sa_fwd_dD.cu.
template <int D, typename T, bool EXACT>
void run_fwd(const KParams& kp, cudaStream_t stream, int variant) {
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 2) launch_fwd<D, FwdTile<D, 2>::BN, FwdTile<D, 2>::NW, FwdTile<D, 2>::MT, FwdTile<D, 2>::QREG, T, EXACT>(kp, stream);
  else if (variant == 1) launch_fwd<D, FwdTile<D, 1>::BN, FwdTile<D, 1>::NW, FwdTile<D, 1>::MT, FwdTile<D, 1>::QREG, T, EXACT>(kp, stream);
  else launch_fwd<D, FwdTile<D, 0>::BN, FwdTile<D, 0>::NW, FwdTile<D, 0>::MT, FwdTile<D, 0>::QREG, T, EXACT>(kp, stream);
#else
  (void)variant;
  launch_fwd<D, FwdTile<D, 0>::BN, FwdTile<D, 0>::NW, FwdTile<D, 0>::MT, FwdTile<D, 0>::QREG, T, EXACT>(kp, stream);
#endif
}

}  // namespace sigtrain::kernels::detail
