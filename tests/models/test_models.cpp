// Models: forward shapes over the option space, parameter groups, gradients, padding invariance, masking helper.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>

#include "models/causal_lm.h"
#include "tests/error_of.h"
#include "models/cross_entropy.h"
#include "models/encoder.h"
#include "models/fused_ops.h"
#include "models/model.h"
#include "models/transformer.h"

using namespace sigtrain::models;

namespace {

ModelConfig tiny(Arch arch = Arch::kDecoder) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = 37;
  c.n_layer = 2;
  c.d_model = 32;
  c.n_head = 4;  // n_kv_head stays 0 = n_head
  c.max_seq_len = 16;
  return c;
}

AttentionConfig attn(AttentionKind kind = AttentionKind::kSigmoid, const std::string& backend = "math") {
  AttentionConfig a;
  a.kind = kind;
  a.backend = backend;
  return a;
}

std::string describe(const ModelConfig& c, const AttentionConfig& a) {
  return std::string(to_string(c.arch)) + " " + to_string(c.norm) + " " + to_string(c.norm_placement) + " " +
         to_string(c.positions) + " " + to_string(c.mlp) + (c.tie_embeddings ? " tied" : " untied") +
         (c.qk_norm ? " qk_norm" : "") + (c.layer_scale ? " layer_scale" : "") + (c.bias ? " bias" : "") +
         " kv=" + std::to_string(c.n_kv_head) + " " + to_string(a.kind) + " " + a.backend;
}

torch::Tensor random_tokens(int64_t B, int64_t T, int64_t V, uint64_t seed = 0) {
  torch::manual_seed(seed);
  return torch::randint(0, V, {B, T}, torch::kLong);
}

bool all_finite_grads(Model& m, std::string* which) {
  for (const auto& p : m.named_parameters()) {
    if (!p.value().grad().defined() || !torch::isfinite(p.value().grad()).all().item<bool>()) {
      *which = p.key();
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(Models, ForwardShapesAndGradientsOverOptions) {
  int n = 0;
  for (auto arch : {Arch::kDecoder, Arch::kEncoder})
    for (auto placement : {NormPlacement::kPre, NormPlacement::kHybrid, NormPlacement::kPost})
      for (auto pos : {PositionKind::kLearned, PositionKind::kRope, PositionKind::kAlibi, PositionKind::kNone})
        for (auto mlp : {MlpKind::kGelu, MlpKind::kSwiGLU})
          for (bool tie : {true, false}) {
            ModelConfig c = tiny(arch);
            c.norm_placement = placement;
            c.positions = pos;
            c.mlp = mlp;
            c.tie_embeddings = tie;
            // Vary the remaining switches across the sweep so each is seen both ways in many contexts.
            c.norm = (n % 2) ? NormKind::kLayerNorm : NormKind::kRMSNorm;
            c.qk_norm = (n / 2) % 2;
            c.bias = (n / 4) % 2;
            if ((n / 3) % 2) c.layer_scale = 0.1;
            c.n_kv_head = (n % 3 == 0) ? 2 : 4;
            c.value_input = arch == Arch::kEncoder && (n % 5 == 0);
            AttentionConfig a = attn((n % 7 == 0) ? AttentionKind::kSoftmax : AttentionKind::kSigmoid);
            if (a.kind == AttentionKind::kSoftmax && n % 2) a.backend = "sdpa";
            ++n;
            const std::string what = describe(c, a);
            torch::manual_seed(n);
            auto model = build_model(c, a);
            ModelInputs in{random_tokens(3, 11, c.vocab_size, n), {}, torch::tensor({11, 7, 1}, torch::kLong)};
            if (c.value_input) in.values = torch::randn({3, 11});
            auto logits = model->forward(in);
            ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 11, c.vocab_size})) << what;
            ASSERT_TRUE(torch::isfinite(logits).all().item<bool>()) << what;
            auto loss = torch::nn::functional::cross_entropy(logits.view({-1, c.vocab_size}),
                                                             random_tokens(3, 11, c.vocab_size, n + 1).view({-1}));
            loss.backward();
            std::string bad;
            EXPECT_TRUE(all_finite_grads(*model, &bad)) << what << ": " << bad;
          }
}

