// The CUDA stream as an opaque pointer-sized handle, so that the kernels' C++ headers need no CUDA header
// (a cudaStream_t converts to it implicitly).
#pragma once

struct CUstream_st;

namespace sigtrain::kernels {
using Stream = CUstream_st*;  // == cudaStream_t
}  // namespace sigtrain::kernels
