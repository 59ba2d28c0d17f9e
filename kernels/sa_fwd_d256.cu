// The mma.sync forward for head dim 256 (one translation unit per direction and head dim: short nvcc runs).
#include "sa_forward.cuh"

namespace sigtrain::kernels::detail {
SIGTRAIN_SA_INSTANTIATE(run_fwd, 256)
}  // namespace sigtrain::kernels::detail
