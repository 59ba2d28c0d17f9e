// GPU checks: math vs sdpa (softmax) in fp32 and bf16, math vs the float64 reference on the device, a model
// forward/backward on CUDA, and — when the fused backend is built — fused vs math for sigmoid.
#include <gtest/gtest.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "models/model.h"
#include "tests/models/reference_attention.h"

using namespace sigtrain::models;
using sigtrain::models::testing::RefSpec;
using sigtrain::models::testing::reference_attention;
using sigtrain::models::testing::rel_err;
using sigtrain::models::testing::to_mask;
using sigtrain::models::testing::to_options;

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

namespace {

struct Shape {
  int64_t B, Tq, Tk, H, Hkv, D;
};

std::vector<RefSpec> specs(AttentionKind kind, const Shape& s) {
  std::vector<RefSpec> out;
  for (int causal = 0; causal < 2; ++causal)
    for (int pad = 0; pad < 2; ++pad)
      for (int alibi = 0; alibi < 2; ++alibi) {
        RefSpec r;
        r.kind = kind;
        r.causal = causal;
        if (pad) {
          r.len_k = {s.Tk, s.Tk / 2, 0};
          r.len_q = {s.Tq, s.Tq / 2, 1};
        }
        if (alibi) {
          auto sl = alibi_slopes(s.H).to(torch::kDouble);
          r.slopes.assign(sl.data_ptr<double>(), sl.data_ptr<double>() + s.H);
        }
        out.push_back(r);
      }
  return out;
}

std::string name(const RefSpec& r) {
  return std::string(r.causal ? "causal" : "full") + (r.len_k.empty() ? "" : " padded") +
         (r.slopes.empty() ? "" : " alibi");
}

}  // namespace

TEST(AttentionGpu, MathVsSdpaSoftmaxFp32AndBf16) {
  SKIP_WITHOUT_CUDA();
  const torch::Device dev(torch::kCUDA);
  for (const Shape& s : {Shape{3, 128, 128, 8, 8, 64}, Shape{3, 100, 200, 8, 2, 128}})
    for (auto dt : {torch::kFloat, torch::kBFloat16})
      for (const RefSpec& r : specs(AttentionKind::kSoftmax, s)) {
        torch::manual_seed(1);
        auto o = torch::TensorOptions().device(dev).dtype(dt);
        auto q = torch::randn({s.B, s.Tq, s.H, s.D}, o), k = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o),
             v = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o);
        auto m = to_mask(r, dev);
        auto a = sdpa_attention(q, k, v, m, to_options(r));
        auto b = math_attention(q, k, v, m, to_options(r));
        auto ref = reference_attention(q, k, v, r);
        const double tol = dt == torch::kFloat ? 1e-4 : 2e-2;
        EXPECT_TRUE(torch::isfinite(a).all().item<bool>()) << name(r);
        EXPECT_LT(rel_err(a, ref), tol) << "sdpa " << name(r) << " " << dt;
        EXPECT_LT(rel_err(b, ref), tol) << "math " << name(r) << " " << dt;
      }
}

TEST(AttentionGpu, MathSigmoidMatchesReference) {
  SKIP_WITHOUT_CUDA();
  const torch::Device dev(torch::kCUDA);
  const Shape s{3, 64, 96, 4, 2, 64};
  for (auto dt : {torch::kFloat, torch::kBFloat16})
    for (const RefSpec& r : specs(AttentionKind::kSigmoid, s)) {
      torch::manual_seed(2);
      auto o = torch::TensorOptions().device(dev).dtype(dt);
      auto q = torch::randn({s.B, s.Tq, s.H, s.D}, o), k = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o),
           v = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o);
      auto out = math_attention(q, k, v, to_mask(r, dev), to_options(r));
      EXPECT_LT(rel_err(out, reference_attention(q, k, v, r)), dt == torch::kFloat ? 1e-4 : 2e-2) << name(r);
    }
}

