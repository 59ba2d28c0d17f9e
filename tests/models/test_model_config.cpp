// `model` and `attention` config sections: defaults, parsing, and validation errors that name the key.
#include <gtest/gtest.h>

#include <string>

#include "common/config.h"
#include "models/model_config.h"

using namespace sigtrain;
using namespace sigtrain::models;

namespace {

struct Parsed {
  ModelConfig model;
  AttentionConfig attention;
};

Parsed parse(const std::string& yaml) {
  auto tree = config::ConfigTree::from_string(yaml, "test.yaml");
  config::SectionReader m(tree, "model"), a(tree, "attention");
  Parsed p{ModelConfig::parse(m), AttentionConfig::parse(a)};
  tree.check_all_consumed();
  return p;
}

// The ConfigError message of parsing `yaml` ("" when it parses).
std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

}  // namespace

TEST(ModelConfig, Defaults) {
  auto p = parse("{}\n");
  EXPECT_EQ(p.model.arch, Arch::kDecoder);
  EXPECT_EQ(p.model.vocab_size, 0);
  EXPECT_EQ(p.model.n_kv_head, p.model.n_head);
  EXPECT_EQ(p.model.norm_placement, NormPlacement::kPre);
  EXPECT_FALSE(p.model.layer_scale.has_value());
  EXPECT_EQ(p.model.positions, PositionKind::kRope);
  EXPECT_EQ(p.model.dropout, 0.0);
  EXPECT_EQ(p.attention.kind, AttentionKind::kSigmoid);
  EXPECT_EQ(p.attention.bias_mode, SigmoidBiasMode::kNegLogN);
  EXPECT_EQ(p.attention.backend, "math");
  EXPECT_EQ(p.attention.sigmoid_approx, SigmoidApprox::kTanh);
  EXPECT_FALSE(p.attention.scale.has_value());
}

TEST(ModelConfig, ParsesEveryKey) {
  auto p = parse(R"(model:
  arch: encoder
  vocab_size: 100
  n_layer: 3
  d_model: 96
  n_head: 6
  n_kv_head: 2
  d_ff: 200
  max_seq_len: 64
  norm: layernorm
  norm_eps: 1.0e-6
  norm_placement: hybrid
  qk_norm: true
  layer_scale: 1.0e-4
  positions: alibi
  rope_theta: 500000
  mlp: gelu
  bias: true
  tie_embeddings: false
  init_std: 0.01
  scaled_init: false
  dropout: 0.1
  value_input: true
attention:
  kind: softmax
  bias: -10
  backend: sdpa
  sigmoid_approx: exact
  scale: 0.25
)");
  const auto& m = p.model;
  EXPECT_EQ(m.arch, Arch::kEncoder);
  EXPECT_EQ(m.vocab_size, 100);
  EXPECT_EQ(m.n_layer, 3);
  EXPECT_EQ(m.d_model, 96);
  EXPECT_EQ(m.n_head, 6);
  EXPECT_EQ(m.n_kv_head, 2);
  EXPECT_EQ(m.ffn_dim(), 200);
  EXPECT_EQ(m.max_seq_len, 64);
  EXPECT_EQ(m.norm, NormKind::kLayerNorm);
  EXPECT_DOUBLE_EQ(m.norm_eps, 1e-6);
  EXPECT_EQ(m.norm_placement, NormPlacement::kHybrid);
  EXPECT_TRUE(m.qk_norm);
  EXPECT_DOUBLE_EQ(*m.layer_scale, 1e-4);
  EXPECT_EQ(m.positions, PositionKind::kAlibi);
  EXPECT_DOUBLE_EQ(m.rope_theta, 500000);
  EXPECT_EQ(m.mlp, MlpKind::kGelu);
  EXPECT_TRUE(m.bias);
  EXPECT_FALSE(m.tie_embeddings);
  EXPECT_DOUBLE_EQ(m.init_std, 0.01);
  EXPECT_FALSE(m.scaled_init);
  EXPECT_DOUBLE_EQ(m.dropout, 0.1);
  EXPECT_TRUE(m.value_input);
  EXPECT_EQ(p.attention.kind, AttentionKind::kSoftmax);
  EXPECT_EQ(p.attention.bias_mode, SigmoidBiasMode::kConstant);
  EXPECT_DOUBLE_EQ(p.attention.bias_value, -10);
  EXPECT_EQ(p.attention.backend, "sdpa");
  EXPECT_EQ(p.attention.sigmoid_approx, SigmoidApprox::kExact);
  EXPECT_DOUBLE_EQ(*p.attention.scale, 0.25);
}

