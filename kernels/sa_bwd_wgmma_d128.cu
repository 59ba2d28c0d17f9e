#include "sa_backward_tma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  (void)variant;  // one configuration
  launch_bwd_tma<D, WgBwdTile<D>::BM, T, EXACT>(kp, stream);
}
SIGTRAIN_SA_INSTANTIATE(run_bwd_wgmma, 128)
}  // namespace sigtrain::kernels::detail
