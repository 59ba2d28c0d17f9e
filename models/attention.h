#pragma once
// One attention interface for every block, with backends registered by name.
//
//   O = φ(scale·Q Kᵀ + b + alibi + key_bias, masked = −∞) V,    φ = σ (sigmoid) or row softmax
//
// Layout: q [B, T_q, H, D], k and v [B, T_k, H_kv, D] (H % H_kv == 0: grouped-query attention; query head h uses
// K/V head h / (H / H_kv)). Output [B, T_q, H, D]. Strides are free (the projections produce views of one fused
// QKV tensor); the fused kernel takes this layout with strides, math/sdpa transpose views internally.
//
// Conventions (docs/models.md §Attention):
//   * Lengths: AttentionMask::key_lengths / query_lengths are int tensors [B] (trailing padding): keys j >= len_k[b]
//     are masked, query rows i >= len_q[b] are fully masked. Absent = full length (T_k / T_q).
//   * Causal alignment is bottom-right, per sequence: query i may see key j iff j <= i + (len_k[b] − len_q[b])
//     (FlashAttention's varlen convention; with equal lengths this is plain j <= i).
//   * The same offset places queries for ALiBi: bias −m_h·|i + len_k[b] − len_q[b] − j|, the full form (sigmoid is
//     not shift-invariant, so the row term cannot be dropped; softmax uses the same form, which is equivalent).
//   * Sigmoid bias b = −log(n) with n = len_k[b], the number of valid keys of the sequence — also under causal
//     masking, where a row sees fewer keys (like the seeds' constant −log(max_len)); or a configured constant.
//     n is clamped to >= 1. Ignored for softmax (shift-invariant).
//   * key_bias [B, T_k] (float) is added to every row's scores of that sequence.
//   * A fully masked row outputs exactly 0 for both kinds (no NaN, zero gradients).
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace sigtrain::models {

struct AttentionMask {
  bool causal = false;
  at::Tensor key_lengths;    // int [B] or undefined (all T_k valid)
  at::Tensor query_lengths;  // int [B] or undefined (all T_q valid)
  at::Tensor alibi_slopes;   // float [H] or undefined (no ALiBi); bias −m_h·|i' − j|
  at::Tensor key_bias;       // float [B, T_k] or undefined; added to the scores
};

// Per-call numeric settings. The fused kernel receives the same struct.
struct AttentionOptions {
  AttentionKind kind = AttentionKind::kSigmoid;
  SigmoidBiasMode bias_mode = SigmoidBiasMode::kNegLogN;
  double bias_value = 0.0;  // b when bias_mode == kConstant
  std::optional<double> scale;  // nullopt = 1/√D
  SigmoidApprox sigmoid_approx = SigmoidApprox::kTanh;  // fused kernel only; math/sdpa compute σ exactly

  double scale_for(int64_t head_dim) const;
  static AttentionOptions from_config(const AttentionConfig& c);
};
using FusedAttentionOptions = AttentionOptions;

// A backend computes O [B, T_q, H, D] from q, k, v in the layout above. It must support autograd.
using AttentionBackendFn = std::function<at::Tensor(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                    const AttentionMask& mask, const AttentionOptions& opts)>;

// A backend and its rules, stated once, here: what it cannot run is found when the config is read and when a model
// is built (MultiHeadAttention resolves its backend once, at construction), never by comparing names per call.
class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;
  virtual const std::string& name() const = 0;
  // Why this backend cannot run attention of `kind` with head dim `head_dim` (0 = not known yet), naming the key to
  // change; empty when it can.
  virtual std::string unsupported(AttentionKind kind, int64_t head_dim) const;
  // Why it cannot compute on this device type; empty when it can.
  virtual std::string unavailable_on(bool cuda) const;
  // Runs the rules above on the inputs (std::invalid_argument), then the backend.
  at::Tensor operator()(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& mask,
                        const AttentionOptions& opts) const;
  // The same from one packed projection qkv [B, T, H + 2·H_kv, D] (q heads, then k, then v): what a block without
  // QK-norm or RoPE has. A backend may take it whole, so that its backward writes d(qkv) in one buffer instead of
  // three gradients that autograd then concatenates; by default it splits and runs the call above.
  at::Tensor packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head, const AttentionMask& mask,
                    const AttentionOptions& opts) const;

 protected:
  virtual at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& mask,
                             const AttentionOptions& opts) const = 0;
  virtual at::Tensor forward_packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head,
                                    const AttentionMask& mask, const AttentionOptions& opts) const;
};
using AttentionBackendPtr = std::shared_ptr<const AttentionBackend>;

