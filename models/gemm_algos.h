#pragma once
// fused_ops.gemm_algo: how the fused ops' cuBLASLt GEMMs (models/mlp_fused.h, models/linear_fused.h) pick their
// algorithm, once per problem (kernels/gemm_epilogue.h). Process-wide, like cuBLASLt's handle.
//
// Why timed: cuBLASLt's first heuristic answer is not always its fastest for the shapes of a training step (on the
// H100, GPT-2's 768 × 768 weight gradient ran at 441 TFLOP/s on 96 CTAs of 132 SMs: docs/benchmarks.md). Timing
// can choose differently from one process to the next, so a checkpoint keeps the run's choices (its state.json's
// "gemm_algos") and a resumed run takes them back before its first step: it computes with the same algorithms.
// Problems first met after the checkpoint are timed afresh; with several ranks `auto` means heuristic, so that
// every rank computes alike without timing each on its own.
#include <string>

namespace sigtrain::models {

// From now on, problems not met before get the fastest of cuBLASLt's first answers (timed) or its first (false).
void use_timed_gemm_algos(bool timed);

// The choices made so far, as text for a checkpoint ("" in a build without the CUDA kernels).
std::string gemm_algo_record();

// Takes back a record of gemm_algo_record(). False, taking nothing, where it was written with another cuBLASLt or
// GPU, or this build has no CUDA kernels (the problems are then chosen afresh). Throws std::invalid_argument
// naming the line for text that is not such a record.
bool restore_gemm_algo_record(const std::string& record);

// Forgets every choice (tests: a fresh process's state).
void forget_gemm_algos();

}  // namespace sigtrain::models
