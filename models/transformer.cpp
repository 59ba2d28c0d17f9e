// The block library: Linear, Norm (LayerNorm / RMSNorm), LayerScale, RoPE, multi-head attention with QK-norm and
// GQA, GELU / SwiGLU MLP, and the transformer block with pre / hybrid / post norm placement.
#include "models/transformer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cmath>

#include "models/linear_fused.h"
#include "models/mlp_fused.h"
#include "models/norm_fused.h"
#include "models/rope_fused.h"

namespace sigtrain::models {

void trunc_normal_(at::Tensor& t, double std) {
  torch::NoGradGuard no_grad;
  if (std <= 0.0) {
    t.zero_();
    return;
  }
  // Inverse CDF: u ~ U(Φ(−2), Φ(2)), x = √2·erfinv(2u − 1)·std.
  const double lo = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
  const double hi = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0 * std, 2.0 * std);
}

// ---------------------------------------------------------------------------------------------------------------
Linear::Linear(int64_t in, int64_t out, bool use_bias, double init_std, ParamGroup group) : ParamModule(group) {
  weight = register_parameter("weight", torch::empty({out, in}));
  trunc_normal_(weight, init_std);
  if (use_bias) bias = register_parameter("bias", torch::zeros({out}));
}

at::Tensor Linear::forward(const at::Tensor& x) const {
  if (fused && fused_linear_applicable(x, weight)) return fused_linear(x, weight, bias, casts.get());
  return at::linear(x, weight, bias);
}

at::Tensor Linear::forward_without_bias(const at::Tensor& x) const {
  if (fused && fused_linear_applicable(x, weight)) return fused_linear(x, weight, at::Tensor(), casts.get());
  return at::linear(x, weight);
}

Embedding::Embedding(int64_t num, int64_t dim, double init_std) : ParamModule(ParamGroup::kEmbedding) {
  weight = register_parameter("weight", torch::empty({num, dim}));
  trunc_normal_(weight, init_std);
}

at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight, ids); }

// ---------------------------------------------------------------------------------------------------------------
Norm::Norm(NormKind k, int64_t d, double e, bool use_bias) : ParamModule(ParamGroup::kNorm), kind(k), dim(d), eps(e) {
  weight = register_parameter("weight", torch::ones({d}));
  if (use_bias && kind == NormKind::kLayerNorm) bias = register_parameter("bias", torch::zeros({d}));
}

at::ScalarType Norm::fused_out_dtype(const at::Tensor& x) {
  // Under autocast, what LibTorch's path returns (fp32 LayerNorm) every consumer casts to the autocast dtype: the
  // fused kernel writes that dtype directly. A bf16 input (QK-norm) stays bf16.
  return x.scalar_type() == at::kFloat && at::autocast::is_autocast_enabled(at::kCUDA)
             ? at::autocast::get_autocast_dtype(at::kCUDA)
             : x.scalar_type();
}

std::pair<at::Tensor, at::Tensor> Norm::add_forward(const at::Tensor& x, const at::Tensor& delta,
                                                    const at::Tensor& delta_bias) const {
  if (!delta.defined()) return {x, forward(x)};
  if (fused && fused_add) {
    const at::ScalarType out = fused_out_dtype(x);
    // delta is a sub-layer's output: under autocast in the autocast dtype, which the kernel takes; an fp32 delta
    // (e.g. after LayerScale's fp32 γ) takes the unfused path.
    if (fused_add_norm_applicable(x, delta, weight, out))
      return fused_add_norm(x, delta, weight, kind == NormKind::kLayerNorm ? bias : at::Tensor(), eps,
                            kind == NormKind::kRMSNorm, out, delta_bias);
  }
  // The kernel's order: the bias joins the branch in fp32, then the stream.
  at::Tensor s = x + (delta_bias.defined() ? delta + delta_bias : delta);
  return {s, forward(s)};
}