TEST(Models, ParamInfoCoversEveryParameterOnce) {
  for (bool tie : {true, false})
    for (auto arch : {Arch::kDecoder, Arch::kEncoder}) {
      ModelConfig c = tiny(arch);
      c.tie_embeddings = tie;
      c.qk_norm = true;
      c.layer_scale = 1e-4;
      c.bias = true;
      c.norm = NormKind::kLayerNorm;
      c.norm_placement = NormPlacement::kHybrid;
      c.positions = PositionKind::kLearned;
      c.value_input = arch == Arch::kEncoder;
      auto model = build_model(c, attn());
      auto infos = model->param_info();
      std::set<const void*> seen;
      const std::set<std::string> groups = {"attn_qkv", "attn_out", "mlp", "norm", "embedding", "head",
                                            "layerscale"};
      std::set<std::string> groups_seen;  // (as named in metrics: models::to_string)
      int64_t total = 0;
      for (const auto& p : infos) {
        EXPECT_TRUE(seen.insert(p.param.unsafeGetTensorImpl()).second) << "twice: " << p.name;
        EXPECT_TRUE(groups.count(to_string(p.group))) << p.name << " → " << to_string(p.group);
        groups_seen.insert(to_string(p.group));
        if (p.name.rfind("blocks.", 0) == 0) {
          EXPECT_GE(p.layer, 0) << p.name;
          EXPECT_LT(p.layer, c.n_layer) << p.name;
        } else {
          EXPECT_EQ(p.layer, -1) << p.name;
        }
        EXPECT_EQ(p.is_bias, p.name.size() > 5 && p.name.substr(p.name.size() - 5) == ".bias") << p.name;
        if (p.group == ParamGroup::kNorm || p.group == ParamGroup::kEmbedding || p.group == ParamGroup::kLayerScale ||
            p.is_bias)
          EXPECT_FALSE(p.decay()) << p.name;
        total += p.param.numel();
      }
      const auto params = model->parameters();
      EXPECT_EQ(infos.size(), params.size());
      for (const auto& t : params) EXPECT_TRUE(seen.count(t.unsafeGetTensorImpl()));
      EXPECT_EQ(groups_seen.count("head"), tie ? 0u : 1u);
      EXPECT_EQ(total, model->num_params(false));
      // Named groups as documented.
      for (const auto& p : infos) {
        if (p.name == "blocks.1.attn.qkv.weight") EXPECT_EQ(p.group, ParamGroup::kAttnQkv);
        if (p.name == "blocks.0.attn.out.weight") EXPECT_EQ(p.group, ParamGroup::kAttnOut);
        if (p.name == "blocks.0.attn.q_norm.weight") EXPECT_EQ(p.group, ParamGroup::kNorm);
        if (p.name == "blocks.0.mlp.fc.weight") EXPECT_EQ(p.group, ParamGroup::kMlp);
        if (p.name == "blocks.1.mlp_scale.gamma") EXPECT_EQ(p.group, ParamGroup::kLayerScale);
        if (p.name == "tok_embed.weight") EXPECT_EQ(p.group, ParamGroup::kEmbedding);
      }
    }
}

TEST(Models, NumParamsAndFlops) {
  ModelConfig c = tiny();
  c.mlp = MlpKind::kGelu;
  c.bias = false;
  c.norm = NormKind::kRMSNorm;
  c.positions = PositionKind::kRope;
  auto model = build_model(c, attn());
  const int64_t d = 32, V = 37, L = 2, f = 4 * d;
  const int64_t per_block = d * 3 * d + d * d + d * f + f * d + 2 * d;  // qkv, out, fc, proj, 2 norms
  const int64_t expected = V * d + L * per_block + d;                  // tied embedding, final norm
  EXPECT_EQ(model->num_params(false), expected);
  EXPECT_EQ(model->num_params(true), expected - V * d);
  const int64_t T = 16;
  EXPECT_DOUBLE_EQ(model->flops_per_token(T), 6.0 * expected + 0.5 * 12.0 * L * d * T);
  c.arch = Arch::kEncoder;
  EXPECT_DOUBLE_EQ(build_model(c, attn())->flops_per_token(T), 6.0 * expected + 12.0 * L * d * T);
}

