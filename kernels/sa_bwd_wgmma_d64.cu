#include "sa_backward_tma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  // A k-tile and its mirror per CTA: 2-10 % faster than one k-tile at every measured point (docs/kernel-notebook.md
  // v11). Tuning variant 1: one k-tile per CTA.
  run_bwd_tma_variant<D, 2, T, EXACT>(kp, stream, variant);
}
SIGTRAIN_SA_INSTANTIATE(run_bwd_wgmma, 64)
}  // namespace sigtrain::kernels::detail
