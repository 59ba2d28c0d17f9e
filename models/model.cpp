// The transformer shared by the decoder LM and the encoder: embeddings → blocks → final norm → head.
#include "models/model.h"

#include <torch/torch.h>

#include <stdexcept>

#include "models/causal_lm.h"
#include "models/encoder.h"

namespace sigtrain::models {

namespace {

bool contains(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool ParamInfo::decay() const {
  if (is_bias) return false;
  return group == "attn_qkv" || group == "attn_out" || group == "mlp" || group == "head";
}

Model::Model(const ModelConfig& cfg, const AttentionConfig& attn) : cfg_(cfg), attn_cfg_(attn) {
  validate(cfg_, attn_cfg_);
  const int64_t d = cfg_.d_model;
  tok_embed_ = register_module("tok_embed", std::make_shared<Embedding>(cfg_.vocab_size, d, cfg_.init_std));
  if (cfg_.positions == PositionKind::kLearned)
    pos_embed_ = register_module("pos_embed", std::make_shared<Embedding>(cfg_.max_seq_len, d, cfg_.init_std));
  if (cfg_.positions == PositionKind::kRope)
    rope_ = register_module("rope", std::make_shared<Rope>(cfg_.head_dim(), cfg_.max_seq_len, cfg_.rope_theta));
  if (cfg_.positions == PositionKind::kAlibi) alibi_slopes_ = register_buffer("alibi_slopes", alibi_slopes(cfg_.n_head));

  auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < cfg_.n_layer; ++i)
    blocks_.push_back(
        blocks->register_module(std::to_string(i), std::make_shared<TransformerBlock>(cfg_, attn_cfg_, i)));
  if (cfg_.norm_placement != NormPlacement::kPost)
    final_norm_ = register_module("final_norm", std::make_shared<Norm>(cfg_.norm, d, cfg_.norm_eps, cfg_.bias));
  if (!cfg_.tie_embeddings)
    head_ = register_module("head", std::make_shared<Linear>(d, cfg_.vocab_size, /*bias=*/false, cfg_.init_std));
}

at::Tensor Model::embed(const ModelInputs& in) {
  at::Tensor x = tok_embed_->forward(in.tokens);
  if (pos_embed_) {
    const int64_t T = in.tokens.size(1);
    TORCH_CHECK(T <= cfg_.max_seq_len, "sequence length ", T, " exceeds model.max_seq_len ", cfg_.max_seq_len);
    x = x + pos_embed_->weight.narrow(0, 0, T).unsqueeze(0);
  }
  return x;
}

AttentionMask Model::make_mask(const ModelInputs& in) const {
  AttentionMask m;
  m.causal = causal();
  if (in.lengths.defined()) {
    m.key_lengths = in.lengths.to(in.tokens.device(), at::kInt);
    m.query_lengths = m.key_lengths;  // self-attention: the same trailing padding on both sides
  }
  if (alibi_slopes_.defined()) m.alibi_slopes = alibi_slopes_;
  return m;
}

at::Tensor Model::hidden(const ModelInputs& in) {
  TORCH_CHECK(in.tokens.defined() && in.tokens.dim() == 2, "model input tokens must be int64 [B, T]");
  at::Tensor x = embed(in);
  if (cfg_.dropout > 0.0) x = at::dropout(x, cfg_.dropout, is_training());
  const AttentionMask mask = make_mask(in);
  for (auto& block : blocks_) x = block->forward(x, mask, rope_.get());
  if (final_norm_) x = final_norm_->forward(x);
  return x;
}

at::Tensor Model::logits(const at::Tensor& h) const {
  return at::linear(h, head_ ? head_->weight : tok_embed_->weight);
}

at::Tensor Model::forward(const ModelInputs& in) { return logits(hidden(in)); }

std::vector<ParamInfo> Model::param_info() const {
  std::vector<ParamInfo> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    ParamInfo p;
    p.name = item.key();
    p.param = item.value();
    p.is_bias = ends_with(p.name, ".bias");
    const std::string& n = p.name;
    if (n.rfind("blocks.", 0) == 0) p.layer = std::stoi(n.substr(7, n.find('.', 7) - 7));
    if (contains(n, ".attn.qkv.")) p.group = "attn_qkv";
    else if (contains(n, ".attn.out.")) p.group = "attn_out";
    else if (contains(n, "norm.")) p.group = "norm";  // attn_norm, mlp_norm, *_post_norm, q_norm, k_norm, final_norm
    else if (contains(n, "_scale.gamma")) p.group = "layerscale";
    else if (contains(n, ".mlp.")) p.group = "mlp";
    else if (n.rfind("tok_embed.", 0) == 0 || n.rfind("pos_embed.", 0) == 0 || n.rfind("value_proj.", 0) == 0)
      p.group = "embedding";
    else if (n.rfind("head.", 0) == 0) p.group = "head";
    else p.group = "other";
    out.push_back(std::move(p));
  }
  return out;
}

int64_t Model::num_params(bool exclude_embeddings) const {
  int64_t n = 0;
  for (const auto& p : param_info())
    if (!(exclude_embeddings && p.group == "embedding")) n += p.param.numel();
  return n;
}

double Model::flops_per_token(int64_t seq_len) const {
  const double N = static_cast<double>(num_params(false));
  double attn = 12.0 * static_cast<double>(cfg_.n_layer) * static_cast<double>(cfg_.n_head * cfg_.head_dim()) *
                static_cast<double>(seq_len);
  if (causal()) attn *= 0.5;
  return 6.0 * N + attn;
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
  if (cfg.arch == Arch::kDecoder) return std::make_shared<CausalLM>(cfg, attn);
  return std::make_shared<Encoder>(cfg, attn);
}

}  // namespace sigtrain::models