TEST(Models, CausalLMIgnoresTheFuture) {
  for (auto pos : {PositionKind::kLearned, PositionKind::kRope, PositionKind::kAlibi}) {
    ModelConfig c = tiny();
    c.positions = pos;
    torch::manual_seed(3);
    auto model = build_model(c, attn());
    model->eval();
    auto a = random_tokens(2, 10, c.vocab_size, 1);
    auto b = a.clone();
    b.narrow(1, 6, 4).random_(0, c.vocab_size);
    auto la = model->forward(a), lb = model->forward(b);
    EXPECT_TRUE(torch::allclose(la.narrow(1, 0, 6), lb.narrow(1, 0, 6), 1e-5, 1e-6)) << to_string(pos);
    EXPECT_FALSE(torch::allclose(la.narrow(1, 6, 4), lb.narrow(1, 6, 4))) << to_string(pos);
  }
}

TEST(Models, EncoderPaddingDoesNotAffectValidPositions) {
  for (auto kind : {AttentionKind::kSigmoid, AttentionKind::kSoftmax})
    for (auto pos : {PositionKind::kLearned, PositionKind::kRope, PositionKind::kAlibi}) {
      ModelConfig c = tiny(Arch::kEncoder);
      c.positions = pos;
      c.value_input = true;
      torch::manual_seed(5);
      auto model = std::dynamic_pointer_cast<Encoder>(build_model(c, attn(kind)));
      ASSERT_TRUE(model);
      model->eval();
      const int64_t L = 6, T = 12;
      auto tokens = random_tokens(1, T, c.vocab_size, 2);
      auto values = torch::randn({1, T});
      auto lengths = torch::tensor({L}, torch::kLong);
      auto h1 = model->hidden({tokens, values, lengths});
      // Different padding content → identical valid positions.
      auto tokens2 = tokens.clone();
      tokens2.narrow(1, L, T - L).random_(0, c.vocab_size);
      auto values2 = values.clone();
      values2.narrow(1, L, T - L).normal_();
      auto h2 = model->hidden({tokens2, values2, lengths});
      EXPECT_TRUE(torch::allclose(h1.narrow(1, 0, L), h2.narrow(1, 0, L), 1e-5, 1e-6)) << to_string(pos);
      // Same as the unpadded sequence alone (b = −log n uses the valid key count).
      auto h3 = model->hidden({tokens.narrow(1, 0, L), values.narrow(1, 0, L), {}});
      EXPECT_TRUE(torch::allclose(h1.narrow(1, 0, L), h3, 1e-5, 1e-6)) << to_string(pos) << " " << to_string(kind);
      // Without lengths the padding does leak in.
      auto h4 = model->hidden({tokens2, values2, {}});
      EXPECT_FALSE(torch::allclose(h1.narrow(1, 0, L), h4.narrow(1, 0, L), 1e-5, 1e-6));
      // Mean pooling over valid tokens only.
      auto pooled = model->pooled({tokens, values, lengths}, Pooling::kMean);
      EXPECT_TRUE(torch::allclose(pooled, h3.mean(1), 1e-5, 1e-6));
      auto cls = model->pooled({tokens, values, lengths}, Pooling::kCls);
      EXPECT_TRUE(torch::allclose(cls, h3.select(1, 0), 1e-5, 1e-6));
    }
}

