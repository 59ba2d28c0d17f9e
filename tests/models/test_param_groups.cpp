// Parameter groups come from the modules' declarations (models/param_group.h), not from parameter names, and
// attention backends are resolved once, when a model is built (models/attention.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "models/attention.h"
#include "models/model.h"
#include "models/transformer.h"

namespace {

using namespace sigtrain::models;

// Registers `leaf` at the dotted `path` below `root`, through plain holder modules.
void register_at(torch::nn::Module& root, const std::vector<std::string>& path,
                 std::shared_ptr<torch::nn::Module> leaf) {
  torch::nn::Module* at = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto children = at->named_children();
    auto* found = children.find(path[i]);
    at = found != nullptr ? found->get()
                          : at->register_module(path[i], std::make_shared<torch::nn::Module>()).get();
  }
  at->register_module(path.back(), std::move(leaf));
}

// Two modules with the same layers under different names; the second's names would have fooled the old
// name rules ("attn.qkv." in an MLP layer's path, "norm." in the head's, ".mlp." in an embedding's).
struct Named : torch::nn::Module {
  using Path = std::vector<std::string>;
  Named(const Path& embed, const Path& fc, const Path& norm, const Path& head) {
    register_at(*this, embed, std::make_shared<Embedding>(10, 4, 0.02));
    register_at(*this, fc, std::make_shared<Linear>(4, 8, /*bias=*/true, 0.02, ParamGroup::kMlp));
    register_at(*this, norm, std::make_shared<Norm>(NormKind::kLayerNorm, 4, 1e-5, /*bias=*/true));
    register_at(*this, head, std::make_shared<Linear>(4, 10, /*bias=*/false, 0.02, ParamGroup::kHead));
  }
};

std::vector<std::tuple<ParamGroup, bool, bool, int64_t>> groups_of(const torch::nn::Module& m) {
  std::vector<std::tuple<ParamGroup, bool, bool, int64_t>> out;  // group, is_bias, decay, numel (in order)
  for (const auto& p : declared_parameters(m, {})) out.emplace_back(p.group, p.is_bias, p.decay(), p.param.numel());
  return out;
}

TEST(ParamGroups, RenamingModulesChangesNoGroup) {
  Named plain({"tok_embed"}, {"mlp_fc"}, {"final_norm"}, {"head"});
  Named misleading({"x", "mlp", "table"}, {"blocks", "attn", "qkv", "layer"}, {"head", "x"}, {"norm", "out"});
  EXPECT_EQ(declared_parameters(misleading, {})[1].name, "blocks.attn.qkv.layer.weight");
  EXPECT_EQ(groups_of(plain), groups_of(misleading));
  const auto infos = declared_parameters(misleading, {});
  ASSERT_EQ(infos.size(), 6u);
  EXPECT_EQ(infos[0].group, ParamGroup::kEmbedding);
  EXPECT_EQ(infos[1].group, ParamGroup::kMlp);
  EXPECT_FALSE(infos[1].is_bias);
  EXPECT_TRUE(infos[1].decay());
  EXPECT_EQ(infos[2].group, ParamGroup::kMlp);
  EXPECT_TRUE(infos[2].is_bias);  // the module's own "bias", whatever its path
  EXPECT_FALSE(infos[2].decay());
  EXPECT_EQ(infos[3].group, ParamGroup::kNorm);
  EXPECT_EQ(infos[5].group, ParamGroup::kHead);
  EXPECT_TRUE(infos[5].decay());
  EXPECT_STREQ(to_string(infos[5].group), "head");
}

TEST(ParamGroups, UndeclaredParameterIsAnError) {
  struct Raw : torch::nn::Module {
    Raw() { register_parameter("loose", torch::zeros({3})); }
  } raw;
  try {
    declared_parameters(raw, {});
    FAIL() << "an undeclared parameter got a group";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter loose was not registered in a ParamModule"), std::string::npos)
        << e.what();
  }
}

TEST(ParamGroups, LayersComeFromTheBlocks) {
  ModelConfig c;
  c.vocab_size = 37;
  c.n_layer = 3;
  c.d_model = 32;
  c.n_head = 4;
  c.max_seq_len = 16;
  AttentionConfig a;
  auto model = build_model(c, a);
  std::map<int, int> per_layer;
  for (const auto& p : model->param_info()) ++per_layer[p.layer];
  EXPECT_EQ(per_layer.size(), 4u);  // -1 (embeddings, final norm) and blocks 0..2
  EXPECT_EQ(per_layer[0], per_layer[2]);
}

TEST(AttentionBackends, ResolvedOnceWhenTheModelIsBuilt) {
  // A backend that returns zeros; the model keeps the object it resolved even after the name is re-registered.
  register_attention_backend("test_resolved", [](const at::Tensor& q, const at::Tensor&, const at::Tensor&,
                                                 const AttentionMask&, const AttentionOptions&) { return q * 0; });
  ModelConfig c;
  c.vocab_size = 37;
  c.n_layer = 1;
  c.d_model = 32;
  c.n_head = 4;
  c.max_seq_len = 16;
  AttentionConfig a;
  a.backend = "test_resolved";
  auto model = build_model(c, a);
  EXPECT_EQ(model->block(0)->attn->backend(), "test_resolved");
  register_attention_backend("test_resolved", [](const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                 const AttentionMask&, const AttentionOptions&) -> at::Tensor {
    throw std::runtime_error("looked up again");
  });
  torch::NoGradGuard no_grad;
  EXPECT_NO_THROW(model->forward(torch::zeros({1, 4}, torch::kLong)));
  // A new model resolves the new registration.
  auto rebuilt = build_model(c, a);
  EXPECT_THROW(rebuilt->forward(torch::zeros({1, 4}, torch::kLong)), std::runtime_error);
}

TEST(AttentionBackends, RulesAreTheBackendsAndErrorsListTheRegistry) {
  EXPECT_EQ(attention_backend_rule_violation("math", AttentionKind::kSigmoid, 8), "");
  EXPECT_NE(attention_backend_rule_violation("sdpa", AttentionKind::kSigmoid, 64).find("sdpa supports only kind"),
            std::string::npos);
  EXPECT_NE(attention_backend_rule_violation("fused", AttentionKind::kSoftmax, 64).find("fused supports only"),
            std::string::npos);
  const std::string unknown = attention_backend_rule_violation("flash", AttentionKind::kSigmoid, 64);
  for (const auto& name : attention_backend_names()) EXPECT_NE(unknown.find(name), std::string::npos) << unknown;
  if (fused_attention_built()) {
    EXPECT_EQ(attention_backend_rule_violation("fused", AttentionKind::kSigmoid, 64), "");
    EXPECT_EQ(attention_backend_rule_violation("fused", AttentionKind::kSigmoid, 96), "");
    EXPECT_NE(attention_backend_rule_violation("fused", AttentionKind::kSigmoid, 80).find("head dims 32, 64, 96, 128, 256"),
              std::string::npos);
  }
}

}  // namespace
