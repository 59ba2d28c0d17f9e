// The transformer shared by the decoder LM and the encoder: embeddings → blocks → final norm → head.
#include "models/model.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "models/asr_encoder.h"
#include "models/causal_lm.h"
#include "models/cross_entropy.h"
#include "models/encoder.h"
#include "models/head_loss.h"
#include "models/vit.h"

namespace sigtrain::models {

Model::Model(const ModelConfig& cfg, const AttentionConfig& attn) : cfg_(cfg), attn_cfg_(attn) { validate(cfg_, attn_cfg_); }

void Model::add_blocks() {
  auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < cfg_.n_layer; ++i)
    blocks_.push_back(
        blocks->register_module(std::to_string(i), std::make_shared<TransformerBlock>(cfg_, attn_cfg_, i)));
  if (cfg_.norm_placement != NormPlacement::kPost)
    final_norm_ = register_module("final_norm",
                                  std::make_shared<Norm>(cfg_.norm, cfg_.d_model, cfg_.norm_eps, cfg_.bias));
}

AttentionMask Model::make_mask(const ModelInputs& in, const at::Device& device) const {
  AttentionMask m;
  m.causal = causal();
  if (in.lengths.defined()) {
    m.key_lengths = in.lengths.to(device, at::kInt);
    m.query_lengths = m.key_lengths;  // self-attention: the same trailing padding on both sides
  }
  if (alibi_slopes_.defined()) m.alibi_slopes = alibi_slopes_;
  return m;
}

at::Tensor Model::hidden(const ModelInputs& in) {
  // The fused ops' compute-dtype weights, all in one copy, before any layer reads them (models/weight_casts.h).
  if (!weight_casts_->empty() && at::autocast::is_autocast_enabled(at::kCUDA))
    weight_casts_->refresh(at::autocast::get_autocast_dtype(at::kCUDA));
  at::Tensor x = embed(in);
  if (cfg_.dropout > 0.0) x = at::dropout(x, cfg_.dropout, is_training());
  const AttentionMask mask = make_mask(in, x.device());
  // Each pre-norm block leaves its last branch pending, added by the next norm (the next block's or the final one)
  // in the norm's own kernel where fused_ops.add_norm is on.
  ResidualStream stream{x, at::Tensor(), at::Tensor()};
  for (auto& block : blocks_) stream = block->forward(stream, mask, rope_.get());
  return final_norm_ ? final_norm_->add_forward(stream.x, stream.pending, stream.pending_bias).second
                     : stream.materialise();
}

// ---------------------------------------------------------------------------------------------------------------
TokenModel::TokenModel(const ModelConfig& cfg, const AttentionConfig& attn) : Model(cfg, attn) {
  const int64_t d = cfg_.d_model;
  tok_embed_ = register_module("tok_embed", std::make_shared<Embedding>(cfg_.vocab_size, d, cfg_.init_std));
  if (cfg_.positions == PositionKind::kLearned)
    pos_embed_ = register_module("pos_embed", std::make_shared<Embedding>(cfg_.max_seq_len, d, cfg_.init_std));
  if (cfg_.positions == PositionKind::kRope)
    rope_ = register_module("rope", std::make_shared<Rope>(cfg_.head_dim(), cfg_.max_seq_len, cfg_.rope_theta));
  if (cfg_.positions == PositionKind::kAlibi) alibi_slopes_ = register_buffer("alibi_slopes", alibi_slopes(cfg_.n_head));
  add_blocks();
  if (!cfg_.tie_embeddings)
    head_ = register_module(
        "head", std::make_shared<Linear>(d, cfg_.vocab_size, /*bias=*/false, cfg_.init_std, ParamGroup::kHead));
}

at::Tensor TokenModel::embed(const ModelInputs& in) {
  TORCH_CHECK(in.tokens.defined() && in.tokens.dim() == 2, "model input tokens must be int64 [B, T]");
  at::Tensor x = tok_embed_->forward(in.tokens);
  if (pos_embed_) {
    const int64_t T = in.tokens.size(1);
    TORCH_CHECK(T <= cfg_.max_seq_len, "sequence length ", T, " exceeds model.max_seq_len ", cfg_.max_seq_len);
    x = x + pos_embed_->weight.narrow(0, 0, T).unsqueeze(0);
  }
  return x;
}

at::Tensor TokenModel::logits(const at::Tensor& h) const {
  return at::linear(h, head_ ? head_->weight : tok_embed_->weight);
}

