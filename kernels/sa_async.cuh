// Hopper (sm_90a) asynchronous-copy machinery for the warp-specialised kernels: mbarriers, TMA tile loads, the
// register hand-over between warpgroups (setmaxnreg) and named barriers. Mechanics only: what is loaded when is the
// kernels' business.
#pragma once

#include <cuda.h>  // CUtensorMap (a 128-byte opaque struct; no driver call is made from device code)

#include <cstdint>

#include "sa_wgmma_ops.cuh"  // SIGTRAIN_SA_WGMMA_ENABLED

namespace sigtrain::kernels::detail {

#if SIGTRAIN_SA_WGMMA_ENABLED
#define SA_ASYNC_ASM(...) asm volatile(__VA_ARGS__)
#else
#define SA_ASYNC_ASM(...) \
  do {                    \
  } while (0)
#endif

// ---- mbarrier (a 64-bit phase counter in shared memory) ----------------------------------------------------------
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t arrivals) {
  SA_ASYNC_ASM("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
// Makes the initialised barriers visible to the async proxy (TMA completes on them).
__device__ __forceinline__ void fence_mbar_init() {
  SA_ASYNC_ASM("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival, and `bytes` more transaction bytes the current phase waits for (TMA loads complete them).
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  SA_ASYNC_ASM("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  SA_ASYNC_ASM("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Blocks until the phase with the given parity (0, 1, 0, ...) has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  SA_ASYNC_ASM(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

// ---- TMA ---------------------------------------------------------------------------------------------------------
// Loads the box at coordinates (c0 = head-dim column, c1 = row, c2 = head, c3 = batch) of a 4-D tensor map into
// shared memory at `dst`; completes `bytes` of the transaction count of `bar`. Rows past the tensor are zero.
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1,
                                            int c2, int c3) {
  SA_ASYNC_ASM(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}

// ---- warpgroup roles ---------------------------------------------------------------------------------------------
// Registers per thread of the calling warpgroup (all its threads execute it). The producer gives registers back,
// the consumers take them: the CTA's total is fixed at launch.
template <int REGS>
__device__ __forceinline__ void setmaxnreg_dec() {
  SA_ASYNC_ASM("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS>
__device__ __forceinline__ void setmaxnreg_inc() {
  SA_ASYNC_ASM("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
// Barrier `id` (1..15; 0 is __syncthreads) among `threads` threads (a multiple of 32).
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  SA_ASYNC_ASM("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Arrive at barrier `id` without waiting: the producer side of a barrier whose consumers bar.sync with the same
// `threads` (arrivals of both sides together).
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  SA_ASYNC_ASM("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

#undef SA_ASYNC_ASM

}  // namespace sigtrain::kernels::detail
