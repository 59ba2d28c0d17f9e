#include "sa_tensor_map.h"

#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace sigtrain::kernels::detail {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &found) ==
            cudaSuccess &&
        found == cudaDriverEntryPointSuccess)
      fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  });
  if (fn == nullptr)
    throw std::runtime_error("sigmoid_attention: the CUDA driver has no cuTensorMapEncodeTiled (driver too old?)");
  return fn;
}

}  // namespace

CUtensorMap make_sw128_tensor_map(const void* base, const Strides& strides, bool packed, int64_t rows, int heads,
                                  int batch, int head_dim, int box_rows, const char* what) {
  constexpr int64_t kElem = 2;  // bf16 / fp16
  const int64_t extent[3] = {rows > 0 ? rows : 1, heads > 0 ? heads : 1, packed || batch <= 0 ? 1 : batch};
  const int64_t stride[3] = {strides.seq, strides.head, strides.batch};
  cuuint64_t dims[4] = {static_cast<cuuint64_t>(head_dim), 0, 0, 0};
  cuuint64_t stride_bytes[3];
  int64_t dense_bytes = head_dim * kElem;  // the stride a dense layout would have
  for (int i = 0; i < 3; ++i) {
    dims[i + 1] = static_cast<cuuint64_t>(extent[i]);
    // The stride of an extent-1 dimension is never used (a packed tensor's batch, a single head ...) and may be
    // anything in the caller's view; the driver wants a positive multiple of 16 bytes.
    stride_bytes[i] = static_cast<cuuint64_t>(extent[i] == 1 ? dense_bytes : stride[i] * kElem);
    dense_bytes = static_cast<int64_t>(stride_bytes[i]) * extent[i];
  }
  const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  CUtensorMap map{};
  const CUresult r = encode_fn()(&map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void*>(base), dims,
                                 stride_bytes, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                 CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                 CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error(std::string("sigmoid_attention: cuTensorMapEncodeTiled refused the map of ") + what +
                             " (error " + std::to_string(static_cast<int>(r)) + "; rows " + std::to_string(rows) +
                             ", strides seq " + std::to_string(strides.seq) + " head " +
                             std::to_string(strides.head) + " batch " + std::to_string(strides.batch) + ")");
  return map;
}

}  // namespace sigtrain::kernels::detail