TEST(Models, MathAndSdpaAgreeOnOneModel) {
  ModelConfig c = tiny(Arch::kEncoder);
  c.positions = PositionKind::kAlibi;
  c.n_kv_head = 2;
  torch::manual_seed(9);
  auto model = build_model(c, attn(AttentionKind::kSoftmax, "math"));
  ModelInputs in{random_tokens(2, 9, c.vocab_size), {}, torch::tensor({9, 4}, torch::kLong)};
  auto a = model->forward(in);
  model->set_attention_backend("sdpa");
  auto b = model->forward(in);
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5));
}

TEST(Models, AttentionStatsCollection) {
  ModelConfig c = tiny();
  auto model = build_model(c, attn());
  model->forward(random_tokens(2, 8, c.vocab_size));
  for (const auto& s : model->attention_stats()) EXPECT_FALSE(s.valid);  // off by default
  model->set_collect_attention_stats(true, 1);
  model->forward(random_tokens(2, 8, c.vocab_size));
  auto stats = model->attention_stats();
  ASSERT_EQ(stats.size(), 2u);
  for (const auto& s : stats) {
    ASSERT_TRUE(s.valid);
    EXPECT_EQ(s.sampled_batch, 1);
    // At init with b = −log n the row mass is ≈ 1 (rows see i+1 of n = 8 keys under causal masking: ≈ (i+1)/8).
    EXPECT_GT(s.row_mass_mean.item<float>(), 0.3f);
    EXPECT_LT(s.row_mass_max.item<float>(), 1.5f);
    EXPECT_GT(s.pv_norm.item<float>(), 0.f);
    EXPECT_GE(s.max_abs_logit.item<float>(), std::log(8.f) - 1.f);
  }
  for (const auto& r : model->block_output_rms()) EXPECT_GT(r.item<float>(), 0.f);
}

// A block's stream input x + pending is the block on the materialised sum, bit for bit (the pending add is the same
// op, only done by the next norm), for every norm placement; post-norm leaves nothing pending, pre and hybrid their
// MLP branch.
TEST(Models, BlockOnAResidualStreamEqualsTheBlockOnItsSum) {
  for (NormPlacement placement : {NormPlacement::kPre, NormPlacement::kHybrid, NormPlacement::kPost}) {
    ModelConfig c = tiny();
    c.norm_placement = placement;
    torch::manual_seed(3);
    TransformerBlock block(c, attn(), 0);
    const at::Tensor x = torch::randn({2, 8, c.d_model}), pending = torch::randn({2, 8, c.d_model});
    const ResidualStream out = block.forward(ResidualStream{x, pending}, AttentionMask{true}, nullptr);
    EXPECT_EQ(out.pending.defined(), placement != NormPlacement::kPost) << to_string(placement);
    EXPECT_TRUE(torch::equal(out.materialise(), block.forward(x + pending, AttentionMask{true}, nullptr)))
        << to_string(placement);
  }
}

// AttentionBackend::packed: a backend without a packed path of its own splits the qkv and runs its usual forward,
// so a block with packed_qkv on computes exactly what it computes with it off (outputs and gradients bit for bit);
// a qkv of the wrong head count is refused.
TEST(Models, PackedQkvThroughASplittingBackendChangesNothing) {
  ModelConfig c = tiny();
  c.qk_norm = false;
  torch::manual_seed(4);
  MultiHeadAttention mha(c, attn(), 0);
  const at::Tensor x = torch::randn({2, 8, c.d_model}, torch::requires_grad());
  auto run = [&](bool packed) {
    mha.packed_qkv = packed;
    mha.zero_grad();
    at::Tensor y = mha.forward(x, AttentionMask{true}, nullptr);
    std::vector<at::Tensor> grads = torch::autograd::grad({y.sum()}, {x, mha.qkv->weight});
    return std::vector<at::Tensor>{y.detach(), grads[0], grads[1]};
  };
  const auto split = run(false), packed = run(true);
  for (size_t i = 0; i < split.size(); ++i) EXPECT_TRUE(torch::equal(split[i], packed[i])) << i;

  const at::Tensor wrong = torch::randn({2, 8, c.n_head + 1, c.head_dim()});
  try {
    find_attention_backend("math")->packed(wrong, c.n_head, c.n_head, AttentionMask{}, AttentionOptions{});
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("n_head + 2 * n_kv_head"), std::string::npos) << e.what();
  }
}

