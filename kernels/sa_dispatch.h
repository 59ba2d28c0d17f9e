// Internal: tile configurations per head dim and the explicitly instantiated launchers (one .cu file per
// direction and head dim, to keep each translation unit's compile time short).
//
// Variant 0 of each (direction, head dim) is the production configuration. With the CMake option
// SIGTRAIN_KERNELS_TUNING_VARIANTS (macro SIGTRAIN_SA_TUNING_VARIANTS) the other variants are compiled too and the
// environment variables SIGTRAIN_SA_FWD_VARIANT (0-3; the mma.sync forward has 0-2) / SIGTRAIN_SA_BWD_VARIANT (0-9;
// the mma.sync backward has 0-1), read once per process, select one; for tuning only (the Hopper forward's variant
// 3 makes its two consumer warpgroups take turns at the tensor cores; the Hopper backward's variant 1 swaps its
// k-tiles per CTA: one at D 64, two at D 128; variant 2 defers each q-tile's dQ by one tile, decoupling its
// warpgroups; variant 3
// converts dQ inside the kernel; variants 4-7 are timing-only with **wrong results**: variant 0 with one stage left
// out, the dQ atomics, sigma / dS, the warpgroups' meeting, the dQ conversion kernel, and 9 the masked tiles'
// per-element path; variant 8 hands each q-tile's dQ to the producer warpgroup's idle warps, which add, count and
// convert it). A variant a kernel does not have runs its variant 0.
// Measured comparisons: docs/kernel-notebook.md.
#pragma once

#include "sa_common.cuh"

