// The speech encoder (models/asr_encoder.h): front-end lengths, padding invariance, the CTC loss, parameter groups and
// the `model.speech` config keys.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/config.h"
#include "models/asr_encoder.h"
#include "models/model.h"

using namespace sigtrain;
using namespace sigtrain::models;

namespace {

ModelConfig tiny_asr(PositionKind positions = PositionKind::kSinCos) {
  ModelConfig c;
  c.arch = Arch::kAsr;
  c.vocab_size = 7;
  c.n_layer = 2;
  c.d_model = 32;
  c.n_head = 4;
  c.n_kv_head = 4;
  c.max_seq_len = 64;
  c.positions = positions;
  c.speech.n_mels = 16;
  c.speech.conv_channels = 8;
  return c;
}

AttentionConfig attention(AttentionKind kind) {
  AttentionConfig a;
  a.kind = kind;
  a.backend = "math";
  return a;
}

// The positions ESPnet's Conv2dSubsampling gives: ((L − 1) // 2 − 1) // 2.
int64_t espnet_positions(int64_t frames) { return ((frames - 1) / 2 - 1) / 2; }

}  // namespace

TEST(SpeechEncoder, FrontEndLengthsMatchTheFormula) {
  EXPECT_EQ(SpeechModelConfig::positions(6), 0);
  EXPECT_EQ(SpeechModelConfig::positions(7), 1);
  EXPECT_EQ(SpeechModelConfig::positions(1598), 398);  // a 16 s utterance at 10 ms hop, 25 ms window
  EXPECT_EQ(SpeechModelConfig::conv_out(80), 39);
  for (int64_t L = 7; L < 400; ++L) EXPECT_EQ(SpeechModelConfig::positions(L), espnet_positions(L)) << L;

  torch::manual_seed(0);
  SpeechEncoder model(tiny_asr(), attention(AttentionKind::kSigmoid));
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<int64_t> frames = {7, 8, 9, 10, 11, 12, 30, 61, 100};
  for (int64_t L : frames) {
    ModelInputs in;
    in.features = torch::randn({1, L, 16});
    EXPECT_EQ(model.hidden(in).size(1), SpeechModelConfig::positions(L)) << L;
    EXPECT_EQ(model.forward(in).size(2), 7);
  }
  const at::Tensor lengths = SpeechEncoder::output_lengths(torch::tensor(frames));
  for (size_t i = 0; i < frames.size(); ++i)
    EXPECT_EQ(lengths[static_cast<int64_t>(i)].item<int64_t>(), SpeechModelConfig::positions(frames[i]));
  EXPECT_EQ(SpeechEncoder::output_lengths(torch::tensor({0, 3, 5, 6})).sum().item<int64_t>(), 0);
}

TEST(SpeechEncoder, PaddingDoesNotChangeValidPositions) {
  // Utterance a (50 frames) alone, and in a batch padded to 90 frames (garbage in the padding) next to b: a's
  // positions give the same logits, for every position scheme and both attention kinds.
  for (auto kind : {AttentionKind::kSigmoid, AttentionKind::kSoftmax}) {
    for (auto pos : {PositionKind::kSinCos, PositionKind::kRope, PositionKind::kAlibi, PositionKind::kLearned}) {
      torch::manual_seed(1);
      SpeechEncoder model(tiny_asr(pos), attention(kind));
      model.eval();
      torch::NoGradGuard no_grad;
      const at::Tensor a = torch::randn({1, 50, 16}), b = torch::randn({1, 90, 16});
      ModelInputs alone;
      alone.features = a;
      const at::Tensor ya = model.forward(alone);  // [1, 11, V]
      ModelInputs batch;
      batch.features = torch::cat({torch::cat({a, 5.0 * torch::randn({1, 40, 16})}, 1), b}, 0);
      batch.lengths = SpeechEncoder::output_lengths(torch::tensor({50, 90}));
      const at::Tensor yb = model.forward(batch);
      ASSERT_EQ(ya.size(1), 11);
      EXPECT_TRUE(torch::allclose(ya[0], yb[0].narrow(0, 0, 11), 1e-5, 1e-5))
          << to_string(kind) << " " << to_string(pos) << ": max diff "
          << (ya[0] - yb[0].narrow(0, 0, 11)).abs().max().item<double>();
    }
  }
}

TEST(SpeechEncoder, CtcLossMatchesLibTorchPerUtterance) {
  torch::manual_seed(2);
  const int64_t B = 3, T = 12, V = 6;
  const at::Tensor logits = torch::randn({B, T, V}, torch::requires_grad());
  const std::vector<int64_t> positions = {12, 9, 5}, target_lengths = {4, 3, 2};
  const at::Tensor targets = torch::tensor({1, 2, 2, 3, 4, 5, 1, 3, 3}, torch::kLong);
  const at::Tensor sum = ctc_loss_sum(logits, positions, targets, target_lengths);

  // Direct: each utterance alone, unpadded, through LibTorch's ctc_loss with reduction sum.
  double direct = 0;
  int64_t offset = 0;
  for (int64_t b = 0; b < B; ++b) {
    const at::Tensor lp = torch::log_softmax(logits[b].narrow(0, 0, positions[b]), -1).unsqueeze(1);  // [T_b, 1, V]
    const at::Tensor tb = targets.narrow(0, offset, target_lengths[b]).unsqueeze(0);
    direct += at::ctc_loss(lp, tb, {positions[b]}, {target_lengths[b]}, 0, at::Reduction::Sum).item<double>();
    offset += target_lengths[b];
  }
  EXPECT_NEAR(sum.item<double>(), direct, 1e-4);
  sum.backward();
  EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
  // Positions past an utterance's length get no gradient.
  EXPECT_EQ(logits.grad()[2].narrow(0, 5, T - 5).abs().sum().item<double>(), 0.0);
}

