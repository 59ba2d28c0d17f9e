// The vision transformer (models/vit.h) against direct computations: the patch embedding is a stride-p
// convolution, the sin-cos table follows its formula, learned positions are resampled bicubically for another
// image size, CLS / mean pooling, and a tiny ViT overfits a small batch on the CPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/model.h"
#include "models/vit.h"

namespace {

using namespace sigtrain::models;

ModelConfig tiny_vit(VisionPooling pool = VisionPooling::kCls, PositionKind pos = PositionKind::kLearned) {
  ModelConfig c;
  c.arch = Arch::kVit;
  c.n_layer = 2;
  c.d_model = 32;
  c.n_head = 4;
  c.norm = NormKind::kLayerNorm;
  c.mlp = MlpKind::kGelu;
  c.bias = true;
  c.positions = pos;
  c.vision.image_size = 8;
  c.vision.patch_size = 4;
  c.vision.channels = 3;
  c.vision.num_classes = 5;
  c.vision.pool = pool;
  return c;
}

AttentionConfig sigmoid_math() {
  AttentionConfig a;
  a.kind = AttentionKind::kSigmoid;
  a.backend = "math";
  return a;
}

TEST(Vit, PatchEmbeddingIsAStrideConvolution) {
  torch::manual_seed(0);
  const int64_t B = 2, C = 3, H = 8, W = 12, p = 4, d = 6;
  auto images = torch::randn({B, C, H, W}, torch::kFloat64);
  auto weight = torch::randn({d, C * p * p}, torch::kFloat64);
  auto bias = torch::randn({d}, torch::kFloat64);
  auto ours = at::linear(VisionTransformer::patchify(images, p), weight, bias);  // [B, N, d]
  auto conv = torch::conv2d(images, weight.view({d, C, p, p}), bias, /*stride=*/p);  // [B, d, H/p, W/p]
  auto direct = conv.flatten(2).transpose(1, 2);                                    // row-major over the grid
  ASSERT_EQ(ours.sizes(), direct.sizes());
  EXPECT_LT((ours - direct).abs().max().item<double>(), 1e-12);
}

TEST(Vit, SinCosTableFollowsItsFormula) {
  const int64_t gh = 3, gw = 5, d = 16;
  auto t = sincos_2d_positions(gh, gw, d);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{gh * gw, d}));
  const int64_t q = d / 4;
  for (int64_t r = 0; r < gh; ++r)
    for (int64_t c = 0; c < gw; ++c)
      for (int64_t k = 0; k < q; ++k) {
        const double w = std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(q));
        const int64_t row = r * gw + c;
        EXPECT_NEAR(t[row][k].item<double>(), std::sin(r * w), 1e-6);
        EXPECT_NEAR(t[row][q + k].item<double>(), std::cos(r * w), 1e-6);
        EXPECT_NEAR(t[row][2 * q + k].item<double>(), std::sin(c * w), 1e-6);
        EXPECT_NEAR(t[row][3 * q + k].item<double>(), std::cos(c * w), 1e-6);
      }
}

TEST(Vit, LearnedPositionsAreResampledForAnotherImageSize) {
  torch::manual_seed(1);
  auto model = std::dynamic_pointer_cast<VisionTransformer>(build_model(tiny_vit(), sigmoid_math()));
  ASSERT_TRUE(model);
  torch::NoGradGuard no_grad;
  // At the built size the table is the parameter itself (CLS row first).
  const at::Tensor pos = model->named_parameters()["pos_embed.weight"];
  EXPECT_TRUE(torch::equal(model->positions_for(2, 2), pos));
  // At 16 px the 2 x 2 patch grid becomes 4 x 4: bicubic resampling of each channel's grid, CLS row unchanged.
  auto resampled = model->positions_for(4, 4);
  ASSERT_EQ(resampled.sizes(), (std::vector<int64_t>{17, 32}));
  EXPECT_TRUE(torch::equal(resampled[0], pos[0]));
  auto grid = pos.narrow(0, 1, 4).t().reshape({1, 32, 2, 2});
  auto direct = torch::upsample_bicubic2d(grid, {4, 4}, /*align_corners=*/false).reshape({32, 16}).t();
  EXPECT_LT((resampled.narrow(0, 1, 16) - direct).abs().max().item<float>(), 1e-6f);
  // And the model runs on 16 px images.
  EXPECT_EQ(model->forward(ModelInputs{{}, {}, {}, torch::randn({2, 3, 16, 16})}).sizes(),
            (std::vector<int64_t>{2, 5}));
}

TEST(Vit, ShapesGroupsAndPooling) {
  for (auto pool : {VisionPooling::kCls, VisionPooling::kMean})
    for (auto pos : {PositionKind::kLearned, PositionKind::kSinCos2d, PositionKind::kNone}) {
      torch::manual_seed(2);
      auto model = build_model(tiny_vit(pool, pos), sigmoid_math());
      auto images = torch::randn({3, 3, 8, 8});
      auto hidden = model->hidden(ModelInputs{{}, {}, {}, images});
      EXPECT_EQ(hidden.size(1), pool == VisionPooling::kCls ? 5 : 4);  // 2 x 2 patches (+ CLS)
      auto logits = model->forward(ModelInputs{{}, {}, {}, images});
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 5}));
      auto pooled = pool == VisionPooling::kCls ? hidden.select(1, 0) : hidden.mean(1);
      const auto params = model->named_parameters();
      auto head = at::linear(pooled, params["head.weight"], params["head.bias"]);
      EXPECT_LT((logits - head).abs().max().item<float>(), 1e-6f);
      for (const auto& p : model->param_info()) {
        if (p.name == "patch_embed.weight") {
          EXPECT_EQ(p.group, ParamGroup::kInput);
          EXPECT_TRUE(p.decay());
        }
        if (p.name == "pos_embed.weight" || p.name == "cls_token.weight") {
          EXPECT_EQ(p.group, ParamGroup::kEmbedding);
          EXPECT_FALSE(p.decay());
        }
        if (p.name == "head.weight") EXPECT_EQ(p.group, ParamGroup::kHead);
      }
    }
}

TEST(Vit, TinyVitOverfitsASmallBatch) {
  torch::manual_seed(3);
  auto model = build_model(tiny_vit(), sigmoid_math());
  auto images = torch::randn({8, 3, 8, 8});
  auto labels = torch::arange(8) % 5;
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0.0));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    auto loss = torch::cross_entropy_loss(model->forward(ModelInputs{{}, {}, {}, images}), labels);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_GT(first, 1.2);
  EXPECT_LT(last, 0.05) << "from " << first;
  torch::NoGradGuard no_grad;
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(ModelInputs{{}, {}, {}, images}).argmax(-1), labels));
}

TEST(Vit, DropPathDropsWholeSamplesInTrainingOnly) {
  ModelConfig c = tiny_vit();
  c.drop_path = 0.5;
  torch::manual_seed(4);
  auto model = build_model(c, sigmoid_math());
  auto images = torch::randn({64, 3, 8, 8});
  torch::NoGradGuard no_grad;
  model->eval();
  auto a = model->forward(ModelInputs{{}, {}, {}, images});
  EXPECT_TRUE(torch::equal(a, model->forward(ModelInputs{{}, {}, {}, images})));  // eval: deterministic
  model->train();
  auto b = model->forward(ModelInputs{{}, {}, {}, images});
  EXPECT_FALSE(torch::allclose(a, b));  // training: branches dropped per sample
}

}  // namespace
