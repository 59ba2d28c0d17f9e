#pragma once
// Decoder-only language model: token embedding (+ learned positions | RoPE | ALiBi | none), causal transformer
// blocks, final norm, head (optionally tied to the embedding).
//
//   forward(tokens int64 [B, T]) → logits [B, T, vocab_size]        (Model::forward)
//   forward(ModelInputs{tokens, {}, lengths})                        trailing padding; under causal masking
//                                                                     padding never changes valid positions
//
// Everything lives in the shared TokenModel (models/model.h, model.cpp); this type fixes the architecture to
// `arch: decoder`, i.e. causal self-attention. There is deliberately no causal_lm.cpp (one torch TU fewer).
#include <stdexcept>

#include "models/model.h"

namespace sigtrain::models {

class CausalLM : public TokenModel {
 public:
  CausalLM(const ModelConfig& cfg, const AttentionConfig& attn) : TokenModel(checked(cfg), attn) {}

 private:
  static const ModelConfig& checked(const ModelConfig& cfg) {
    if (cfg.arch != Arch::kDecoder) throw std::invalid_argument("model.arch: CausalLM needs arch: decoder");
    return cfg;
  }
};

}  // namespace sigtrain::models