TEST(AttentionGpu, FusedMatchesMathWhenBuilt) {
  SKIP_WITHOUT_CUDA();
  if (!fused_attention_built()) GTEST_SKIP() << "fused attention backend not built";
  const torch::Device dev(torch::kCUDA);
  const Shape s{3, 130, 130, 8, 4, 64};
  for (const RefSpec& r0 : specs(AttentionKind::kSigmoid, s)) {
    RefSpec r = r0;
    torch::manual_seed(3);
    auto o = torch::TensorOptions().device(dev).dtype(torch::kBFloat16);
    auto q = torch::randn({s.B, s.Tq, s.H, s.D}, o).requires_grad_(true);
    auto k = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o).requires_grad_(true);
    auto v = torch::randn({s.B, s.Tk, s.Hkv, s.D}, o).requires_grad_(true);
    auto opts = to_options(r);
    opts.sigmoid_approx = SigmoidApprox::kExact;
    auto m = to_mask(r, dev);
    auto go = torch::randn({s.B, s.Tq, s.H, s.D}, o);
    auto run = [&](const std::string& backend) {
      q.mutable_grad() = at::Tensor();
      k.mutable_grad() = at::Tensor();
      v.mutable_grad() = at::Tensor();
      auto out = attention(backend, q, k, v, m, opts);
      out.backward(go);
      return std::vector<torch::Tensor>{out.detach().clone(), q.grad().clone(), k.grad().clone(), v.grad().clone()};
    };
    auto f = run("fused"), ref = run("math");
    for (size_t i = 0; i < 4; ++i) EXPECT_LT(rel_err(f[i], ref[i]), 2e-2) << name(r) << " tensor " << i;
  }
}

TEST(ModelsGpu, ForwardBackwardBf16Autocast) {
  SKIP_WITHOUT_CUDA();
  const torch::Device dev(torch::kCUDA);
  for (auto kind : {AttentionKind::kSoftmax, AttentionKind::kSigmoid})
    for (const std::string backend : {"math", "sdpa"}) {
      if (kind == AttentionKind::kSigmoid && backend == "sdpa") continue;
      ModelConfig c;
      c.vocab_size = 100;
      c.n_layer = 2;
      c.d_model = 128;
      c.n_head = 2;
      c.max_seq_len = 64;
      c.qk_norm = true;
      AttentionConfig a;
      a.kind = kind;
      a.backend = backend;
      torch::manual_seed(0);
      auto model = build_model(c, a);
      model->to(dev);
      auto tokens = torch::randint(0, 100, {4, 64}, torch::TensorOptions().device(dev).dtype(torch::kLong));
      auto fp32 = model->forward(tokens);
      at::Tensor logits;
      {
        at::autocast::set_autocast_enabled(at::kCUDA, true);
        at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
        logits = model->forward(tokens);
        at::autocast::set_autocast_enabled(at::kCUDA, false);
        at::autocast::clear_cache();
      }
      EXPECT_LT(rel_err(logits.to(torch::kFloat), fp32), 3e-2) << backend;
      logits.to(torch::kFloat).logsumexp(-1).mean().backward();
      for (const auto& p : model->named_parameters())
        EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    }
}

namespace {

// The model's outputs (float32) and every parameter's gradient of logsumexp(outputs).sum(), under bf16 autocast,
// with attention through `backend`.
std::vector<torch::Tensor> outputs_and_grads(Model& model, const ModelInputs& in, const std::string& backend) {
  model.set_attention_backend(backend);
  model.zero_grad();
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  auto logits = model.forward(in).to(torch::kFloat);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  logits.logsumexp(-1).sum().backward();
  std::vector<torch::Tensor> out{logits.detach()};
  for (const auto& p : model.parameters()) out.push_back(p.grad().clone());
  return out;
}

// A 2-layer, d 256 model with 4 heads of 64 (the fused kernels' head dim) and a vocabulary of 100.
ModelConfig two_layer_d256(PositionKind pos, int64_t n_kv_head, int64_t max_seq_len) {
  ModelConfig c;
  c.vocab_size = 100;
  c.n_layer = 2;
  c.d_model = 256;
  c.n_head = 4;
  c.n_kv_head = n_kv_head;
  c.max_seq_len = max_seq_len;
  c.positions = pos;
  return c;
}

// Sigmoid attention with the exact σ (the fused kernels' tanh form would add its own error), built on math.
AttentionConfig exact_sigmoid_via_math() {
  AttentionConfig a;
  a.kind = AttentionKind::kSigmoid;
  a.backend = "math";
  a.sigmoid_approx = SigmoidApprox::kExact;
  return a;
}

}  // namespace

TEST(ModelsGpu, FusedModelMatchesMathUnderAutocast) {
  SKIP_WITHOUT_CUDA();
  if (!fused_attention_built()) GTEST_SKIP() << "fused attention backend not built";
  const torch::Device dev(torch::kCUDA);
  for (auto pos : {PositionKind::kRope, PositionKind::kAlibi})
    for (auto arch : {Arch::kDecoder, Arch::kEncoder}) {
      ModelConfig c = two_layer_d256(pos, /*n_kv_head=*/2, /*max_seq_len=*/160);
      c.arch = arch;
      torch::manual_seed(0);
      auto model = build_model(c, exact_sigmoid_via_math());
      model->to(dev);
      auto lo = torch::TensorOptions().device(dev).dtype(torch::kLong);
      ModelInputs in{torch::randint(0, 100, {3, 150}, lo), {}, torch::tensor({150, 77, 1}, lo)};
      auto f = outputs_and_grads(*model, in, "fused"), m = outputs_and_grads(*model, in, "math");
      const std::string what = std::string(to_string(pos)) + " " + to_string(arch);
      EXPECT_LT(rel_err(f[0], m[0]), 2e-2) << what << " logits";
      double worst = 0;
      for (size_t i = 1; i < f.size(); ++i) worst = std::max(worst, rel_err(f[i], m[i]));
      EXPECT_LT(worst, 5e-2) << what << " worst gradient";
      std::cout << "[fused vs math] " << what << ": logits rel err " << rel_err(f[0], m[0])
                << ", worst grad rel err " << worst << "\n";
    }
}

