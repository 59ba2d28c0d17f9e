#include "sa_backward_tma.cuh"
#include "sa_dispatch.h"

namespace sigtrain::kernels::detail {
template <int D, typename T, bool EXACT>
void run_bwd_wgmma(const KParams& kp, cudaStream_t stream, int variant) {
  // One k-tile per CTA at D 128: the mirror pairing that D 64 takes was 2 % slower here up to N 4K and 7 % slower
  // causal at 16K (H200, 2026-12-07; docs/kernel-notebook.md v11). Tuning variant 1: the pairing.
  run_bwd_tma_variant<D, 1, T, EXACT>(kp, stream, variant);
}
SIGTRAIN_SA_INSTANTIATE(run_bwd_wgmma, 128)
}  // namespace sigtrain::kernels::detail