at::Tensor Norm::forward(const at::Tensor& x) const {
  if (fused && fused_norm_applicable(x, weight))
    return fused_norm(x, weight, kind == NormKind::kLayerNorm ? bias : at::Tensor(), eps, kind == NormKind::kRMSNorm,
                      fused_out_dtype(x));
  if (kind == NormKind::kLayerNorm) return at::layer_norm(x, {dim}, weight, bias, eps);  // fp32 under autocast
  // rms_norm's fused kernels need the weight in the input's dtype (bf16 q/k under autocast for QK-norm); the cast
  // is differentiable, so the fp32 master weight still gets its gradient.
  return at::rms_norm(x, {dim}, weight.scalar_type() == x.scalar_type() ? weight : weight.to(x.scalar_type()), eps);
}

LayerScale::LayerScale(int64_t dim, double init) : ParamModule(ParamGroup::kLayerScale) {
  gamma = register_parameter("gamma", torch::full({dim}, init));
}

// ---------------------------------------------------------------------------------------------------------------
Rope::Rope(int64_t head_dim, int64_t max_seq_len, double theta) {
  const int64_t half = head_dim / 2;
  auto opt = torch::TensorOptions().dtype(torch::kDouble);
  at::Tensor inv_freq = torch::pow(theta, -torch::arange(half, opt) * 2.0 / static_cast<double>(head_dim));
  at::Tensor angles = torch::outer(torch::arange(max_seq_len, opt), inv_freq);  // [T, D/2]
  cos = register_buffer("cos", angles.cos().to(torch::kFloat));
  sin = register_buffer("sin", angles.sin().to(torch::kFloat));
}

at::Tensor Rope::apply(const at::Tensor& x) const {
  const int64_t T = x.size(1), half = x.size(3) / 2;
  TORCH_CHECK(T <= cos.size(0), "sequence length ", T, " exceeds model.max_seq_len ", cos.size(0));
  if (fused && fused_rope_applicable(x, cos, sin)) return fused_rope(x, cos, sin);
  at::Tensor c = cos.narrow(0, 0, T).view({1, T, 1, half}).to(x.scalar_type());
  at::Tensor s = sin.narrow(0, 0, T).view({1, T, 1, half}).to(x.scalar_type());
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * c - x2 * s, x1 * s + x2 * c}, -1);
}

// ---------------------------------------------------------------------------------------------------------------
static double residual_std(const ModelConfig& cfg) {
  return cfg.scaled_init ? cfg.init_std / std::sqrt(2.0 * static_cast<double>(cfg.n_layer)) : cfg.init_std;
}

MultiHeadAttention::MultiHeadAttention(const ModelConfig& cfg, const AttentionConfig& attn, int64_t /*layer*/)
    : n_head_(cfg.n_head),
      n_kv_head_(cfg.kv_heads()),
      head_dim_(cfg.head_dim()),
      opts_(AttentionOptions::from_config(attn)) {
  set_backend(attn.backend);
  const int64_t d = cfg.d_model;
  qkv = register_module("qkv",
                        std::make_shared<Linear>(d, (n_head_ + 2 * n_kv_head_) * head_dim_, cfg.bias, cfg.init_std,
                                                 ParamGroup::kAttnQkv));
  out = register_module("out", std::make_shared<Linear>(n_head_ * head_dim_, d, cfg.bias, residual_std(cfg),
                                                        ParamGroup::kAttnOut));
  if (cfg.qk_norm) {
    q_norm = register_module("q_norm", std::make_shared<Norm>(cfg.norm, head_dim_, cfg.norm_eps, cfg.bias));
    k_norm = register_module("k_norm", std::make_shared<Norm>(cfg.norm, head_dim_, cfg.norm_eps, cfg.bias));
  }
}