// fused_ops.packed_qkv is auto like the other fused ops: off without CUDA, on with it where the kernels are built.
TEST(FusedOps, PackedQkvAutoFollowsTheDevice) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).packed_qkv);
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).packed_qkv);
  cfg.packed_qkv = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).packed_qkv);
}

// fused_ops.linear likewise; Model::set_fused_ops hands it to every Linear (the head and the projections), and a
// CPU input keeps LibTorch's linear with the flag on (the same numbers as off).
TEST(FusedOps, LinearAutoFollowsTheDeviceAndReachesEveryLinear) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).linear);
  cfg.linear = FusedChoice::kOn;
  if (!fused_ops_built()) {
    EXPECT_THROW(resolve_fused_ops(cfg, true), sigtrain::config::ConfigError);
  } else {
    EXPECT_TRUE(resolve_fused_ops(cfg, true).linear);
  }
  ModelConfig c = tiny(Arch::kDecoder);
  c.tie_embeddings = false;  // the head is a Linear
  auto model = build_model(c, attn());
  FusedOps ops;
  ops.linear = true;
  model->set_fused_ops(ops);
  int linears = 0;
  for (const auto& m : model->modules(/*include_self=*/false))
    if (auto linear = std::dynamic_pointer_cast<Linear>(m)) {
      EXPECT_TRUE(linear->fused);
      ++linears;
    }
  EXPECT_EQ(linears, c.n_layer * 4 + 1) << "qkv, out, fc, proj per block and the head";
  Linear& head = *std::dynamic_pointer_cast<Linear>(model->named_modules()["head"]);
  at::Tensor x = torch::randn({3, 32});
  EXPECT_TRUE(torch::equal(head.forward(x), at::linear(x, head.weight, head.bias)));
}

// fused_ops.gemm_algo: auto is timed in a one-process CUDA run with a fused MLP or linear layer, heuristic with several
// ranks (each would time alone), without CUDA, or with neither op; timed where it cannot run is an error naming the
// key and the values to use.
TEST(FusedOps, GemmAlgoAutoIsTimedInOneCudaProcess) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).gemm_algo_timed);
  cfg.gemm_algo = "timed";
  try {
    resolve_fused_ops(cfg, /*cuda=*/false);
    ADD_FAILURE() << "timed without CUDA was accepted";
  } catch (const sigtrain::config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fused_ops.gemm_algo: timed needs a CUDA device"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("set fused_ops.gemm_algo: auto or heuristic"), std::string::npos);
  }
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true, /*processes=*/4).gemm_algo_timed) << "asked for";
  cfg.gemm_algo = "auto";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).gemm_algo_timed);
  EXPECT_FALSE(resolve_fused_ops(cfg, true, /*processes=*/2).gemm_algo_timed);
  cfg.mlp = cfg.linear = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).gemm_algo_timed) << "no GEMM of ours runs";
  cfg.mlp = FusedChoice::kAuto;
  cfg.gemm_algo = "heuristic";
  EXPECT_FALSE(resolve_fused_ops(cfg, true).gemm_algo_timed);
}

// fused_ops.add_norm needs the fused norm: `on` with the norm off is a config error naming both keys; `auto`
// follows the norm.
TEST(FusedOps, AddNormFollowsTheNorm) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).add_norm);
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).add_norm);
  cfg.norm = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).add_norm);
  cfg.add_norm = FusedChoice::kOn;
  try {
    resolve_fused_ops(cfg, true);
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fused_ops.add_norm: on needs the fused norm, but fused_ops.norm is off"),
              std::string::npos)
        << e.what();
  }
}