TEST(ModelConfig, DerivedFfnWidth) {
  ModelConfig m;
  m.d_model = 768;
  m.mlp = MlpKind::kGelu;
  EXPECT_EQ(m.ffn_dim(), 3072);
  m.mlp = MlpKind::kSwiGLU;
  EXPECT_EQ(m.ffn_dim(), 2048);  // 8/3·768 = 2048
  m.d_model = 100;
  EXPECT_EQ(m.ffn_dim(), 320);  // ceil(266.7) = 267 → 320
}

TEST(ModelConfig, ValidationErrorsNameTheKey) {
  EXPECT_CONTAINS(error_of("model:\n  d_model: 100\n  n_head: 3\n"), "model.d_model");
  EXPECT_CONTAINS(error_of("model:\n  d_model: 96\n  n_head: 6\n  n_kv_head: 4\n"), "model.n_kv_head");
  EXPECT_CONTAINS(error_of("model:\n  d_model: 96\n  n_head: 7\n"), "model.d_model");
  EXPECT_CONTAINS(error_of("model:\n  d_model: 30\n  n_head: 10\n  positions: rope\n"), "model.positions");
  EXPECT_CONTAINS(error_of("model:\n  norm_placement: sandwich\n"), "model.norm_placement");
  EXPECT_CONTAINS(error_of("model:\n  n_layer: 0\n"), "model.n_layer");
  EXPECT_CONTAINS(error_of("model:\n  n_layer: abc\n"), "model.n_layer");
  EXPECT_CONTAINS(error_of("model:\n  dropout: 1.5\n"), "model.dropout");
  EXPECT_CONTAINS(error_of("model:\n  layer_scale: -1\n"), "model.layer_scale");
  EXPECT_CONTAINS(error_of("model:\n  value_input: true\n"), "model.value_input");
  EXPECT_CONTAINS(error_of("model:\n  positions: sinusoid\n"), "model.positions");
  EXPECT_CONTAINS(error_of("model:\n  n_layr: 2\n"), "n_layr");  // unknown key (check_all_consumed)
  const std::string sdpa = error_of("attention:\n  kind: sigmoid\n  backend: sdpa\n");
  EXPECT_CONTAINS(sdpa, "attention.backend");
  EXPECT_CONTAINS(sdpa, "sdpa supports only kind: softmax; use math or fused for sigmoid");
  EXPECT_CONTAINS(sdpa, "test.yaml:3");
  EXPECT_CONTAINS(error_of("attention:\n  kind: softmax\n  backend: fused\n"), "attention.backend");
  EXPECT_CONTAINS(error_of("attention:\n  backend: flash\n"), "attention.backend");
  EXPECT_CONTAINS(error_of("attention:\n  bias: log_n\n"), "attention.bias");
  EXPECT_CONTAINS(error_of("attention:\n  scale: 0\n"), "attention.scale");
  EXPECT_CONTAINS(error_of("attention:\n  sigmoid_approx: fast\n"), "attention.sigmoid_approx");
  EXPECT_CONTAINS(error_of("attention:\n  kind: relu\n"), "attention.kind");
}

TEST(ModelConfig, ValidateNeedsVocab) {
  ModelConfig m;
  AttentionConfig a;
  try {
    validate(m, a);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_CONTAINS(e.what(), "model.vocab_size");
  }
  m.vocab_size = 10;
  EXPECT_NO_THROW(validate(m, a));
}
