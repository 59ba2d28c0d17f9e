// Bidirectional encoder: value input path, pooling, and BERT-style token masking.
#include "models/encoder.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

namespace sigtrain::models {

namespace {
const ModelConfig& checked(const ModelConfig& cfg) {
  if (cfg.arch != Arch::kEncoder) throw std::invalid_argument("model.arch: Encoder needs arch: encoder");
  return cfg;
}
}  // namespace

Encoder::Encoder(const ModelConfig& cfg, const AttentionConfig& attn) : TokenModel(checked(cfg), attn) {
  if (cfg_.value_input) {
    auto holder = register_module("value_proj", std::make_shared<torch::nn::Module>());
    // The value input is part of the input embedding (weight decay and the monitor treat it as one).
    value_fc_ = holder->register_module(
        "fc", std::make_shared<Linear>(1, cfg_.d_model, true, cfg_.init_std, ParamGroup::kEmbedding));
    value_proj_ = holder->register_module(
        "proj", std::make_shared<Linear>(cfg_.d_model, cfg_.d_model, true, cfg_.init_std, ParamGroup::kEmbedding));
  }
}

at::Tensor Encoder::embed(const ModelInputs& in) {
  at::Tensor x = TokenModel::embed(in);
  if (value_fc_) {
    TORCH_CHECK(in.values.defined(), "model.value_input is on: the encoder needs per-token values [B, T]");
    TORCH_CHECK(in.values.sizes() == in.tokens.sizes(), "values must have the shape of tokens [B, T]");
    at::Tensor v = in.values.to(x.scalar_type()).unsqueeze(-1);  // [B, T, 1]
    x = x + value_proj_->forward(at::gelu(value_fc_->forward(v)));
  } else {
    TORCH_CHECK(!in.values.defined(), "values given but model.value_input is off");
  }
  return x;
}

at::Tensor Encoder::pooled(const ModelInputs& in, Pooling pooling) {
  at::Tensor h = hidden(in);  // [B, T, d]
  if (pooling == Pooling::kCls) return h.select(1, 0);
  const int64_t B = h.size(0), T = h.size(1);
  at::Tensor len = in.lengths.defined() ? in.lengths.to(h.device(), at::kLong)
                                        : torch::full({B}, T, h.options().dtype(at::kLong));
  at::Tensor valid = (torch::arange(T, h.options().dtype(at::kLong)).view({1, T}) < len.view({B, 1}))
                         .to(h.scalar_type())
                         .unsqueeze(-1);  // [B, T, 1]
  return (h * valid).sum(1) / len.clamp_min(1).to(h.scalar_type()).view({B, 1});
}

MaskedTokens mask_tokens(const at::Tensor& tokens, const at::Tensor& lengths, const MaskingOptions& o,
                         at::Generator& gen) {
  if (o.mask_token_id < 0) throw std::invalid_argument("mask_tokens: mask_token_id must be set");
  if (o.vocab_size <= 0) throw std::invalid_argument("mask_tokens: vocab_size must be set");
  TORCH_CHECK(tokens.dim() == 2, "mask_tokens: tokens must be [B, T]");
  const int64_t B = tokens.size(0), T = tokens.size(1);
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  at::Tensor tok = tokens.to(torch::kCPU, torch::kLong);

  at::Tensor maskable = torch::ones({B, T}, cpu_long.dtype(torch::kBool));
  if (lengths.defined())
    maskable = torch::arange(T, cpu_long).view({1, T}) < lengths.to(torch::kCPU, torch::kLong).view({B, 1});
  std::vector<int64_t> special = o.special_ids;
  special.push_back(o.mask_token_id);
  for (int64_t id : special) maskable = maskable.logical_and(tok != id);

  // Draw everything up front in a fixed order so the result depends only on the generator state and shape.
  at::Tensor u_select = at::rand({B, T}, gen, cpu_long.dtype(torch::kFloat));
  at::Tensor u_action = at::rand({B, T}, gen, cpu_long.dtype(torch::kFloat));
  std::vector<int64_t> allowed_ids;
  allowed_ids.reserve(static_cast<size_t>(o.vocab_size));
  for (int64_t id = 0; id < o.vocab_size; ++id)
    if (std::find(special.begin(), special.end(), id) == special.end()) allowed_ids.push_back(id);
  if (allowed_ids.empty()) throw std::invalid_argument("mask_tokens: every id is special");
  at::Tensor allowed = torch::tensor(allowed_ids, cpu_long);
  at::Tensor random_ids =
      allowed.index_select(0, at::randint(0, allowed.size(0), {B * T}, gen, cpu_long)).view({B, T});

  at::Tensor selected = maskable.logical_and(u_select < o.mask_fraction);
  at::Tensor to_mask = selected.logical_and(u_action < o.replace_with_mask);
  at::Tensor to_random =
      selected.logical_and(u_action >= o.replace_with_mask)
          .logical_and(u_action < o.replace_with_mask + o.replace_with_random);

  MaskedTokens out;
  out.labels = torch::where(selected, tok, torch::full({B, T}, -100, cpu_long)).to(tokens.device());
  at::Tensor inputs = torch::where(to_mask, torch::full({B, T}, o.mask_token_id, cpu_long), tok);
  inputs = torch::where(to_random, random_ids, inputs);
  out.inputs = inputs.to(tokens.device());
  return out;
}

}  // namespace sigtrain::models