// fused_ops.residual_bias needs the fused add + norm: `on` with add_norm off is a config error naming both keys;
// `auto` follows add_norm (and off on the CPU).
TEST(FusedOps, ResidualBiasFollowsTheAddNorm) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).residual_bias);
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).residual_bias);
  cfg.add_norm = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).residual_bias);
  cfg.residual_bias = FusedChoice::kOn;
  const std::string error = sigtrain::testing::error_of([&] { resolve_fused_ops(cfg, true); });
  EXPECT_NE(error.find("fused_ops.residual_bias: on needs the fused add + norm, but fused_ops.add_norm is off"),
            std::string::npos)
      << error;
}

// A pre-norm block with residual_bias hands its MLP projection's bias on with the unadded branch (the next norm adds
// it) and gives the model the same output as without it, on the CPU's LibTorch path; blocks whose branch does not
// end in the projection (hybrid norm, LayerScale, dropout while training) add their biases themselves.
TEST(FusedOps, ResidualBiasDefersTheProjectionBiasToTheNextNorm) {
  ModelConfig c = tiny(Arch::kDecoder);
  c.bias = true;
  for (const std::string variant : {"pre", "hybrid", "layer_scale", "dropout"}) {
    SCOPED_TRACE(variant);
    ModelConfig v = c;
    if (variant == "hybrid") v.norm_placement = NormPlacement::kHybrid;
    if (variant == "layer_scale") v.layer_scale = 0.5;
    if (variant == "dropout") v.dropout = 0.1;
    torch::manual_seed(3);
    auto model = build_model(v, attn());
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key().find("bias") != std::string::npos) p.value().normal_(0.0, 0.5);
    }
    if (variant == "dropout") model->eval();  // the output comparison below needs no randomness
    ModelInputs in;
    in.tokens = random_tokens(2, 16, 37);
    const at::Tensor plain = model->forward(in);
    std::shared_ptr<TransformerBlock> block;
    for (const auto& m : model->modules(/*include_self=*/false))
      if (auto b = std::dynamic_pointer_cast<TransformerBlock>(m)) {
        b->residual_bias = true;
        block = b;
      }
    ASSERT_TRUE(block);
    EXPECT_TRUE(torch::allclose(model->forward(in), plain, 1e-5, 1e-5)) << "same output with residual_bias";
    if (variant == "dropout") model->train();
    const ResidualStream out =
        block->forward(ResidualStream{torch::randn({2, 16, 32}), {}, {}}, AttentionMask{}, nullptr);
    if (variant == "pre") {
      ASSERT_TRUE(out.pending_bias.defined()) << "the MLP projection's bias is handed on";
      EXPECT_TRUE(out.pending_bias.is_same(block->mlp->proj->bias));
    } else {
      EXPECT_FALSE(out.pending_bias.defined()) << "the block adds its own biases";
    }
  }
}

// fused_ops.rope: auto is on with the kernels on CUDA and off on the CPU, where Rope::apply with the flag set anyway
// is LibTorch's path (the GPU tests FusedRope.* check the kernel).
TEST(FusedOps, RopeIsLibTorchsOnTheCpu) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).rope);
  Rope rope(16, 8, 10000.0);
  const at::Tensor x = torch::randn({2, 8, 3, 16});
  const at::Tensor plain = rope.apply(x);
  rope.fused = true;
  EXPECT_TRUE(torch::equal(rope.apply(x), plain));
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).rope);
  cfg.rope = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).rope);
}

