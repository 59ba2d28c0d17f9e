// GEMMs whose epilogue does the MLP's elementwise work (cuBLASLt), torch-free C++ API. models/mlp_fused.h builds
// the GELU MLP from them:
//   forward   h = GELU(x·W₁ᵀ + b₁) with the pre-activation kept          kGeluAuxBias (kGeluAux without b₁)
//   backward  dW₂ = dyᵀ·h, dW₁ = dpreᵀ·x written in fp32                   kNone
// so no separate GELU kernel runs. cuBLASLt's GELU is the tanh approximation (GPT-2's). Its DGELU_BGRAD and BGRADB
// epilogues are left out on purpose: on the H200 each ran as a separate cuBLASLt kernel, slower than the GELU
// backward and the column sums of bias_grad_kernel.h (docs/benchmarks.md); DGELU alone was not tried. Every matrix is column-major, as cuBLASLt sees
// it (a row-major [rows, cols] tensor is a column-major cols × rows matrix). The algorithm comes from cuBLASLt's
// heuristic once per problem and is cached, so every step of a run uses the same one (cuBLASLt's split-K schemes
// reduce in a fixed order: results repeat bit for bit).
#pragma once

#include <cstddef>
#include <cstdint>

#include "element_type.h"
#include "stream.h"

struct cublasLtContext;

namespace sigtrain::kernels {

using LtHandle = cublasLtContext*;  // == cublasLtHandle_t

enum class GemmEpilogue : int {
  kNone,
  kBias,         // D += bias (length m), bias in D's dtype
  kGeluAux,      // aux = D, D = GELU(D)
  kGeluAuxBias,  // aux = D + bias, D = GELU(aux)
};

// D (m × n, ldd) = op(A) · op(B), op(A) m × k, op(B) k × n; fp32 accumulation; then the epilogue. A and B share a
// dtype (bf16 / fp16); D is that dtype or fp32 (epilogues with aux need D in A's dtype).
struct EpilogueGemm {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  ElementType ab_dtype = ElementType::kBF16;
  ElementType d_dtype = ElementType::kBF16;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  void* d = nullptr;
  int64_t ldd = 0;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  void* bias = nullptr;  // read by kBias / kGeluAuxBias
  void* aux = nullptr;   // the GELU pre-activation, m × n in D's dtype, written by kGeluAux*
  int64_t ldaux = 0;     // a multiple of 8, ≥ m
};

// Runs `g` on `stream`. Returns false, having launched nothing, where cuBLASLt offers no algorithm for it (the
// caller computes it another way); throws std::runtime_error naming the cuBLASLt status on any other failure.
bool epilogue_gemm(const EpilogueGemm& g, LtHandle handle, void* workspace, size_t workspace_bytes, Stream stream);

}  // namespace sigtrain::kernels
