#include "sa_dispatch.h"
#include "sa_forward.cuh"

namespace sigtrain::kernels::detail {
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
template void run_fwd<32, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_fwd<32, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_fwd<32, __half, false>(const KParams&, cudaStream_t, int);
template void run_fwd<32, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
