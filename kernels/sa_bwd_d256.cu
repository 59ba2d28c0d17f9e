// The mma.sync backward for head dim 256 (one translation unit per direction and head dim: short nvcc runs).
#include "sa_backward.cuh"

namespace sigtrain::kernels::detail {
SIGTRAIN_SA_INSTANTIATE(run_bwd, 256)
}  // namespace sigtrain::kernels::detail