// Registry. "math", "sdpa" and "fused" are always registered; "fused" computes only when the kernel engineer's
// models/attention_fused.cpp is built (CUDA build), and says so otherwise. Registering an existing name replaces it.
void register_attention_backend(AttentionBackendPtr backend);
// A backend without rules of its own (e.g. a test's).
void register_attention_backend(const std::string& name, AttentionBackendFn fn);
bool has_attention_backend(const std::string& name);
std::vector<std::string> attention_backend_names();
// Throws std::invalid_argument naming the registered backends (never falls back) when `name` is unknown.
AttentionBackendPtr find_attention_backend(const std::string& name);

// --- fused slot -----------------------------------------------------------------------------------------------
// models/attention_fused.cpp (CUDA builds only) wraps the torch-free kernel of kernels/ in an autograd function and
// defines install_fused_attention(), which calls register_fused_attention(&its_function). models/CMakeLists.txt
// compiles that file and defines SIGTRAIN_HAVE_FUSED_ATTENTION when the file exists, LibTorch has CUDA and the
// kernels are built; the registry then calls install_fused_attention() when it is first used (a plain call, so
// the static library's object is always linked — no reliance on static initialisers).
using FusedAttentionFn = at::Tensor (*)(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const AttentionMask& mask, const FusedAttentionOptions& opts);
using FusedPackedAttentionFn = at::Tensor (*)(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head,
                                              const AttentionMask& mask, const FusedAttentionOptions& opts);
struct FusedAttentionFns {
  FusedAttentionFn separate = nullptr;     // q, k, v (any strides)
  FusedPackedAttentionFn packed = nullptr;  // AttentionBackend::packed's layout; d(qkv) written in one buffer
};
void register_fused_attention(const FusedAttentionFns& fns);
void install_fused_attention();  // defined in attention_fused.cpp; only referenced when SIGTRAIN_HAVE_FUSED_ATTENTION
// True when this binary has the fused kernels (the backend may still need CUDA tensors).
bool fused_attention_built();
// The head dims the fused kernels are built for (kernels/sa_dispatch.h instantiates exactly these).
inline constexpr int64_t kFusedHeadDims[] = {32, 64, 96, 128, 256};

// Convenience for tests and tools: find backend `name` and run it (its rules apply).
at::Tensor attention(const std::string& backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionMask& mask, const AttentionOptions& opts);

// The reference: explicit tensor ops in the input dtype (any device). Also returns P when `probs_out` is given
// (P [B, H, T_q, T_k], masked entries 0).
at::Tensor math_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& mask,
                          const AttentionOptions& opts, at::Tensor* probs_out = nullptr);
// Softmax through at::scaled_dot_product_attention.
at::Tensor sdpa_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& mask,
                          const AttentionOptions& opts);

// Standard ALiBi slopes m_h = 2^(−8h/H), h = 1..H, with the usual rule for H not a power of two (the slopes of
// the nearest lower power of two, then every other slope of the next power of two). float32 [H].
at::Tensor alibi_slopes(int64_t n_head);

// Helpers shared by backends and tests: the valid mask [B, 1|H, T_q, T_k] (bool) and the additive score bias
// (b + alibi + key_bias, float64 when `device`'s dtype is double else float32, broadcastable to [B, H, T_q, T_k]; undefined when there is none).
at::Tensor attention_valid_mask(const AttentionMask& mask, int64_t B, int64_t T_q, int64_t T_k,
                                const at::TensorOptions& device);
at::Tensor attention_score_bias(const AttentionMask& mask, const AttentionOptions& opts, int64_t B, int64_t H,
                                int64_t T_q, int64_t T_k, const at::TensorOptions& device);

// --- statistics for the stability instruments ------------------------------------------------------------------
// Computed (when enabled) on a sampled sub-batch through the math path under no-grad; all values are 0-dim float32
// tensors on the attention's device, so reading them costs one host sync at logging time, not per layer.
struct AttentionStats {
  bool valid = false;        // false until a forward ran with collection on
  int64_t sampled_batch = 0; // sequences used (the first `sampled_batch` of the batch)
  bool via_reference = true; // P was recomputed by the math path (always, since fused/sdpa never materialise P)
  at::Tensor max_abs_logit;  // max |scale·q·k + b + biases| over valid entries, before σ/softmax
  at::Tensor row_mass_mean;  // mean over valid rows of Σ_j P_ij (≈1 at init for sigmoid with b = −log n)
  at::Tensor row_mass_max;   // max over valid rows of Σ_j P_ij
  at::Tensor pv_norm;        // mean over valid (b, h, i) of ‖(P·V)_{b,h,i,:}‖₂
};
AttentionStats compute_attention_stats(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                       const AttentionMask& mask, const AttentionOptions& opts, int64_t max_batch);

}  // namespace sigtrain::models