// fused_ops.head_loss needs the fused cross-entropy likewise; a model whose head is not one linear map (the ViT's
// pooled, biased head) has no weight to fuse, and on the CPU the loss is LibTorch's with the flag on.
TEST(FusedOps, HeadLossFollowsTheCrossEntropy) {
  FusedOpsConfig cfg;
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).head_loss);
  ModelConfig c = tiny(Arch::kDecoder);
  auto model = build_model(c, attn());
  FusedOps ops;
  ops.cross_entropy = ops.head_loss = true;
  model->set_fused_ops(ops);
  at::Tensor tokens = torch::randint(0, c.vocab_size, {2, 8}, torch::kLong);
  at::Tensor targets = torch::randint(0, c.vocab_size, {2, 8}, torch::kLong);
  at::Tensor ref = cross_entropy_sum(model->forward(tokens), targets, -100, /*fused=*/false);
  EXPECT_TRUE(torch::equal(model->cross_entropy_sum(ModelInputs{tokens, {}, {}, {}}, targets, -100), ref));
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels";
  EXPECT_TRUE(resolve_fused_ops(cfg, true).head_loss);
  cfg.cross_entropy = FusedChoice::kOff;
  EXPECT_FALSE(resolve_fused_ops(cfg, true).head_loss);
  cfg.head_loss = FusedChoice::kOn;
  try {
    resolve_fused_ops(cfg, true);
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fused_ops.head_loss: on needs the fused cross-entropy, but "
                                         "fused_ops.cross_entropy is off"),
              std::string::npos)
        << e.what();
  }
}

// fused_ops.mlp_recompute is a setting of the fused MLP: read from the section (default false), resolved only where
// the fused MLP runs, and handed to every Mlp by Model::set_fused_ops.
TEST(FusedOps, MlpRecomputeGoesWithTheFusedMlp) {
  auto read = [](const std::string& yaml) {
    auto tree = sigtrain::config::ConfigTree::from_string(yaml, "fused.yaml");
    sigtrain::config::SectionReader r(tree, "fused_ops");
    return FusedOpsConfig::parse(r);
  };
  EXPECT_FALSE(read("fused_ops: {}\n").mlp_recompute);
  FusedOpsConfig cfg = read("fused_ops:\n  mlp_recompute: true\n");
  EXPECT_TRUE(cfg.mlp_recompute);
  EXPECT_FALSE(resolve_fused_ops(cfg, /*cuda=*/false).mlp_recompute) << "no fused MLP on CPU";
  if (fused_ops_built()) {
    EXPECT_TRUE(resolve_fused_ops(cfg, true).mlp_recompute);
    cfg.mlp = FusedChoice::kOff;
    EXPECT_FALSE(resolve_fused_ops(cfg, true).mlp_recompute);
  }
  try {
    read("fused_ops:\n  mlp_recompute: sometimes\n");
    ADD_FAILURE() << "no error";
  } catch (const sigtrain::config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fused_ops.mlp_recompute"), std::string::npos) << e.what();
  }
  auto model = build_model(tiny(Arch::kDecoder), attn());
  FusedOps ops;
  ops.mlp = ops.mlp_recompute = true;
  model->set_fused_ops(ops);
  int mlps = 0;
  for (const auto& m : model->modules(/*include_self=*/false))
    if (auto mlp = std::dynamic_pointer_cast<Mlp>(m)) {
      EXPECT_TRUE(mlp->recompute_gelu);
      ++mlps;
    }
  EXPECT_EQ(mlps, tiny(Arch::kDecoder).n_layer);
}

TEST(Models, BuildErrors) {
  ModelConfig c = tiny();
  c.vocab_size = 0;
  EXPECT_THROW(build_model(c, attn()), std::invalid_argument);
  c = tiny();
  EXPECT_THROW(CausalLM(tiny(Arch::kEncoder), attn()), std::invalid_argument);
  EXPECT_THROW(Encoder(c, attn()), std::invalid_argument);
  auto model = build_model(c, attn());
  EXPECT_THROW(model->forward(random_tokens(1, 17, c.vocab_size)), c10::Error);  // > max_seq_len with RoPE
  // The fused backend's rules: its head dims when the model is built, CUDA tensors when it runs.
  try {
    build_model(tiny(), attn(AttentionKind::kSigmoid, "fused"));  // head dim 8
    FAIL() << "fused built with head dim 8";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("attention.backend: fused supports head dims 32, 64, 96, 128, 256, not 8"),
              std::string::npos)
        << e.what();
  }
  if (fused_attention_built()) {
    ModelConfig d64 = tiny();
    d64.d_model = 128;
    d64.n_head = 2;
    auto lm = build_model(d64, attn(AttentionKind::kSigmoid, "fused"));
    try {
      lm->forward(random_tokens(1, 4, 37));
      FAIL() << "fused ran on CPU";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("attention.backend: fused needs a CUDA"), std::string::npos) << e.what();
    }
  }
}

