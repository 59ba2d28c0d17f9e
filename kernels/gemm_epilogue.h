// GEMMs whose epilogue does the MLP's elementwise work (cuBLASLt), torch-free C++ API. models/mlp_fused.h builds
// the GELU MLP from them:
//   forward   h = GELU(x·W₁ᵀ + b₁) with the pre-activation kept          kGeluAuxBias (kGeluAux without b₁)
//   backward  dW₂ = dyᵀ·h, dW₁ = dpreᵀ·x written in fp32                   kNone
// so no separate GELU kernel runs. cuBLASLt's GELU is the tanh approximation (GPT-2's). Its DGELU_BGRAD and BGRADB
// epilogues are left out on purpose: on the H200 each ran as a separate cuBLASLt kernel, slower than the GELU
// backward and the column sums of bias_grad_kernel.h (docs/benchmarks.md); DGELU alone was not tried. Every matrix is column-major, as cuBLASLt sees
// it (a row-major [rows, cols] tensor is a column-major cols × rows matrix).
//
// The algorithm is chosen once per problem (shapes, dtypes, epilogue, pointer alignment) and cached, so every step
// of a run uses the same one (cuBLASLt's split-K schemes reduce in a fixed order: results repeat bit for bit). How
// it is chosen is process-wide (set_gemm_algo_choice): cuBLASLt's first heuristic answer, or the fastest of its
// first few answers timed on the problem's own operands. Timing can choose differently from one process to the
// next, so the choices are kept as text (gemm_algo_choices) and given back to a resumed run
// (restore_gemm_algo_choices): it then computes with the algorithms of the run it continues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
// D and aux must not overlap A, B or bias: a timed choice runs the problem several times.
bool epilogue_gemm(const EpilogueGemm& g, LtHandle handle, void* workspace, size_t workspace_bytes, Stream stream);

enum class GemmAlgoChoice : int {
  kHeuristic,  // cuBLASLt's first heuristic answer: no timing, the same on every run of this GPU and cuBLASLt
  kTimed,      // the fastest of cuBLASLt's first kGemmTimedCandidates answers, timed (CUDA events, host sync) on
               // the problem's own operands the first time it runs outside a CUDA graph capture; during a capture
               // the heuristic's answer
};
constexpr int kGemmTimedCandidates = 8;

// How problems not met before are given their algorithm from now on (default kHeuristic). Choices already made stay.
void set_gemm_algo_choice(GemmAlgoChoice choice);

// The choices made so far as text: a header naming cuBLASLt's version and the GPU, then one line per problem.
std::string gemm_algo_choices();

enum class GemmRestore : int {
  kRestored,    // every line taken: those problems run with the recorded algorithms
  kOtherSetup,  // written with another cuBLASLt or GPU: nothing taken (the problems are chosen afresh)
};
// Takes the choices of gemm_algo_choices() text for the current device, replacing any made for the same problems.
// Throws std::invalid_argument naming the line for text that is not such a record. An algorithm that cuBLASLt
// refuses for its problem when first used is dropped and chosen afresh.
GemmRestore restore_gemm_algo_choices(const std::string& text);

// Forgets every choice (tests: a fresh process's state).
void forget_gemm_algo_choices();

// cuBLASLt's first `max_candidates` answers for `g`, each timed on g's operands (mean of `reps` runs after one
// warm-up; writes D and aux), in the heuristic's order; for benchmarks (bench/gemm_bench.cpp). `ms` < 0: it failed.
struct GemmCandidate {
  std::string description;  // cuBLASLt's algorithm id, tile, stages, split-K, reduction, swizzle, cluster
  float waves = 0;          // the heuristic's waves count (CTAs / SMs)
  float ms = -1;
};
std::vector<GemmCandidate> time_gemm_candidates(const EpilogueGemm& g, LtHandle handle, void* workspace,
                                                size_t workspace_bytes, Stream stream, int max_candidates, int reps);

}  // namespace sigtrain::kernels
