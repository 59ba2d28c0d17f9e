// Hopper (sm_90a) mechanics for the attention kernels: wgmma shared-memory descriptors, the wgmma fence / commit /
// wait protocol, the async-proxy fence, and the 128-byte-swizzled tile layout that TMA writes and wgmma reads.
// Masking, biases and sequence bookkeeping stay in sa_common.cuh, shared with the mma.sync kernels.
//
// Shared-memory tile layout ("SW128"): a [ROWS, D] tile of 16-bit elements is stored as D/64 column blocks of
// [ROWS][64] (128 bytes per row); inside each 1024-byte atom of 8 rows, the 16-byte chunk c of row r sits at chunk
// position c ^ (r % 8). This is the canonical 128B-swizzle layout of the PTX ISA for both K-major operands (Q, K:
// the contraction runs along the row) and MN-major ones (V in O = P V: the contraction runs across rows). Tiles
// start on 1024-byte boundaries so the descriptors' base offset is 0.
#pragma once

#include <cstdint>

#include "sa_common.cuh"
#include "sa_wgmma_ops.cuh"

namespace sigtrain::kernels::detail {

// Matrix descriptor of a SW128 operand starting at shared address `addr` (bytes). LBO / SBO in bytes.
__device__ __forceinline__ uint64_t sw128_desc(uint32_t addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(lbo_bytes >> 4) << 16) |
         (static_cast<uint64_t>(sbo_bytes >> 4) << 32) | (1ull << 62);
}
// K-major operand (rows = M or N, 16 contraction elements per wgmma inside a 128-byte row): rows 8 apart are 1024
// bytes apart (SBO); LBO is unused by the swizzled K-major layouts (1 by convention). Step k (16 elements) of a
// column block is +32 bytes.
__device__ __forceinline__ uint64_t kmajor_desc(uint32_t addr) { return sw128_desc(addr, 16, 1024); }
// MN-major operand (rows = contraction index, 64 N-elements per 128-byte row): the next 64 N-elements are one column
// block further (LBO = ROWS * 128 bytes), the next 8 contraction rows 1024 bytes further (SBO).
__device__ __forceinline__ uint64_t mnmajor_desc(uint32_t addr, uint32_t block_bytes) {
  return sw128_desc(addr, block_bytes, 1024);
}

__device__ __forceinline__ void wgmma_fence() {
#if SIGTRAIN_SA_WGMMA_ENABLED
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#if SIGTRAIN_SA_WGMMA_ENABLED
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#if SIGTRAIN_SA_WGMMA_ENABLED
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Pins accumulator registers at this point of the program: without it the compiler may move reads of a wgmma
// accumulator above the wgmma_wait that makes it valid (the asm that wrote it is all it sees).
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void fence_regs(uint32_t (&r)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(r[i][e])::"memory");
}
// Makes this thread's completed generic-proxy writes to shared memory (st.shared, cp.async) visible to the async
// proxy that wgmma reads through; a barrier must follow before another thread's wgmma reads them.
__device__ __forceinline__ void fence_proxy_async_smem() {
#if SIGTRAIN_SA_WGMMA_ENABLED
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// Byte offset of element chunk (row r, 16-byte chunk cc of the D-wide row) in a SW128 tile of ROWS rows.
template <int ROWS>
__device__ __forceinline__ uint32_t sw128_offset(int r, int cc) {
  return static_cast<uint32_t>((cc >> 3) * (ROWS * 128) + r * 128 + (((cc & 7) ^ (r & 7)) << 4));
}

// Zero rows [r_first, ROWS) of a SW128 tile with generic-proxy stores, CONSUMERS threads sharing the work (ctid =
// 0 .. CONSUMERS-1). The caller then fences (fence_proxy_async_smem) and meets the other threads before a wgmma reads
// the tile.
template <int ROWS, int D, int CONSUMERS>
__device__ __forceinline__ void zero_tile_rows_sw128(uint32_t tile, int r_first, int ctid) {
  for (int c = ctid; c < (ROWS - r_first) * (D / 8); c += CONSUMERS) {
    const int r = r_first + c / (D / 8), cc = c % (D / 8);
    asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(tile + sw128_offset<ROWS>(r, cc)), "r"(0u)
                 : "memory");
  }
}

// A wgmma accumulator (fp32, rows x N) -> 16-bit A fragments of the next wgmma, one [4] per 16 columns (the
// accumulator layout of one wgmma is the register-A layout of the next: the FA3 trick).
template <int BN, typename T>
__device__ __forceinline__ void pack_p(uint32_t (&pa)[BN / 16][4], const float (&acc)[BN / 2]) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    pa[kk][0] = MmaType<T>::pack(acc[8 * kk + 0], acc[8 * kk + 1]);
    pa[kk][1] = MmaType<T>::pack(acc[8 * kk + 2], acc[8 * kk + 3]);
    pa[kk][2] = MmaType<T>::pack(acc[8 * kk + 4], acc[8 * kk + 5]);
    pa[kk][3] = MmaType<T>::pack(acc[8 * kk + 6], acc[8 * kk + 7]);
  }
}

}  // namespace sigtrain::kernels::detail
