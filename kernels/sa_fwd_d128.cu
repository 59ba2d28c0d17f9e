// The mma.sync forward for head dim 128 (one translation unit per direction and head dim: short nvcc runs).
#include "sa_forward.cuh"

SIGTRAIN_SA_INSTANTIATE_MMA_FWD(128)