TEST(SpeechEncoder, CtcLossAgreesWithBruteForceAlignments) {
  // Every path of 4 frames over {blank, 1, 2} that collapses to "1 2": −log Σ_paths Π_t p_t(path_t).
  torch::manual_seed(3);
  const int64_t T = 4, V = 3;
  const at::Tensor logits = torch::randn({1, T, V});
  const at::Tensor p = torch::softmax(logits[0].to(torch::kFloat64), -1);
  double total = 0;
  for (int64_t code = 0; code < 81; ++code) {
    std::vector<int64_t> path;
    for (int64_t t = 0, c = code; t < T; ++t, c /= V) path.push_back(c % V);
    std::vector<int64_t> collapsed;
    for (int64_t t = 0; t < T; ++t)
      if (path[t] != 0 && (t == 0 || path[t] != path[t - 1])) collapsed.push_back(path[t]);
    if (collapsed != std::vector<int64_t>{1, 2}) continue;
    double prob = 1;
    for (int64_t t = 0; t < T; ++t) prob *= p[t][path[t]].item<double>();
    total += prob;
  }
  const double loss = ctc_loss_sum(logits, {T}, torch::tensor({1, 2}, torch::kLong), {2}).item<double>();
  EXPECT_NEAR(loss, -std::log(total), 1e-5);
}

TEST(SpeechEncoder, UnalignableUtterancesScoreZero) {
  const std::vector<int64_t> rep = {1, 1, 2};  // needs 4 positions: a blank between the two 1s
  EXPECT_FALSE(ctc_feasible(rep.data(), 3, 3));
  EXPECT_TRUE(ctc_feasible(rep.data(), 3, 4));
  const std::vector<int64_t> distinct = {1, 2, 3};
  EXPECT_TRUE(ctc_feasible(distinct.data(), 3, 3));
  const at::Tensor logits = torch::randn({1, 3, 4});
  EXPECT_EQ(ctc_loss_sum(logits, {3}, torch::tensor(rep), {3}).item<double>(), 0.0);
}

TEST(SpeechEncoder, ParameterGroupsAndNames) {
  ModelConfig c = tiny_asr();
  SpeechEncoder model(c, attention(AttentionKind::kSigmoid));
  int64_t input = 0, head = 0;
  for (const auto& p : model.param_info()) {
    if (p.name.rfind("front_end.", 0) == 0) {
      EXPECT_EQ(p.group, ParamGroup::kInput) << p.name;
      input += p.param.numel();
    }
    if (p.name.rfind("ctc_head.", 0) == 0) {
      EXPECT_EQ(p.group, ParamGroup::kHead) << p.name;
      head += p.param.numel();
    }
  }
  // conv1 1→8 (3×3) + conv2 8→8 + proj (8 channels × 3 mel positions) → 32, with biases.
  EXPECT_EQ(input, (9 * 8 + 8) + (9 * 8 * 8 + 8) + (8 * 3 * 32 + 32));
  EXPECT_EQ(head, 7 * 32 + 7);
  EXPECT_EQ(build_model(c, attention(AttentionKind::kSigmoid))->num_params(), model.num_params());
}

TEST(SpeechEncoder, ConfigKeys) {
  auto parse = [](const std::string& yaml) {
    auto tree = config::ConfigTree::from_string(yaml, "test.yaml");
    config::SectionReader m(tree, "model");
    ModelConfig c = ModelConfig::parse(m);
    tree.check_all_consumed();
    return c;
  };
  auto error_of = [&](const std::string& yaml) -> std::string {
    try {
      parse(yaml);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const ModelConfig c =
      parse("model:\n  arch: asr\n  positions: sincos\n  speech:\n    n_mels: 40\n    conv_channels: 64\n"
            "    conv_activation: gelu\n");
  EXPECT_EQ(c.arch, Arch::kAsr);
  EXPECT_EQ(c.positions, PositionKind::kSinCos);
  EXPECT_EQ(c.speech.n_mels, 40);
  EXPECT_EQ(c.speech.conv_channels, 64);
  EXPECT_EQ(c.speech.conv_activation, ConvActivation::kGelu);
  EXPECT_EQ(c.speech.projection_in(), 64 * 9);  // 40 → 19 → 9
  EXPECT_FALSE(c.causal());
  EXPECT_NE(error_of("model:\n  arch: asr\n  speech:\n    n_mels: 5\n").find("model.speech.n_mels"), std::string::npos);
  EXPECT_NE(error_of("model:\n  positions: sincos\n").find("model.positions"), std::string::npos);
  EXPECT_NE(error_of("model:\n  arch: asr\n  speech:\n    conv_chanels: 8\n").find("model.speech.conv_chanels"),
            std::string::npos);
  // The vision sub-section is not read for arch: asr (and vice versa): an unknown key there is an error.
  EXPECT_NE(error_of("model:\n  arch: decoder\n  speech:\n    n_mels: 80\n").find("model.speech"), std::string::npos);
  // n_mels 0 (from the data) must be filled in before a build.
  ModelConfig unfilled = tiny_asr();
  unfilled.speech.n_mels = 0;
  try {
    build_model(unfilled, attention(AttentionKind::kSigmoid));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.speech.n_mels"), std::string::npos) << e.what();
  }
}
