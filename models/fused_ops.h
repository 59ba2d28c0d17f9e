#pragma once
// The `fused_ops` config section: which of sigtrain's own CUDA kernels replace LibTorch's composite ops, each
// auto (on where it can run: a CUDA device and a build with the kernels) | on (an error where it cannot) | off
// (LibTorch's ops, as on CPU). Every fused op is checked against the LibTorch path in tests/kernels.
//
//   fused_ops:
//     cross_entropy: auto     # kernels/cross_entropy_kernel.h: loss and gradient from the bf16 logits, no fp32 copy
//     head_loss: auto         # token models: the head's GEMM and that loss as one op whose forward writes the loss
//                             # gradient over the logits (models/head_loss.h); needs cross_entropy
//     norm: auto              # kernels/norm_kernel.h: LayerNorm / RMSNorm writing the autocast dtype directly
//     add_norm: auto          # the same kernels with a pre-norm block's residual add (and its backward) fused in
//     residual_bias: auto     # pre-norm blocks: the attention and MLP output projections' biases added in that add +
//                             # norm, their gradients summed in its backward (no column sums); needs add_norm
//     mlp: auto               # kernels/gemm_epilogue.h: the GELU MLP with bias and GELU in the GEMMs, the GELU
//                             # backward with its bias gradient in one pass (kernels/bias_grad_kernel.h)
//     mlp_recompute: false    # true: the fused MLP keeps GELU's input only and writes its output again in the
//                             # backward's GELU pass (less activation memory, one more write per layer)
//     rope: auto              # kernels/rope_kernel.h: rotary embeddings in one kernel each way (fp32 arithmetic)
//     packed_qkv: auto        # attention.backend fused takes the qkv projection whole (no QK-norm / RoPE): d(qkv) in
//                             # one buffer, no concatenation of dq, dk, dv
//     linear: auto            # kernels/gemm_epilogue.h: every other linear layer's dW in fp32 from its GEMM, db
//                             # one column sum (kernels/bias_grad_kernel.h)
//     gemm_algo: auto         # how mlp's and linear's cuBLASLt GEMMs pick their algorithm, once per problem:
//                             # heuristic (cuBLASLt's first answer) | timed (the fastest of its first 8, timed on the
//                             # first step; kept in checkpoints so that a resumed run computes alike) | auto (timed in
//                             # a single-process CUDA run, heuristic with several ranks, which would each time alone)
//   (mlp and linear read their weights from one multi-tensor bf16 copy per forward: models/weight_casts.h)
#include <cstdint>
#include <string>

#include "common/config.h"

namespace sigtrain::models {

enum class FusedChoice { kAuto, kOn, kOff };

struct FusedOpsConfig {
  FusedChoice cross_entropy = FusedChoice::kAuto;
  FusedChoice head_loss = FusedChoice::kAuto;
  FusedChoice norm = FusedChoice::kAuto;
  FusedChoice add_norm = FusedChoice::kAuto;
  FusedChoice residual_bias = FusedChoice::kAuto;
  FusedChoice mlp = FusedChoice::kAuto;
  FusedChoice rope = FusedChoice::kAuto;
  FusedChoice packed_qkv = FusedChoice::kAuto;
  FusedChoice linear = FusedChoice::kAuto;
  bool mlp_recompute = false;
  std::string gemm_algo = "auto";  // auto | heuristic | timed
  static FusedOpsConfig parse(config::SectionReader& r);
};

// The choices resolved for a device: what the run uses.
struct FusedOps {
  bool cross_entropy = false;
  bool head_loss = false;  // with cross_entropy only
  bool norm = false;
  bool add_norm = false;
  bool residual_bias = false;  // with add_norm only
  bool mlp = false;
  bool rope = false;
  bool packed_qkv = false;
  bool linear = false;
  bool mlp_recompute = false;  // of the fused MLP (mlp); nothing without it
  bool gemm_algo_timed = false;  // models/gemm_algos.h; with mlp or linear only
};

// Whether this build has the fused kernels (nvcc and LibTorch with CUDA found).
bool fused_ops_built();

// Resolves `cfg` for a run of `processes` ranks on a CUDA device (cuda) or not. Throws config::ConfigError naming
// the key when an op is `on` (gemm_algo `timed`) but cannot run here (add_norm also needs norm, residual_bias
// add_norm, head_loss cross_entropy).
FusedOps resolve_fused_ops(const FusedOpsConfig& cfg, bool cuda, int64_t processes = 1);

}  // namespace sigtrain::models