std::vector<ParamInfo> declared_parameters(const torch::nn::Module& root,
                                           const std::vector<std::shared_ptr<torch::nn::Module>>& blocks) {
  // What each module declared about its own parameters, and which block holds them (by identity, not by name).
  std::unordered_map<const void*, ParamGroup> group_of;
  std::unordered_set<const void*> biases;
  auto declare = [&](const torch::nn::Module& module) {
    const auto* declared = dynamic_cast<const ParamModule*>(&module);
    if (declared == nullptr) return;
    for (const auto& item : module.named_parameters(/*recurse=*/false)) {
      group_of[item.value().unsafeGetTensorImpl()] = declared->param_group();
      if (item.key() == "bias") biases.insert(item.value().unsafeGetTensorImpl());
    }
  };
  declare(root);
  for (const auto& module : root.modules(/*include_self=*/false)) declare(*module);
  std::unordered_map<const void*, int> layer_of;
  for (size_t i = 0; i < blocks.size(); ++i)
    for (const auto& p : blocks[i]->parameters()) layer_of[p.unsafeGetTensorImpl()] = static_cast<int>(i);

  std::vector<ParamInfo> out;
  for (const auto& item : root.named_parameters(/*recurse=*/true)) {
    const void* key = item.value().unsafeGetTensorImpl();
    auto group = group_of.find(key);
    if (group == group_of.end())
      throw std::logic_error("parameter " + item.key() + " was not registered in a ParamModule: its group is unknown");
    ParamInfo p;
    p.name = item.key();
    p.param = item.value();
    p.group = group->second;
    p.is_bias = biases.count(key) > 0;
    if (auto layer = layer_of.find(key); layer != layer_of.end()) p.layer = layer->second;
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<ParamInfo> Model::param_info() const {
  return declared_parameters(*this, std::vector<std::shared_ptr<torch::nn::Module>>(blocks_.begin(), blocks_.end()));
}

ParamSummary Model::parameter_summary() const {
  torch::NoGradGuard no_grad;
  ParamSummary s;
  double sq = 0;
  for (const auto& p : parameters()) {
    auto p64 = p.detach().to(torch::kFloat64);
    s.sum += p64.sum().item<double>();
    sq += p64.square().sum().item<double>();
  }
  s.l2 = std::sqrt(sq);
  return s;
}

int64_t Model::num_params(bool exclude_embeddings) const {
  int64_t n = 0;
  for (const auto& p : param_info())
    if (!(exclude_embeddings && p.group == ParamGroup::kEmbedding)) n += p.param.numel();
  return n;
}

double Model::flops_per_token(int64_t seq_len) const {
  const double N = static_cast<double>(num_params(false));
  double attn = 12.0 * static_cast<double>(cfg_.n_layer) * static_cast<double>(cfg_.n_head * cfg_.head_dim()) *
                static_cast<double>(seq_len);
  if (causal()) attn *= 0.5;
  return 6.0 * N + attn;
}

at::Tensor Model::cross_entropy_sum(const ModelInputs& in, const at::Tensor& targets, int64_t ignore_index) {
  const at::Tensor h = hidden(in), head = loss_head_weight();
  if (fused_ops_.head_loss && head.defined() && head.requires_grad() && at::GradMode::is_enabled() &&
      fused_head_loss_applicable(h, head))
    return fused_head_loss_sum(h, head, targets, ignore_index, weight_casts_.get());
  return models::cross_entropy_sum(logits(h), targets, ignore_index, fused_ops_.cross_entropy);  // = forward(in)
}

void Model::set_fused_ops(const FusedOps& ops) {
  fused_ops_ = ops;
  std::vector<at::Tensor> cast_weights;  // what the fused MLPs, linear layers and head loss read in the compute dtype
  if (const at::Tensor head = loss_head_weight(); ops.head_loss && head.defined()) cast_weights.push_back(head);
  auto add = [&cast_weights](const Linear& l) {
    for (const at::Tensor* t : {&l.weight, &l.bias})
      if (t->defined()) cast_weights.push_back(*t);
  };
  for (const auto& m : modules(/*include_self=*/false))
    if (auto norm = std::dynamic_pointer_cast<Norm>(m)) {
      norm->fused = ops.norm;
      norm->fused_add = ops.add_norm;
    } else if (auto mlp = std::dynamic_pointer_cast<Mlp>(m)) {
      mlp->fused = ops.mlp;
      mlp->recompute_gelu = ops.mlp_recompute;
      mlp->casts = ops.mlp ? weight_casts_ : nullptr;
      if (ops.mlp && mlp->kind == MlpKind::kGelu) add(*mlp->fc), add(*mlp->proj);
    } else if (auto attn = std::dynamic_pointer_cast<MultiHeadAttention>(m)) {
      attn->packed_qkv = ops.packed_qkv;
    } else if (auto block = std::dynamic_pointer_cast<TransformerBlock>(m)) {
      block->residual_bias = ops.residual_bias;
    } else if (auto rope = std::dynamic_pointer_cast<Rope>(m)) {
      rope->fused = ops.rope;
    } else if (auto linear = std::dynamic_pointer_cast<Linear>(m)) {
      linear->fused = ops.linear;
      linear->casts = ops.linear ? weight_casts_ : nullptr;
      if (ops.linear) add(*linear);
    }
  weight_casts_->set_weights(std::move(cast_weights));
}

void Model::set_attention_backend(const std::string& name) {
  for (auto& b : blocks_) b->attn->set_backend(name);
}

void Model::set_collect_attention_stats(bool on, int64_t sample_batch) {
  for (auto& b : blocks_) b->attn->set_collect_stats(on, sample_batch);
}

std::vector<AttentionStats> Model::attention_stats() const {
  std::vector<AttentionStats> s;
  for (const auto& b : blocks_) s.push_back(b->attn->last_stats());
  return s;
}

std::vector<at::Tensor> Model::block_output_rms() const {
  std::vector<at::Tensor> s;
  for (const auto& b : blocks_) s.push_back(b->last_output_rms);
  return s;
}

std::shared_ptr<Model> build_model(const ModelConfig& cfg, const AttentionConfig& attn) {
  validate(cfg, attn);
  switch (cfg.arch) {
    case Arch::kDecoder: return std::make_shared<CausalLM>(cfg, attn);
    case Arch::kEncoder: return std::make_shared<Encoder>(cfg, attn);
    case Arch::kVit: return std::make_shared<VisionTransformer>(cfg, attn);
    case Arch::kAsr: return std::make_shared<SpeechEncoder>(cfg, attn);
  }
  throw std::invalid_argument("model.arch: unknown architecture");
}

}  // namespace sigtrain::models
