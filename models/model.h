#pragma once
// sigtrain's models: one transformer stack (models/transformer.h) under every domain's model -- the decoder-only
// LM (causal), the bidirectional encoder (text, single cells) and the vision transformer (models/vit.h).
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
// Trainer-facing interface: build_model() returns a Model; forward(inputs) gives the head's output (logits
// [B, T, V] for token models, [B, classes] for the ViT); param_info() gives every parameter's declared group and
// its layer; flops_per_token() is the MFU count.
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "models/attention.h"
#include "models/fused_ops.h"
#include "models/model_config.h"
#include "models/param_group.h"
#include "models/transformer.h"

namespace sigtrain::models {

// One batch: `tokens` for token models, `images` for the vision transformer, `features` for the speech encoder.
struct ModelInputs {
  at::Tensor tokens;   // int64 [B, T]
  at::Tensor values;   // float [B, T] or undefined; encoder with model.value_input only
  at::Tensor lengths;  // int [B] or undefined (no padding); tokens at t >= lengths[b] are trailing padding
  at::Tensor images;   // float [B, C, H, W]; vision models only
  // float [B, T, n_mels] log-mel frames; the speech encoder only (models/asr_encoder.h). Its `lengths` count encoder
  // positions after the 4× subsampling (SpeechModelConfig::positions of each utterance's frames), not frames.
  at::Tensor features;
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

// The part every model shares: the transformer blocks, the final norm, and everything the trainer reads from a
// model (parameters and their groups, FLOPs, attention statistics). A model adds its input embedding (embed) and
// its head (logits) and registers, in its constructor, its own modules around add_blocks().
class Model : public torch::nn::Module {
 public:
  Model(const ModelConfig& cfg, const AttentionConfig& attn);
  ~Model() override = default;

  // The head's output for a batch: logits(hidden(in)), in the compute dtype (the task may upcast for the loss).
  at::Tensor forward(const ModelInputs& in) { return logits(hidden(in)); }
  at::Tensor forward(const at::Tensor& tokens) { return forward(ModelInputs{tokens, {}, {}, {}}); }
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& lengths) {
    return forward(ModelInputs{tokens, {}, lengths, {}});
  }
  // Final hidden states [B, T, d_model] (after the final norm).
  at::Tensor hidden(const ModelInputs& in);
  // Hidden states → the head's output.
  virtual at::Tensor logits(const at::Tensor& hidden) const = 0;
  // Σ over positions of the cross-entropy of the head's output against `targets` (in's leading shape, int64;
  // ignore_index left out): fp32 0-dim, the loss the token tasks train on. forward(in) and models::cross_entropy_sum
  // (fused_ops.cross_entropy); with fused_ops.head_loss, a linear head (loss_head_weight) and a gradient to
  // compute, the head's GEMM and the loss as one op instead (models/head_loss.h).
  at::Tensor cross_entropy_sum(const ModelInputs& in, const at::Tensor& targets, int64_t ignore_index);

  const ModelConfig& config() const { return cfg_; }
  const AttentionConfig& attention_config() const { return attn_cfg_; }
  bool causal() const { return cfg_.causal(); }

  // Every parameter in registration order with its declared group and block. std::logic_error when a parameter
  // was registered outside a ParamModule (its group would be unknown).
  std::vector<ParamInfo> param_info() const;
  ParamSummary parameter_summary() const;
  // All parameters (tied matrices once); exclude_embeddings drops the embedding group (token/position tables, the
  // value projection, the CLS token).
  int64_t num_params(bool exclude_embeddings = false) const;
  // Training FLOPs per token (position), llm.c/PaLM count: 6·N + 12·L·d·T with N = num_params(false), halving the
  // attention term (12·L·d·T) for the causal model. MFU = flops_per_token · tokens/s / peak.
  double flops_per_token(int64_t seq_len) const;

  // Switch every block's attention backend (e.g. tests comparing math and sdpa on one set of weights).
  void set_attention_backend(const std::string& name);

  // The fused kernels the model's modules use (fused_ops section, resolved for the device): the norms, MLPs and
  // linear layers. With the MLP or linear ops on, each forward under CUDA autocast first makes the compute-dtype
  // copies of their weights in one multi-tensor copy (models/weight_casts.h).
  void set_fused_ops(const FusedOps& ops);

  // Stability instruments (off by default): per-layer attention statistics on the first `sample_batch`
  // sequences of each forward, computed through the math path; block-output RMS.
  void set_collect_attention_stats(bool on, int64_t sample_batch = 1);
  std::vector<AttentionStats> attention_stats() const;  // one per layer, from the last forward
  std::vector<at::Tensor> block_output_rms() const;      // one per layer (0-dim), from the last forward

  int64_t n_layer() const { return static_cast<int64_t>(blocks_.size()); }
  const std::shared_ptr<TransformerBlock>& block(int64_t i) const { return blocks_.at(i); }

 protected:
  // Input embedding [B, T, d] of the batch.
  virtual at::Tensor embed(const ModelInputs& in) = 0;
  // The fp32 weight W [V, d] when logits(h) is exactly h Wᵀ (a linear head without a bias, tied or not), which
  // fused_ops.head_loss may fuse with the loss; undefined otherwise.
  virtual at::Tensor loss_head_weight() const { return {}; }
  // Causality, key padding from in.lengths, ALiBi slopes.
  AttentionMask make_mask(const ModelInputs& in, const at::Device& device) const;
  // Registers "blocks.<i>" and (pre / hybrid placement) "final_norm"; called by the derived constructor where
  // these belong in its parameter order.
  void add_blocks();

  ModelConfig cfg_;
  AttentionConfig attn_cfg_;
  at::Tensor alibi_slopes_;               // buffer "alibi_slopes" [H], ALiBi only
  std::shared_ptr<Rope> rope_;            // buffers "rope.cos", "rope.sin", RoPE only
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;  // "blocks.<i>.…"
  std::shared_ptr<Norm> final_norm_;      // "final_norm.*", pre / hybrid only (post-norm blocks end in a norm)
  std::shared_ptr<WeightCasts> weight_casts_ = std::make_shared<WeightCasts>();  // the fused ops' weights (set_fused_ops)
  FusedOps fused_ops_;  // set_fused_ops: what the loss (cross_entropy_sum) may use
};

// Token models (the decoder LM and the encoder): token embedding (+ learned positions | RoPE | ALiBi | none),
// the blocks, and a head over the vocabulary (optionally tied to the embedding).
class TokenModel : public Model {
 public:
  TokenModel(const ModelConfig& cfg, const AttentionConfig& attn);
  at::Tensor logits(const at::Tensor& hidden) const override;

 protected:
  // Token + learned position embedding (the encoder adds the value projection).
  at::Tensor embed(const ModelInputs& in) override;
  at::Tensor loss_head_weight() const override { return head_ ? head_->weight : tok_embed_->weight; }

  std::shared_ptr<Embedding> tok_embed_;  // "tok_embed.weight" [V, d]
  std::shared_ptr<Embedding> pos_embed_;  // "pos_embed.weight" [max_seq_len, d], learned positions only
  std::shared_ptr<Linear> head_;          // "head.weight" [V, d], untied only (no bias)
};

// Builds the model for `cfg.arch` (CausalLM, Encoder or VisionTransformer). Throws std::invalid_argument when
// vocab_size (token models) or vision.num_classes (ViT) is still 0 or the configs are inconsistent (validate()).
std::shared_ptr<Model> build_model(const ModelConfig& cfg, const AttentionConfig& attn);

}  // namespace sigtrain::models
