#include "sa_dispatch.h"
#include "sa_forward_wgmma.cuh"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_fwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) {
    launch_fwd_wgmma<D, WgFwdTile<D, 1>::BN, WgFwdTile<D, 1>::NWG, T, EXACT>(kp, stream);
    return;
  }
#endif
  (void)variant;
  launch_fwd_wgmma<D, WgFwdTile<D, 0>::BN, WgFwdTile<D, 0>::NWG, T, EXACT>(kp, stream);
}
template void run_fwd_wgmma<128, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __half, false>(const KParams&, cudaStream_t, int);
template void run_fwd_wgmma<128, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
