#pragma once
// The transformer block library shared by the decoder LM and the bidirectional encoder.
//
// Every parameter lives in a ParamModule that declares its group (models/param_group.h); the optimizer and the
// instruments read the declaration (Model::param_info), never the names. The names (checkpoints, metrics.h5):
//   blocks.<i>.attn.qkv.{weight,bias}      fused Q|K|V projection, d → (H + 2·H_kv)·D
//   blocks.<i>.attn.out.{weight,bias}      output projection (residual branch; scaled init)
//   blocks.<i>.attn.{q_norm,k_norm}.*      QK-norm over the head dimension (before RoPE)
//   blocks.<i>.mlp.fc.{weight,bias}        d → d_ff (gelu) or d → 2·d_ff (swiglu: gate | up, fused)
//   blocks.<i>.mlp.proj.{weight,bias}      d_ff → d (residual branch; scaled init)
//   blocks.<i>.{attn_norm,mlp_norm}.*      the block's norms (pre: input; post: after the residual add)
//   blocks.<i>.{attn_post_norm,mlp_post_norm}.*   hybrid placement's second norm on the branch output
//   blocks.<i>.{attn_scale,mlp_scale}.gamma       LayerScale
#include <torch/nn/module.h>

#include <memory>
#include <utility>
#include <vector>

#include "models/attention.h"
#include "models/model_config.h"
#include "models/param_group.h"
#include "models/weight_casts.h"

namespace sigtrain::models {

// A module whose own parameters (not its children's) all belong to one declared group.
class ParamModule : public torch::nn::Module {
 public:
  explicit ParamModule(ParamGroup group) : group_(group) {}
  ParamGroup param_group() const { return group_; }

 private:
  ParamGroup group_;
};

// Truncated normal N(0, std²) cut at ±2·std, in place (inverse-CDF sampling from the global generator).
void trunc_normal_(at::Tensor& t, double std);

// y = x Wᵀ + b. Weight [out, in] initialised trunc-normal(std); bias zeros. `group` says what the layer is for.
class Linear : public ParamModule {
 public:
  Linear(int64_t in, int64_t out, bool bias, double init_std, ParamGroup group);
  // With `fused` on, CUDA inputs that fit go through models/linear_fused.h (dW in fp32 and db from the
  // weight-gradient GEMM); else LibTorch's linear.
  at::Tensor forward(const at::Tensor& x) const;
  // x Wᵀ alone: the bias is added by whoever takes it (a residual branch's, in the next add + norm).
  at::Tensor forward_without_bias(const at::Tensor& x) const;
  at::Tensor weight, bias;  // bias undefined when off
  bool fused = false;       // fused_ops.linear (Model::set_fused_ops)
  std::shared_ptr<const WeightCasts> casts;  // the model's compute-dtype copies of weight and bias, when fused
};

// A lookup table [num, dim] initialised trunc-normal(std); parameter "weight" (group embedding).
class Embedding : public ParamModule {
 public:
  Embedding(int64_t num, int64_t dim, double init_std);
  at::Tensor forward(const at::Tensor& ids) const;
  at::Tensor weight;
};

// LayerNorm (with shift when `bias`) or RMSNorm over the last dimension; learnable scale initialised to 1
// (group norm).
class Norm : public ParamModule {
 public:
  Norm(NormKind kind, int64_t dim, double eps, bool bias);
  // With `fused` on, CUDA inputs that fit (contiguous rows, dim ≤ 2048, a multiple of 4) go through the fused
  // kernel (models/norm_fused.h), which under autocast writes the autocast dtype directly; else LibTorch's op.
  at::Tensor forward(const at::Tensor& x) const;
  // {s, norm(s)} with s = x + delta (a residual add; an undefined delta adds nothing), or s = x + (delta +
  // delta_bias) with the residual branch's deferred output bias (fused_ops.residual_bias): one fused kernel each way
  // when `fused` and `fused_add` are on and the inputs fit (models/norm_fused.h), else the adds and forward().
  std::pair<at::Tensor, at::Tensor> add_forward(const at::Tensor& x, const at::Tensor& delta,
                                                const at::Tensor& delta_bias = at::Tensor()) const;
  NormKind kind;
  int64_t dim;
  double eps;
  bool fused = false;      // fused_ops.norm (Model::set_fused_ops)
  bool fused_add = false;  // fused_ops.add_norm
  at::Tensor weight, bias;

 private:
  // The dtype of the fused kernel's output for input x (the autocast dtype for an fp32 x under autocast).
  static at::ScalarType fused_out_dtype(const at::Tensor& x);
};

// LayerScale: y = γ ⊙ x, γ per channel initialised to `init` (group layerscale).
class LayerScale : public ParamModule {
 public:
  LayerScale(int64_t dim, double init);
  at::Tensor forward(const at::Tensor& x) const { return x * gamma; }
  at::Tensor gamma;
};

// Rotary embeddings (rotate-half form) with precomputed cos/sin buffers [max_seq_len, D/2] (float32).
class Rope : public torch::nn::Module {
 public:
  Rope(int64_t head_dim, int64_t max_seq_len, double theta);
  // x [B, T, H, D] → same shape; positions 0..T−1. With `fused` on, CUDA inputs that fit go through
  // models/rope_fused.h (one kernel each way, fp32 arithmetic); else LibTorch's ops in x's dtype.
  at::Tensor apply(const at::Tensor& x) const;
  at::Tensor cos, sin;
  bool fused = false;  // fused_ops.rope (Model::set_fused_ops)
};

class MultiHeadAttention : public torch::nn::Module {
 public:
  MultiHeadAttention(const ModelConfig& cfg, const AttentionConfig& attn, int64_t layer);
  // x [B, T, d] → [B, T, d]. `rope` may be null. With `deferred_out_bias`, the output projection runs without its
  // bias and hands it back there (undefined without one) for the next add + norm to add.
  at::Tensor forward(const at::Tensor& x, const AttentionMask& mask, const Rope* rope,
                     at::Tensor* deferred_out_bias = nullptr);

