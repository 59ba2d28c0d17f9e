#include "sa_backward_tma.cuh"
#include "sa_backward_wgmma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  using Tile = WgBwdTile<D, 0>;
#ifdef SIGTRAIN_SA_TUNING_VARIANTS
  if (variant == 1 ? !Tile::TMA : Tile::TMA) launch_bwd_tma<D, Tile::BM, T, EXACT>(kp, stream);
  else launch_bwd_wgmma<D, Tile::BM, Tile::NWG, T, EXACT>(kp, stream);
#else
  (void)variant;  // only the production kernel is compiled
  if constexpr (Tile::TMA) launch_bwd_tma<D, Tile::BM, T, EXACT>(kp, stream);
  else launch_bwd_wgmma<D, Tile::BM, Tile::NWG, T, EXACT>(kp, stream);
#endif
}
template void run_bwd_wgmma<128, __nv_bfloat16, false>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __nv_bfloat16, true>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __half, false>(const KParams&, cudaStream_t, int);
template void run_bwd_wgmma<128, __half, true>(const KParams&, cudaStream_t, int);
}  // namespace sigtrain::kernels::detail
