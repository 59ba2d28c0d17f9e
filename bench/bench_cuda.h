// What the benchmark programs share: a CUDA call that exits with its error, and bench_fill.cu's random fill.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define CUDA_OK(x)                                                                            \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

// bench_fill.cu: fills n bf16 values with N(0,1) samples (a hash of the index and seed).
void bench_fill_normal(void* p, size_t n, uint64_t seed);
