#include "sa_dispatch.h"
#include "sa_forward_tma.cuh"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_fwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
#define SA_TMA_LAUNCH(V) \
  launch_fwd_tma<D, TmaFwdTile<D, V>::BN, TmaFwdTile<D, V>::NCWG, TmaFwdTile<D, V>::MINB, T, EXACT>(kp, stream)
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) SA_TMA_LAUNCH(1);
  else if (variant == 2) SA_TMA_LAUNCH(2);
  // Variant 3: the production tiles with the two consumer warpgroups taking turns at the tensor cores (v18).
  else if (variant == 3)
    launch_fwd_tma<D, TmaFwdTile<D, 0>::BN, TmaFwdTile<D, 0>::NCWG, TmaFwdTile<D, 0>::MINB, T, EXACT, true>(kp, stream);
  else SA_TMA_LAUNCH(0);
#else
  (void)variant;
  SA_TMA_LAUNCH(0);
#endif
#undef SA_TMA_LAUNCH
}
SIGTRAIN_SA_INSTANTIATE(run_fwd_wgmma, 64)
}  // namespace sigtrain::kernels::detail
