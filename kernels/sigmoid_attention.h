// sigtrain fused sigmoid attention (forward + backward), torch-free C++ API.
//
//   S = scale * Q K^T + b + alibi + key_bias      (masked entries: -inf, i.e. P = 0)
//   P = sigmoid(S)          O = P V               (no row normalisation, no LSE)
//   dV = P^T dO   dP = dO V^T   dS = P (1 - P) dP   dQ = scale dS K   dK = scale dS^T Q
//
// Layouts: Q, O, dO, dQ are [B, N_q, H_q, D]; K, V, dK, dV are [B, N_k, H_kv, D], each given by a base pointer and
// element strides for batch / sequence / head (the head_dim axis must be contiguous). With cu_seqlens_* the tensors
// are packed [total_tokens, H, D]; the batch stride is then unused. See docs/kernels.md for every convention
// (causal alignment, padding, bias, ALiBi, GQA) and the error bounds.
//
// This header needs no CUDA header: the stream is passed as an opaque pointer-sized handle (a cudaStream_t converts
// to it implicitly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "stream.h"

namespace sigtrain::kernels {

enum class DType : int { kBF16 = 0, kFP16 = 1 };
enum class SigmoidMode : int { kTanhApprox = 0, kExact = 1 };
enum class AttentionKernel : int {
  kAuto = 0,     // kWgmma where available (an sm_90 GPU and a build for sm_90a), else kMmaSync
  kMmaSync = 1,  // mma.sync (sm_80+)
  kWgmma = 2,    // Hopper wgmma (sm_90a only)
};
enum class BiasMode : int {
  kNegLogValidKeys = 0,  // b = -log(L_k of the sequence); L_k = its number of valid keys (NOT the causal row count)
  kScalar = 1,           // b = bias_scalar
  kPerSequence = 2,      // b = bias_per_seq[batch] (device fp32 [B])
};

struct Strides {  // element strides (not bytes)
  int64_t batch = 0, seq = 0, head = 0;
};

struct SigmoidAttentionParams {
  DType dtype = DType::kBF16;
  int batch = 0;     // B (number of sequences, also with cu_seqlens)
  int n_q = 0;       // N_q: padded query length; with cu_seqlens_q: the maximum sequence length
  int n_k = 0;       // N_k: likewise for keys
  int heads_q = 0;   // H_q
  int heads_kv = 0;  // H_kv, divides H_q (GQA / MQA); query head h uses kv head h / (H_q / H_kv)
  int head_dim = 0;  // D: 32, 64, 96 or 128 (see sigmoid_attention_supported); the wgmma kernels: 64 and 128
  float scale = 0.f; // 0 means 1/sqrt(D)

  // Forward inputs / output.
  const void* q = nullptr; Strides q_strides;
  const void* k = nullptr; Strides k_strides;
  const void* v = nullptr; Strides v_strides;
  void* o = nullptr;       Strides o_strides;

  // Masks. Lengths are device int32, all optional. cu_seqlens (size B+1, packed layout) take precedence over
  // seq_lens (size B, trailing padding). Without either, every sequence has length n_q / n_k.
  const int32_t* seq_lens_q = nullptr;
  const int32_t* seq_lens_k = nullptr;
  const int32_t* cu_seqlens_q = nullptr;
  const int32_t* cu_seqlens_k = nullptr;
  // With cu_seqlens: the rows of the packed Q / K tensors (their first dimension, >= cu_seqlens[B]). The Hopper
  // forward reads through TMA tensor maps, which must know where the tensors end. -1: not given (an error with
  // cu_seqlens; unused without).
  int64_t total_q = -1;
  int64_t total_k = -1;
  bool causal = false;  // bottom-right aligned: query i sees key j iff j <= i + (L_k - L_q) (per-sequence lengths)

  // Biases.
  BiasMode bias_mode = BiasMode::kNegLogValidKeys;
  float bias_scalar = 0.f;
  const float* bias_per_seq = nullptr;   // device fp32 [B]
  const float* alibi_slopes = nullptr;   // device fp32 [H_q]; adds -m_h * |i + (L_k - L_q) - j|
  const float* key_bias = nullptr;       // device fp32 [B, N_k] (key index local to the sequence)
  int64_t key_bias_stride_batch = 0;

  SigmoidMode sigmoid_mode = SigmoidMode::kTanhApprox;
  // Implementations. kAuto can be overridden by the environment variables SIGTRAIN_SA_FORWARD / SIGTRAIN_SA_BACKWARD
  // = mma | wgmma (for A/B comparisons inside a whole model); an explicit value cannot.
  AttentionKernel forward_kernel = AttentionKernel::kAuto;
  AttentionKernel backward_kernel = AttentionKernel::kAuto;
  // Tile configuration of builds with SIGTRAIN_KERNELS_TUNING_VARIANTS (kernels/sa_dispatch.h): forward 0..3,
  // backward 0..9 (4..7 and 9 are timing-only backward variants with wrong results), or -1 for the process's
  // SIGTRAIN_SA_FWD_VARIANT / SIGTRAIN_SA_BWD_VARIANT (read once; default 0). Ignored by other builds.
  int tuning_variant = -1;

  // Backward (dO in, dQ/dK/dV out; same layouts as Q/K/V).
  const void* dout = nullptr; Strides dout_strides;
  void* dq = nullptr;         Strides dq_strides;
  void* dk = nullptr;         Strides dk_strides;
  void* dv = nullptr;         Strides dv_strides;
};

// True when the kernels support these parameters (dtype, head_dim, alignment, strides, GQA ratio ...). On false,
// *why_not (if given) says why. forward=false also checks the backward pointers.
bool sigmoid_attention_supported(const SigmoidAttentionParams& p, std::string* why_not, bool forward = true);

// True when the current CUDA device can run AttentionKernel::kWgmma in both directions (compute capability 9.0, and
// this library was built for sm_90a).
bool sigmoid_attention_wgmma_available();

// Bytes of device workspace sigmoid_attention_backward needs (an fp32 dQ accumulator and, for a tuning variant of
// the Hopper backward, per-tile counters), 256-byte aligned; the backward clears it first (cudaMemsetAsync).
size_t sigmoid_attention_backward_workspace_bytes(const SigmoidAttentionParams& p);

// Launch on `stream`. Throw std::invalid_argument on unsupported parameters and std::runtime_error on a CUDA error
// (launch errors only: the kernels run asynchronously).
void sigmoid_attention_forward(const SigmoidAttentionParams& p, Stream stream);
void sigmoid_attention_backward(const SigmoidAttentionParams& p, void* workspace, Stream stream);

}  // namespace sigtrain::kernels
