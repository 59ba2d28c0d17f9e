// Host side of the TMA loads: 4-D tensor maps over the attention tensors, encoded through the driver entry point
// that the CUDA runtime hands out (no link against libcuda).
#pragma once

#include <cuda.h>

#include <cstdint>

#include "sigmoid_attention.h"

namespace sigtrain::kernels::detail {

// Map over a [batch, rows, heads, D] view of 16-bit elements (strides in elements; D contiguous) read in boxes of
// [box_rows, 64] elements with the 128-byte swizzle, so that each box lands in shared memory as one column block of
// the SW128 tile layout (sa_hopper.cuh). Packed (cu_seqlens) tensors are [1, rows, heads, D]. Rows past `rows` read
// as zero. Throws std::runtime_error when the driver refuses the map.
CUtensorMap make_sw128_tensor_map(const void* base, const Strides& strides, bool packed, int64_t rows, int heads,
                                  int batch, int head_dim, int box_rows, const char* what);

}  // namespace sigtrain::kernels::detail
