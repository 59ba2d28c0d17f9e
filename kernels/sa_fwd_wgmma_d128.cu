#include "sa_dispatch.h"
#include "sa_forward_wgmma.cuh"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_fwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
#define SA_WG_LAUNCH(V) \
  launch_fwd_wgmma<D, WgFwdTile<D, V>::BN, WgFwdTile<D, V>::NWG, WgFwdTile<D, V>::MINB, T, EXACT>(kp, stream)
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) SA_WG_LAUNCH(1);
  else if (variant == 2) SA_WG_LAUNCH(2);
  else SA_WG_LAUNCH(0);
#else
  (void)variant;
  SA_WG_LAUNCH(0);
#endif
#undef SA_WG_LAUNCH
}
template void run_fwd_wgmma<128, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __half, false>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