TEST(Models, InitScales) {
  ModelConfig c = tiny();
  c.n_layer = 8;
  c.d_model = 256;
  c.n_head = 4;
  torch::manual_seed(0);
  auto model = build_model(c, attn());
  for (const auto& p : model->param_info()) {
    if (p.name == "blocks.0.attn.qkv.weight") EXPECT_NEAR(p.param.std().item<float>(), 0.02f * 0.88f, 0.002f);
    if (p.name == "blocks.0.attn.out.weight")
      EXPECT_NEAR(p.param.std().item<float>(), 0.02f * 0.88f / 4.0f, 0.0005f);  // /√(2·8)
    if (p.group == ParamGroup::kNorm) EXPECT_EQ(p.param.min().item<float>(), 1.f);
    if (p.group == ParamGroup::kAttnQkv || p.group == ParamGroup::kMlp)
      EXPECT_LE(p.param.abs().max().item<float>(), 2 * 0.02f + 1e-6f);  // truncated at 2σ
  }
}

TEST(MaskTokens, BertStyleMasking) {
  MaskingOptions o;
  o.mask_token_id = 3;
  o.vocab_size = 50;
  o.special_ids = {0, 1, 2};  // PAD, CLS, SEP
  const int64_t B = 64, T = 128;
  torch::manual_seed(0);
  auto tokens = torch::randint(4, 50, {B, T}, torch::kLong);
  tokens.select(1, 0).fill_(1);  // CLS
  auto lengths = torch::randint(T / 2, T + 1, {B}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) tokens[b].narrow(0, lengths[b].item<int64_t>(), T - lengths[b].item<int64_t>()).fill_(0);

  auto g1 = at::detail::createCPUGenerator(42);
  auto g2 = at::detail::createCPUGenerator(42);
  auto m1 = mask_tokens(tokens, lengths, o, g1);
  auto m2 = mask_tokens(tokens, lengths, o, g2);
  EXPECT_TRUE(torch::equal(m1.inputs, m2.inputs));
  EXPECT_TRUE(torch::equal(m1.labels, m2.labels));
  auto m3 = mask_tokens(tokens, lengths, o, g1);  // generator advanced → different draw
  EXPECT_FALSE(torch::equal(m1.labels, m3.labels));

  auto selected = m1.labels != -100;
  // Never PAD / CLS / beyond the length.
  auto special = (tokens == 0).logical_or(tokens == 1);
  EXPECT_FALSE(selected.logical_and(special).any().item<bool>());
  EXPECT_TRUE(torch::equal(m1.labels.masked_select(selected), tokens.masked_select(selected)));
  EXPECT_TRUE(torch::equal(m1.inputs.masked_select(selected.logical_not()),
                           tokens.masked_select(selected.logical_not())));
  const double maskable = (tokens > 3).sum().item<double>();
  const double n_sel = selected.sum().item<double>();
  EXPECT_NEAR(n_sel / maskable, 0.15, 0.02);
  const double n_mask = (m1.inputs == 3).logical_and(selected).sum().item<double>();
  const double n_same = (m1.inputs == tokens).logical_and(selected).sum().item<double>();
  EXPECT_NEAR(n_mask / n_sel, 0.8, 0.04);
  EXPECT_NEAR(n_same / n_sel, 0.1 + 0.1 * 46.0 / 46.0 * (1.0 / 46.0), 0.04);  // kept, or random hit the same id
  // Random replacements are never special ids.
  auto replaced = selected.logical_and(m1.inputs != 3).logical_and(m1.inputs != tokens);
  EXPECT_FALSE(replaced.logical_and(m1.inputs < 4).any().item<bool>());
}
