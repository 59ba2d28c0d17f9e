#pragma once
// Bidirectional encoder (BERT-style; the stability stress tests and the single-cell model use it).
//
//   forward(ModelInputs{tokens, values?, lengths?}) → logits [B, T, vocab_size] for the masked-token objective
//   hidden(...)                                     → [B, T, d_model]
//   pooled(..., Pooling::kCls | kMean)              → [B, d_model] (CLS = position 0; mean over valid tokens)
//
// Key padding: `lengths[b]` valid tokens per sequence (trailing padding). Padded keys are masked out and padded
// query rows output 0 from attention, so padded positions never affect valid ones.
// Optional value input (model.value_input: true): a float per token, v ↦ W₂·gelu(W₁·v + b₁) + b₂ (d_model wide),
// added to the token embedding — e.g. expression values of gene tokens.
#include <ATen/core/Generator.h>

#include <vector>

#include "models/model.h"

namespace sigtrain::models {

enum class Pooling { kCls, kMean };

class Encoder : public TokenModel {
 public:
  Encoder(const ModelConfig& cfg, const AttentionConfig& attn);
  at::Tensor pooled(const ModelInputs& in, Pooling pooling);

 protected:
  at::Tensor embed(const ModelInputs& in) override;

 private:
  std::shared_ptr<Linear> value_fc_, value_proj_;  // "value_proj.fc", "value_proj.proj"
};

// BERT-style masking for the masked-token objective.
struct MaskingOptions {
  double mask_fraction = 0.15;  // probability that a maskable token is selected
  double replace_with_mask = 0.8;    // of the selected: → mask_token_id
  double replace_with_random = 0.1;  // of the selected: → a random non-special token; the rest stay unchanged
  int64_t mask_token_id = -1;        // required
  int64_t vocab_size = 0;            // random tokens are drawn from [0, vocab_size) minus special_ids
  std::vector<int64_t> special_ids;  // never selected (PAD, CLS, SEP, MASK, …)
};

struct MaskedTokens {
  at::Tensor inputs;  // int64 [B, T]: tokens with the selected positions replaced
  at::Tensor labels;  // int64 [B, T]: original token at selected positions, −100 elsewhere (ignore_index)
};

// Positions t >= lengths[b] (padding) and special ids are never selected. Deterministic for a given generator
// state (a CPU generator; the draws happen on the CPU and the results move to tokens' device). `lengths` may be
// undefined (no padding).
MaskedTokens mask_tokens(const at::Tensor& tokens, const at::Tensor& lengths, const MaskingOptions& opts,
                         at::Generator& gen);

}  // namespace sigtrain::models