// fused_ops.packed_qkv: a block without QK-norm and RoPE (learned positions, as GPT-2; ALiBi) hands the fused
// backend its qkv whole. The forward is bit-identical to the split path (the same kernel on the same views); the
// gradients agree up to the order of dQ's atomic adds, and both match the math backend.
TEST(ModelsGpu, FusedPackedQkvMatchesSplitQkv) {
  SKIP_WITHOUT_CUDA();
  if (!fused_attention_built()) GTEST_SKIP() << "fused attention backend not built";
  const torch::Device dev(torch::kCUDA);
  for (auto pos : {PositionKind::kLearned, PositionKind::kAlibi}) {
    ModelConfig c = two_layer_d256(pos, /*n_kv_head=*/pos == PositionKind::kAlibi ? 2 : 4, /*max_seq_len=*/300);
    c.qk_norm = false;
    torch::manual_seed(0);
    auto model = build_model(c, exact_sigmoid_via_math());
    model->to(dev);
    auto lo = torch::TensorOptions().device(dev).dtype(torch::kLong);
    ModelInputs in{torch::randint(0, 100, {3, 300}, lo), {}, torch::tensor({300, 177, 1}, lo)};
    FusedOps ops;
    auto split = outputs_and_grads(*model, in, "fused");
    ops.packed_qkv = true;
    model->set_fused_ops(ops);
    auto packed = outputs_and_grads(*model, in, "fused");
    ops.packed_qkv = false;
    model->set_fused_ops(ops);
    auto m = outputs_and_grads(*model, in, "math");
    const std::string what = to_string(pos);
    EXPECT_TRUE(torch::equal(packed[0], split[0])) << what << ": packed and split logits differ";
    double worst_split = 0, worst_math = 0;
    for (size_t i = 1; i < packed.size(); ++i) {
      worst_split = std::max(worst_split, rel_err(packed[i], split[i]));
      worst_math = std::max(worst_math, rel_err(packed[i], m[i]));
    }
    EXPECT_LT(worst_split, 1e-2) << what << " worst gradient, packed vs split";
    EXPECT_LT(worst_math, 5e-2) << what << " worst gradient, packed vs math";
    std::cout << "[packed qkv] " << what << ": worst grad rel err vs split " << worst_split << ", vs math "
              << worst_math << "\n";
  }
}

// The vision transformer with QK-norm (LayerNorm, which autocast runs in float32) through the fused kernels vs
// the math backend, bf16 autocast, forward and every gradient.
TEST(ModelsGpu, FusedVitMatchesMathUnderAutocast) {
  SKIP_WITHOUT_CUDA();
  if (!fused_attention_built()) GTEST_SKIP() << "fused attention backend not built";
  const torch::Device dev(torch::kCUDA);
  ModelConfig c;
  c.arch = Arch::kVit;
  c.n_layer = 2;
  c.d_model = 128;
  c.n_head = 2;  // head dim 64
  c.norm = NormKind::kLayerNorm;
  c.mlp = MlpKind::kGelu;
  c.bias = true;
  c.qk_norm = true;
  c.positions = PositionKind::kLearned;
  c.vision.image_size = 28;
  c.vision.patch_size = 4;
  c.vision.channels = 1;
  c.vision.num_classes = 10;
  torch::manual_seed(0);
  auto model = build_model(c, exact_sigmoid_via_math());
  model->to(dev);
  ModelInputs in;
  in.images = torch::randn({8, 1, 28, 28}, torch::TensorOptions().device(dev));
  auto f = outputs_and_grads(*model, in, "fused"), m = outputs_and_grads(*model, in, "math");
  EXPECT_LT(rel_err(f[0], m[0]), 2e-2) << "logits";
  double worst = 0;
  for (size_t i = 1; i < f.size(); ++i) worst = std::max(worst, rel_err(f[i], m[i]));
  EXPECT_LT(worst, 5e-2) << "worst gradient";
  std::cout << "[fused vs math] vit: logits rel err " << rel_err(f[0], m[0]) << ", worst grad rel err " << worst
            << "\n";
}