namespace sigtrain::kernels::detail {

// Forward: CTA of NW warps x MT m-tiles = 16*MT*NW query rows, k-tiles of BN keys, Q in registers or not.
template <int D, int V> struct FwdTile;
// Head dims 32 and 96 (the vision and speech presets' smaller heads) run on the mma.sync kernels only, with the
// tiles of their neighbours: 32 like 64, 96 like 128.
template <> struct FwdTile<32, 0> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<32, 1> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = true; };
template <> struct FwdTile<32, 2> { static constexpr int BN = 128, NW = 8, MT = 1; static constexpr bool QREG = true; };
template <> struct FwdTile<96, 0> { static constexpr int BN = 32, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<96, 1> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<96, 2> { static constexpr int BN = 64, NW = 8, MT = 1; static constexpr bool QREG = true; };
// Head dim 256 (mma.sync only): one 16-row m-tile per warp, so the 16 x 256 fp32 O accumulator (128 registers) leaves
// room for the score tile.
template <> struct FwdTile<256, 0> { static constexpr int BN = 32, NW = 4, MT = 1; static constexpr bool QREG = false; };
template <> struct FwdTile<256, 1> { static constexpr int BN = 64, NW = 4, MT = 1; static constexpr bool QREG = false; };
template <> struct FwdTile<256, 2> { static constexpr int BN = 32, NW = 8, MT = 1; static constexpr bool QREG = false; };
template <> struct FwdTile<64, 0> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<64, 1> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = true; };
template <> struct FwdTile<64, 2> { static constexpr int BN = 128, NW = 8, MT = 1; static constexpr bool QREG = true; };
template <> struct FwdTile<128, 0> { static constexpr int BN = 32, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<128, 1> { static constexpr int BN = 64, NW = 4, MT = 2; static constexpr bool QREG = false; };
template <> struct FwdTile<128, 2> { static constexpr int BN = 64, NW = 8, MT = 1; static constexpr bool QREG = true; };
// Backward: CTA of NW warps = 16*NW keys, q-tiles of BM queries; each CTA accumulates D / SPLIT columns of dK, dV
// and dQ (SPLIT CTAs per k-tile). SPLIT > 1 only where the whole dK + dV accumulator would not fit in registers
// (head dim 256: 2 x 16 x 256 fp32 per warp); those CTAs each recompute S and dP, 1.4x the FLOPs of one CTA.
template <int D, int V> struct BwdTile;
template <> struct BwdTile<32, 0> { static constexpr int BM = 64, NW = 4, SPLIT = 1; };
template <> struct BwdTile<32, 1> { static constexpr int BM = 64, NW = 8, SPLIT = 1; };
template <> struct BwdTile<96, 0> { static constexpr int BM = 64, NW = 8, SPLIT = 1; };
template <> struct BwdTile<96, 1> { static constexpr int BM = 32, NW = 4, SPLIT = 1; };
template <> struct BwdTile<64, 0> { static constexpr int BM = 64, NW = 4, SPLIT = 1; };
template <> struct BwdTile<64, 1> { static constexpr int BM = 64, NW = 8, SPLIT = 1; };
template <> struct BwdTile<128, 0> { static constexpr int BM = 64, NW = 8, SPLIT = 1; };
template <> struct BwdTile<128, 1> { static constexpr int BM = 32, NW = 4, SPLIT = 1; };
// 256: BM 32 x NW 8 spills 4-16 bytes per thread, BM 64 x NW 4 48-160 (ptxas -v, sm_90a).
template <> struct BwdTile<256, 0> { static constexpr int BM = 32, NW = 8, SPLIT = 2; };
template <> struct BwdTile<256, 1> { static constexpr int BM = 64, NW = 4, SPLIT = 2; };

// Hopper forward with a TMA producer warp (sa_forward_tma.cuh): NCWG consumer warpgroups x 64 query rows, k-tiles of
// BN keys, MINB CTAs per SM. Variant 0 is the production configuration; tuning builds also have variants 1 and 2
// (measured in docs/kernel-notebook.md, v7) and 3 (variant 0's tiles with PINGPONG, v18).
template <int D, int V> struct TmaFwdTile;
template <> struct TmaFwdTile<64, 0> { static constexpr int BN = 128, NCWG = 2, MINB = 1; };
template <> struct TmaFwdTile<64, 1> { static constexpr int BN = 64, NCWG = 3, MINB = 1; };
template <> struct TmaFwdTile<64, 2> { static constexpr int BN = 128, NCWG = 3, MINB = 1; };
template <> struct TmaFwdTile<128, 0> { static constexpr int BN = 128, NCWG = 2, MINB = 1; };
template <> struct TmaFwdTile<128, 1> { static constexpr int BN = 64, NCWG = 2, MINB = 1; };
template <> struct TmaFwdTile<128, 2> { static constexpr int BN = 64, NCWG = 3, MINB = 1; };

// Hopper backward (sa_backward_tma.cuh): a TMA producer and two consumer warpgroups x 64 keys, q-tiles of BM queries.
template <int D> struct WgBwdTile;
template <> struct WgBwdTile<64> { static constexpr int BM = 128; };  // dQ split by query
template <> struct WgBwdTile<128> { static constexpr int BM = 64; };  // dQ split by head-dim half

template <int D, typename T, bool EXACT> void run_fwd(const KParams& kp, cudaStream_t stream, int variant);
template <int D, typename T, bool EXACT> void run_fwd_wgmma(const KParams& kp, cudaStream_t stream, int variant);
template <int D, typename T, bool EXACT> void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant);
template <int D, typename T, bool EXACT> void run_bwd(const KParams& kp, cudaStream_t stream, int variant);

// Instantiates one of the four above for head dim D in each dtype and σ variant the dispatch calls (inside this
// namespace, in the translation unit that defines it: one per direction, kernel family and head dim).
#define SIGTRAIN_SA_INSTANTIATE(RUN, D)                                  \
  template void RUN<D, __nv_bfloat16, false>(const KParams&, cudaStream_t, int); \
  template void RUN<D, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);  \
  template void RUN<D, __half, false>(const KParams&, cudaStream_t, int);        \
  template void RUN<D, __half, true>(const KParams&, cudaStream_t, int);

}  // namespace sigtrain::kernels::detail