  // Stability statistics (off by default): when on, each forward also computes AttentionStats on the first
  // `sample_batch` sequences through the math path, under no-grad.
  void set_collect_stats(bool on, int64_t sample_batch = 1) {
    collect_stats_ = on;
    stats_sample_batch_ = sample_batch;
  }
  bool collect_stats() const { return collect_stats_; }
  const AttentionStats& last_stats() const { return stats_; }

  const std::string& backend() const { return backend_->name(); }
  // Resolves `name` in the registry and checks its rules for this layer (std::invalid_argument).
  void set_backend(const std::string& name);

  std::shared_ptr<Linear> qkv, out;
  std::shared_ptr<Norm> q_norm, k_norm;  // null without QK-norm
  // fused_ops.packed_qkv (Model::set_fused_ops): without QK-norm and RoPE, the projection's qkv goes to the backend
  // whole (AttentionBackend::packed), so the fused backend's backward writes d(qkv) in one buffer.
  bool packed_qkv = false;

 private:
  int64_t n_head_, n_kv_head_, head_dim_;
  AttentionBackendPtr backend_;  // resolved once (set_backend), called directly in forward
  AttentionOptions opts_;
  bool collect_stats_ = false;
  int64_t stats_sample_batch_ = 1;
  AttentionStats stats_;
};

class Mlp : public torch::nn::Module {
 public:
  Mlp(const ModelConfig& cfg);
  // With `deferred_proj_bias`, proj runs without its bias and hands it back there (as MultiHeadAttention::forward).
  at::Tensor forward(const at::Tensor& x, at::Tensor* deferred_proj_bias = nullptr) const;
  std::shared_ptr<Linear> fc, proj;
  MlpKind kind;
  // With `fused` on, a GELU MLP on CUDA under autocast (or in bf16 / fp16) whose widths fit runs as one op with its
  // bias, GELU and their gradients in the GEMM epilogues (models/mlp_fused.h); else LibTorch's ops.
  bool fused = false;  // fused_ops.mlp (Model::set_fused_ops)
  bool recompute_gelu = false;  // fused_ops.mlp_recompute: the fused op keeps GELU's input only
  std::shared_ptr<const WeightCasts> casts;  // the model's compute-dtype copies of fc's and proj's parameters
};

// The residual stream between blocks, as x + pending: a pre-norm block returns its MLP branch unadded, and the
// norm that reads the sum next (the next block's, or the final norm) adds it (Norm::add_forward).
struct ResidualStream {
  at::Tensor x;
  at::Tensor pending;       // undefined: nothing pending
  at::Tensor pending_bias;  // the pending branch's output bias, not yet added (fused_ops.residual_bias), or undefined
  at::Tensor materialise() const {
    if (!pending.defined()) return x;
    return x + (pending_bias.defined() ? pending + pending_bias : pending);
  }
};

// One block. With f ∈ {attention, MLP}, optional LayerScale γ, and dropout + stochastic depth on f's output:
//   pre:    x = x + γ·f(norm(x))
//   hybrid: x = x + γ·norm₂(f(norm₁(x)))
//   post:   x = norm(x + γ·f(x))
class TransformerBlock : public torch::nn::Module {
 public:
  TransformerBlock(const ModelConfig& cfg, const AttentionConfig& attn, int64_t layer);
  // The stream in, the stream out; pre / hybrid leave the last add pending, post returns nothing pending.
  ResidualStream forward(const ResidualStream& in, const AttentionMask& mask, const Rope* rope);
  // The block on a plain tensor: forward({x}) with its pending add done.
  at::Tensor forward(const at::Tensor& x, const AttentionMask& mask, const Rope* rope);

  std::shared_ptr<Norm> attn_norm, mlp_norm;            // always present
  std::shared_ptr<Norm> attn_post_norm, mlp_post_norm;  // hybrid only
  std::shared_ptr<LayerScale> attn_scale, mlp_scale;    // layer_scale only
  std::shared_ptr<MultiHeadAttention> attn;
  std::shared_ptr<Mlp> mlp;
  // fused_ops.residual_bias (Model::set_fused_ops): a pre-norm block whose branches end in their output projection
  // (no post-norm, LayerScale, dropout or stochastic depth) leaves those projections' biases to the next add + norm.
  bool residual_bias = false;

  // Block-output RMS (0-dim float32, on device) of the last forward when attention stats are collected.
  at::Tensor last_output_rms;

 private:
  // γ·[norm₂](f(in)) through dropout and stochastic depth: what a sub-layer adds to the stream. With `deferred_bias`
  // (only where defers_bias()), f's output bias is not added but handed back there.
  at::Tensor attn_branch(const at::Tensor& in, const AttentionMask& mask, const Rope* rope, at::Tensor* deferred_bias);
  at::Tensor mlp_branch(const at::Tensor& in, at::Tensor* deferred_bias);
  // Whether each branch's output is its projection's (nothing after it), so that its bias can move to the next norm.
  bool defers_bias() const;
  // A residual branch's output through dropout and stochastic depth (training only).
  at::Tensor drop_branch(const at::Tensor& h) const;
  at::Tensor drop_path_branch(const at::Tensor& h) const;

  NormPlacement placement_;
  double dropout_;
  double drop_path_;  // this block's stochastic-depth rate (ModelConfig::drop_path_at)
};

}  // namespace sigtrain::models
