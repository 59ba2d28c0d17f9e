#pragma once
// sigtrain's models: one transformer for both the decoder-only LM (causal) and the bidirectional encoder.
//
// Features (each a config key, docs/models.md):
//   * attention kind softmax | sigmoid: O = σ(scale·QKᵀ + b + biases) V with b = −log(valid keys) or a constant
//   * attention backends math (reference) | sdpa (softmax, LibTorch fused) | fused (our CUDA kernel, registered)
//   * grouped-query attention (n_kv_head), fused QKV projection, QK-norm (LayerNorm/RMSNorm over head dim)
//   * positions learned | RoPE | ALiBi (full −m_h·|i−j|) | none
//   * norm LayerNorm | RMSNorm, placement pre | hybrid (x + norm₂(f(norm₁(x)))) | post, LayerScale
//   * MLP GELU | SwiGLU, biases on/off, tied embeddings, truncated-normal init with scaled residual projections
//   * key padding by per-sequence lengths; masked-token objective and pooled embeddings for the encoder
//   * attention statistics (max |logit|, row mass, ‖PV‖) per layer for the stability instruments
//
// Trainer-facing interface: build_model() returns a Model; forward(tokens) gives logits [B, T, V];
// param_info() gives every parameter's declared group and its layer; flops_per_token() is the MFU count.
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "models/attention.h"
#include "models/model_config.h"
#include "models/param_group.h"
#include "models/transformer.h"

namespace sigtrain::models {

// One batch. Only `tokens` is required.
struct ModelInputs {
  at::Tensor tokens;   // int64 [B, T]
  at::Tensor values;   // float [B, T] or undefined; encoder with model.value_input only
  at::Tensor lengths;  // int [B] or undefined (no padding); tokens at t >= lengths[b] are trailing padding
};

// A parameter with what its module declared about it (models/param_group.h) and where it sits.
struct ParamInfo {
  std::string name;    // e.g. "blocks.3.attn.qkv.weight" (checkpoints and logs only; nothing is derived from it)
  at::Tensor param;
  ParamGroup group = ParamGroup::kOther;
  int layer = -1;      // block index, −1 outside blocks
  bool is_bias = false;
  bool decay() const { return decays_by_default(group, is_bias); }
};

// Float-tolerant summaries of all parameters (in float64), beside the bit-exact digest of checkpoints.
struct ParamSummary {
  double sum = 0;
  double l2 = 0;
};

// What the ParamModules under `root` declared about its parameters, in registration order; `layer` is the index in
// `blocks` of the block holding a parameter (by identity), −1 outside them. std::logic_error for a parameter
// registered outside a ParamModule. Model::param_info() is this over the model and its blocks.
std::vector<ParamInfo> declared_parameters(const torch::nn::Module& root,
                                           const std::vector<std::shared_ptr<torch::nn::Module>>& blocks);

class Model : public torch::nn::Module {
 public:
  Model(const ModelConfig& cfg, const AttentionConfig& attn);
  ~Model() override = default;

  // Logits [B, T, vocab_size] in the compute dtype (the trainer may upcast for the loss).
  at::Tensor forward(const ModelInputs& in);
  at::Tensor forward(const at::Tensor& tokens) { return forward(ModelInputs{tokens, {}, {}}); }
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& lengths) {
    return forward(ModelInputs{tokens, {}, lengths});
  }
  // Final hidden states [B, T, d_model] (after the final norm).
  at::Tensor hidden(const ModelInputs& in);
  // Hidden → logits through the head (tied: the token embedding matrix).
  at::Tensor logits(const at::Tensor& hidden) const;

  const ModelConfig& config() const { return cfg_; }
  const AttentionConfig& attention_config() const { return attn_cfg_; }
  bool causal() const { return cfg_.causal(); }

  // Every parameter in registration order with its declared group and block. std::logic_error when a parameter
  // was registered outside a ParamModule (its group would be unknown).
  std::vector<ParamInfo> param_info() const;
  ParamSummary parameter_summary() const;
  // All parameters (tied matrices once); exclude_embeddings drops the token/position embedding tables
  // (and the value projection) — with tying the shared matrix is dropped too.
  int64_t num_params(bool exclude_embeddings = false) const;
  // Training FLOPs per token, llm.c/PaLM count: 6·N + 12·L·d·T with N = num_params(false), halving the attention
  // term (12·L·d·T) for the causal model. MFU = flops_per_token · tokens/s / peak.
  double flops_per_token(int64_t seq_len) const;

  // Switch every block's attention backend (e.g. tests comparing math and sdpa on one set of weights).
  void set_attention_backend(const std::string& name);

  // Stability instruments (off by default): per-layer attention statistics on the first `sample_batch`
  // sequences of each forward, computed through the math path; block-output RMS.
  void set_collect_attention_stats(bool on, int64_t sample_batch = 1);
  std::vector<AttentionStats> attention_stats() const;  // one per layer, from the last forward
  std::vector<at::Tensor> block_output_rms() const;      // one per layer (0-dim), from the last forward

  int64_t n_layer() const { return static_cast<int64_t>(blocks_.size()); }
  const std::shared_ptr<TransformerBlock>& block(int64_t i) const { return blocks_.at(i); }

 protected:
  // Input embedding [B, T, d] (token + learned position; the encoder adds the value projection).
  virtual at::Tensor embed(const ModelInputs& in);
  AttentionMask make_mask(const ModelInputs& in) const;

  ModelConfig cfg_;
  AttentionConfig attn_cfg_;
  std::shared_ptr<Embedding> tok_embed_;  // "tok_embed.weight" [V, d]
  std::shared_ptr<Embedding> pos_embed_;  // "pos_embed.weight" [max_seq_len, d], learned positions only
  std::shared_ptr<Linear> head_;          // "head.weight" [V, d], untied only (no bias)
  at::Tensor alibi_slopes_;               // buffer "alibi_slopes" [H], ALiBi only
  std::shared_ptr<Rope> rope_;            // buffers "rope.cos", "rope.sin", RoPE only
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;  // "blocks.<i>.…"
  std::shared_ptr<Norm> final_norm_;      // "final_norm.*", pre / hybrid only (post-norm blocks end in a norm)
};

// Builds the model for `cfg.arch` (CausalLM or Encoder, both Models). Throws std::invalid_argument when
// vocab_size is still 0 or the configs are inconsistent (see validate()).
std::shared_ptr<Model> build_model(const ModelConfig& cfg, const AttentionConfig& attn);

}  // namespace sigtrain::models
