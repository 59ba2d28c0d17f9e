#include "sa_backward.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd(const KParams& kp, cudaStream_t stream, int variant) {
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1) launch_bwd<D, BwdTile<D, 1>::BM, BwdTile<D, 1>::NW, T, EXACT>(kp, stream);
  else launch_bwd<D, BwdTile<D, 0>::BM, BwdTile<D, 0>::NW, T, EXACT>(kp, stream);
#else
  (void)variant;
  launch_bwd<D, BwdTile<D, 0>::BM, BwdTile<D, 0>::NW, T, EXACT>(kp, stream);
#endif
}
template void run_bwd<32, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_bwd<32, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_bwd<32, __half, false>(const KParams&, cudaStream_t, int);
template void run_bwd<32, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
