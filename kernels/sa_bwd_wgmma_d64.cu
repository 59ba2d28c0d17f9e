#include "sa_backward_tma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  // A k-tile and its mirror per CTA: 2-10 % faster than one k-tile at every measured point (docs/kernel-notebook.md
  // v11). Tuning variant 1: one k-tile per CTA.
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) return launch_bwd_tma<D, WgBwdTile<D>::BM, 1, T, EXACT>(kp, stream);
  // Tuning variant 2: the production tiles with tile t - 1's dQ in iteration t and split signals instead of one
  // meeting per q-tile (notebook v14).
  if (variant == 2) return launch_bwd_tma<D, WgBwdTile<D>::BM, 2, T, EXACT, true>(kp, stream);
  // Tuning variant 3: the production tiles with dQ converted inside the kernel instead of a second kernel (v13).
  if (variant == 3) return launch_bwd_tma<D, WgBwdTile<D>::BM, 2, T, EXACT, false, true>(kp, stream);
  // Variants 4-7 and 9, timing only (wrong results): the production kernel with one stage left out (BwdSkip; notebook
  // v16): 4 the dQ atomics, 5 sigma / dS, 6 the warpgroups' meeting, 7 the dQ conversion kernel, 9 the masking.
  constexpr int kBM = WgBwdTile<D>::BM;
  if (variant == 4) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipDqAtomics>(kp, stream);
  if (variant == 5) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipPointwise>(kp, stream);
  if (variant == 6) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipMeeting>(kp, stream);
  if (variant == 7) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipDqConvert>(kp, stream);
  // Tuning variant 8: the production tiles with each q-tile's dQ handed through shared memory to the producer
  // warpgroup's idle warps, which add, count and convert it (notebook v17).
  if (variant == 8) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipNone, true>(kp, stream);
  // Variant 9, timing only (wrong results): variant 0 without the masked tiles' per-element path (v16).
  if (variant == 9) return launch_bwd_tma<D, kBM, 2, T, EXACT, false, false, kSkipMasking>(kp, stream);
#endif
  (void)variant;
  launch_bwd_tma<D, WgBwdTile<D>::BM, 2, T, EXACT>(kp, stream);
}
SIGTRAIN_SA_INSTANTIATE(run_bwd_wgmma, 64)
}  // namespace sigtrain::kernels::detail
