// The mma.sync forward for head dim 64 (one translation unit per direction and head dim: short nvcc runs).
#include "sa_forward.cuh"

namespace sigtrain::kernels::detail {
SIGTRAIN_SA_INSTANTIATE(run_fwd, 64)
}  // namespace sigtrain::kernels::detail
