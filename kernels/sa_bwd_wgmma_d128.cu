#include "sa_backward_tma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  (void)variant;  // one configuration
  launch_bwd_tma<D, WgBwdTile<D>::BM, T, EXACT>(kp, stream);
}
template void run_bwd_wgmma<128, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __half, false>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