void MultiHeadAttention::set_backend(const std::string& name) {
  AttentionBackendPtr backend = find_attention_backend(name);
  if (const std::string why = backend->unsupported(opts_.kind, head_dim_); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
  backend_ = std::move(backend);
}

at::Tensor MultiHeadAttention::forward(const at::Tensor& x, const AttentionMask& mask, const Rope* rope,
                                       at::Tensor* deferred_out_bias) {
  const int64_t B = x.size(0), T = x.size(1);
  at::Tensor qkv_all = qkv->forward(x).view({B, T, n_head_ + 2 * n_kv_head_, head_dim_});
  at::Tensor o;  // [B, T, H, D]
  if (packed_qkv && !q_norm && !rope) {
    // q, k and v go to the backend as the projection made them: a backend that takes them packed (fused) writes
    // d(qkv) in one buffer, with no concatenation of three gradients in the backward (docs/benchmarks.md).
    if (collect_stats_) {
      const auto parts = qkv_all.detach().split_with_sizes({n_head_, n_kv_head_, n_kv_head_}, 2);
      stats_ = compute_attention_stats(parts[0], parts[1], parts[2], mask, opts_, stats_sample_batch_);
    }
    o = backend_->packed(qkv_all, n_head_, n_kv_head_, mask, opts_);
  } else {
    // One split, not three narrows: its backward writes d(qkv) with one concatenation, where three narrows' would
    // each fill a zero tensor of the full size, copy their slice in and add the three up (docs/benchmarks.md).
    const auto parts = qkv_all.split_with_sizes({n_head_, n_kv_head_, n_kv_head_}, 2);
    at::Tensor q = parts[0], k = parts[1], v = parts[2];
    if (q_norm) {  // QK-norm over the head dimension, before RoPE
      // (under autocast LayerNorm computes and returns float32: back to the dtype of v, which every backend expects)
      q = q_norm->forward(q).to(v.scalar_type());
      k = k_norm->forward(k).to(v.scalar_type());
    }
    if (rope) {
      q = rope->apply(q);
      k = rope->apply(k);
    }
    if (collect_stats_) stats_ = compute_attention_stats(q.detach(), k.detach(), v.detach(), mask, opts_,
                                                         stats_sample_batch_);
    o = (*backend_)(q, k, v, mask, opts_);
  }
  o = o.reshape({B, T, n_head_ * head_dim_});
  if (!deferred_out_bias) return out->forward(o);
  *deferred_out_bias = out->bias;
  return out->forward_without_bias(o);
}

// ---------------------------------------------------------------------------------------------------------------
Mlp::Mlp(const ModelConfig& cfg) : kind(cfg.mlp) {
  const int64_t f = cfg.ffn_dim();
  const int64_t fc_out = kind == MlpKind::kSwiGLU ? 2 * f : f;
  fc = register_module("fc", std::make_shared<Linear>(cfg.d_model, fc_out, cfg.bias, cfg.init_std, ParamGroup::kMlp));
  proj = register_module("proj",
                         std::make_shared<Linear>(f, cfg.d_model, cfg.bias, residual_std(cfg), ParamGroup::kMlp));
}

at::Tensor Mlp::forward(const at::Tensor& x, at::Tensor* deferred_proj_bias) const {
  if (deferred_proj_bias) *deferred_proj_bias = proj->bias;
  const at::Tensor proj_bias = deferred_proj_bias ? at::Tensor() : proj->bias;
  if (fused && kind == MlpKind::kGelu && fused_mlp_applicable(x, fc->weight, proj->weight))
    return fused_gelu_mlp(x, fc->weight, fc->bias, proj->weight, proj_bias, casts.get(), recompute_gelu);
  at::Tensor h = fc->forward(x);
  if (kind == MlpKind::kGelu) {
    h = at::gelu(h, "tanh");
  } else {
    auto gu = h.chunk(2, -1);  // SwiGLU: silu(gate) ⊙ up
    h = at::silu(gu[0]) * gu[1];
  }
  return deferred_proj_bias ? proj->forward_without_bias(h) : proj->forward(h);
}

// ---------------------------------------------------------------------------------------------------------------
TransformerBlock::TransformerBlock(const ModelConfig& cfg, const AttentionConfig& attn_cfg, int64_t layer)
    : placement_(cfg.norm_placement), dropout_(cfg.dropout), drop_path_(cfg.drop_path_at(layer)) {
  const int64_t d = cfg.d_model;
  attn_norm = register_module("attn_norm", std::make_shared<Norm>(cfg.norm, d, cfg.norm_eps, cfg.bias));
  attn = register_module("attn", std::make_shared<MultiHeadAttention>(cfg, attn_cfg, layer));
  if (placement_ == NormPlacement::kHybrid)
    attn_post_norm = register_module("attn_post_norm", std::make_shared<Norm>(cfg.norm, d, cfg.norm_eps, cfg.bias));
  if (cfg.layer_scale) attn_scale = register_module("attn_scale", std::make_shared<LayerScale>(d, *cfg.layer_scale));
  mlp_norm = register_module("mlp_norm", std::make_shared<Norm>(cfg.norm, d, cfg.norm_eps, cfg.bias));
  mlp = register_module("mlp", std::make_shared<Mlp>(cfg));
  if (placement_ == NormPlacement::kHybrid)
    mlp_post_norm = register_module("mlp_post_norm", std::make_shared<Norm>(cfg.norm, d, cfg.norm_eps, cfg.bias));
  if (cfg.layer_scale) mlp_scale = register_module("mlp_scale", std::make_shared<LayerScale>(d, *cfg.layer_scale));
}

at::Tensor TransformerBlock::drop_branch(const at::Tensor& h) const {
  if (dropout_ > 0.0 && is_training()) return drop_path_branch(at::dropout(h, dropout_, true));
  return drop_path_branch(h);
}

at::Tensor TransformerBlock::drop_path_branch(const at::Tensor& h) const {
  if (drop_path_ <= 0.0 || !is_training()) return h;
  // Stochastic depth: the whole branch of a sample is dropped with probability drop_path_, kept ones scaled by
  // 1 / keep so the expectation is unchanged (timm's DropPath).
  const double keep = 1.0 - drop_path_;
  std::vector<int64_t> shape(static_cast<size_t>(h.dim()), 1);
  shape[0] = h.size(0);
  at::Tensor mask = torch::empty(shape, h.options()).bernoulli_(keep);
  return h * mask / keep;
}

bool TransformerBlock::defers_bias() const {
  const bool drops = is_training() && (dropout_ > 0.0 || drop_path_ > 0.0);
  return residual_bias && placement_ == NormPlacement::kPre && !attn_post_norm && !mlp_post_norm && !attn_scale &&
         !mlp_scale && !drops;
}

at::Tensor TransformerBlock::attn_branch(const at::Tensor& in, const AttentionMask& mask, const Rope* rope,
                                         at::Tensor* deferred_bias) {
  at::Tensor h = attn->forward(in, mask, rope, deferred_bias);
  if (attn_post_norm) h = attn_post_norm->forward(h);
  if (attn_scale) h = attn_scale->forward(h);
  return drop_branch(h);
}

at::Tensor TransformerBlock::mlp_branch(const at::Tensor& in, at::Tensor* deferred_bias) {
  at::Tensor h = mlp->forward(in, deferred_bias);
  if (mlp_post_norm) h = mlp_post_norm->forward(h);
  if (mlp_scale) h = mlp_scale->forward(h);
  return drop_branch(h);
}

ResidualStream TransformerBlock::forward(const ResidualStream& in, const AttentionMask& mask, const Rope* rope) {
  ResidualStream out;
  if (placement_ == NormPlacement::kPost) {
    // The norm's output is the stream: nothing stays pending.
    at::Tensor x = in.materialise();
    x = attn_norm->forward(x + attn_branch(x, mask, rope, nullptr));
    out.x = mlp_norm->forward(x + mlp_branch(x, nullptr));
  } else {
    // Each sum is formed by the norm that reads it (Norm::add_forward): the pending add from before this block in
    // attn_norm, the attention branch in mlp_norm; the MLP branch is left to the next norm. Where the branches end
    // in their projections, those biases go along and the norms add them (fused_ops.residual_bias).
    const bool defer = defers_bias();
    at::Tensor attn_bias, mlp_bias;
    const auto [x, h] = attn_norm->add_forward(in.x, in.pending, in.pending_bias);
    const at::Tensor attn_out = attn_branch(h, mask, rope, defer ? &attn_bias : nullptr);
    const auto [x_mid, h_mid] = mlp_norm->add_forward(x, attn_out, attn_bias);
    const at::Tensor mlp_out = mlp_branch(h_mid, defer ? &mlp_bias : nullptr);
    out = {x_mid, mlp_out, mlp_bias};
  }
  if (attn->collect_stats()) {
    torch::NoGradGuard no_grad;
    last_output_rms = out.materialise().detach().to(at::kFloat).pow(2).mean().sqrt();
  }
  return out;
}

at::Tensor TransformerBlock::forward(const at::Tensor& x, const AttentionMask& mask, const Rope* rope) {
  return forward(ResidualStream{x, at::Tensor(), at::Tensor()}, mask, rope).materialise();
}

}  // namespace sigtrain::models
