// The mma.sync backward for head dim 96 (one translation unit per direction and head dim: short nvcc runs).
#include "sa_backward.cuh"

SIGTRAIN_SA_INSTANTIATE_MMA_BWD(96)
