// Attention backends against a float64 hand computation (explicit loops), and the backend registry.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "models/attention.h"
#include "tests/models/reference_attention.h"

using namespace sigtrain::models;
using sigtrain::models::testing::RefSpec;
using sigtrain::models::testing::reference_attention;
using sigtrain::models::testing::rel_err;
using sigtrain::models::testing::to_mask;
using sigtrain::models::testing::to_options;

namespace {

struct Case {
  int64_t B = 2, Tq = 5, Tk = 5, H = 4, Hkv = 4, D = 8;
  RefSpec spec;
  std::string name;
};

std::vector<double> float_values(torch::Tensor t) {
  t = t.to(torch::kFloat).to(torch::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

// Every combination of kind × causal × T_q≠T_k × padding × ALiBi × key bias × GQA.
std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (int kind = 0; kind < 2; ++kind)
    for (int causal = 0; causal < 2; ++causal)
      for (int rect = 0; rect < 3; ++rect)
        for (int pad = 0; pad < 2; ++pad)
          for (int alibi = 0; alibi < 2; ++alibi)
            for (int kbias = 0; kbias < 2; ++kbias)
              for (int gqa = 0; gqa < 2; ++gqa) {
                Case c;
                c.Tq = rect == 1 ? 3 : (rect == 2 ? 7 : 5);
                c.Tk = 5;
                c.Hkv = gqa ? 2 : 4;
                c.spec.kind = kind ? AttentionKind::kSigmoid : AttentionKind::kSoftmax;
                c.spec.causal = causal;
                if (pad) {
                  c.spec.len_k = {c.Tk, 2};
                  c.spec.len_q = {c.Tq, std::min<int64_t>(c.Tq, 3)};
                }
                if (alibi) c.spec.slopes = float_values(alibi_slopes(c.H));
                if (kbias) {
                  torch::manual_seed(7);
                  auto kb = torch::randn({c.B, c.Tk});
                  for (int64_t b = 0; b < c.B; ++b) c.spec.key_bias.push_back(float_values(kb[b]));
                }
                c.name = std::string(kind ? "sigmoid" : "softmax") + (causal ? " causal" : "") +
                         " Tq=" + std::to_string(c.Tq) + (pad ? " padded" : "") + (alibi ? " alibi" : "") +
                         (kbias ? " key_bias" : "") + (gqa ? " gqa" : "");
                cases.push_back(c);
              }
  return cases;
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> random_qkv(const Case& c, torch::Dtype dt,
                                                                   torch::Device dev = torch::kCPU) {
  torch::manual_seed(1234);
  auto o = torch::TensorOptions().dtype(dt).device(dev);
  return {torch::randn({c.B, c.Tq, c.H, c.D}, o), torch::randn({c.B, c.Tk, c.Hkv, c.D}, o),
          torch::randn({c.B, c.Tk, c.Hkv, c.D}, o)};
}

}  // namespace

TEST(Attention, MathMatchesFloat64HandComputation) {
  for (const Case& c : all_cases()) {
    auto [q, k, v] = random_qkv(c, torch::kDouble);
    auto ref = reference_attention(q, k, v, c.spec);
    auto out = math_attention(q, k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec));
    ASSERT_EQ(out.sizes(), ref.sizes()) << c.name;
    EXPECT_LT((out - ref).abs().max().item<double>(), 1e-12) << c.name;
  }
}

TEST(Attention, MathFloat32CloseToReference) {
  for (const Case& c : all_cases()) {
    auto [q, k, v] = random_qkv(c, torch::kFloat);
    auto ref = reference_attention(q, k, v, c.spec);
    auto out = math_attention(q, k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec));
    EXPECT_LT(rel_err(out, ref), 1e-5) << c.name;
  }
}

TEST(Attention, SigmoidBiasModes) {
  Case c;
  auto [q, k, v] = random_qkv(c, torch::kDouble);
  for (double b : {0.0, -3.5, 2.0}) {
    c.spec.neg_log_n = false;
    c.spec.bias_value = b;
    auto ref = reference_attention(q, k, v, c.spec);
    auto out = math_attention(q, k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec));
    EXPECT_LT((out - ref).abs().max().item<double>(), 1e-12) << "b=" << b;
  }
  // −log n with n = valid keys per sequence: with q = k = 0 every P entry is σ(−log n) = 1/(1+n).
  c.spec = RefSpec{};
  c.spec.len_k = {5, 3};
  c.spec.len_q = {5, 3};
  auto zeros_q = torch::zeros_like(q), zeros_k = torch::zeros_like(k);
  torch::Tensor P;
  math_attention(zeros_q, zeros_k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec), &P);
  EXPECT_NEAR(P[0][0][0][0].item<double>(), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(P[1][0][0][0].item<double>(), 1.0 / 4.0, 1e-12);
  EXPECT_EQ(P[1][0][0][3].item<double>(), 0.0);  // padded key
  // Causal keeps n = the sequence's key count (not the row's visible count).
  c.spec.causal = true;
  math_attention(zeros_q, zeros_k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec), &P);
  EXPECT_NEAR(P[0][0][0][0].item<double>(), 1.0 / 6.0, 1e-12);
  EXPECT_EQ(P[0][0][0][1].item<double>(), 0.0);
}

TEST(Attention, FullyMaskedRowsAreZeroWithFiniteGradients) {
  for (auto kind : {AttentionKind::kSoftmax, AttentionKind::kSigmoid}) {
    for (const std::string backend : {"math", "sdpa"}) {
      if (backend == "sdpa" && kind == AttentionKind::kSigmoid) continue;
      Case c;
      c.spec.kind = kind;
      c.spec.len_k = {0, 3};  // sequence 0 has no keys at all
      c.spec.len_q = {5, 2};  // sequence 1: rows 2.. are padding
      c.spec.causal = true;
      auto [q, k, v] = random_qkv(c, torch::kFloat);
      q.requires_grad_(true);
      k.requires_grad_(true);
      v.requires_grad_(true);
      auto out = attention(backend, q, k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec));
      EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << backend;
      EXPECT_EQ(out[0].abs().max().item<float>(), 0.f) << backend;
      EXPECT_EQ(out[1].narrow(0, 2, 3).abs().max().item<float>(), 0.f) << backend;
      auto ref = reference_attention(q.detach(), k.detach(), v.detach(), c.spec);
      EXPECT_LT(rel_err(out.detach(), ref), 1e-5) << backend;
      out.pow(2).sum().backward();
      for (auto* t : {&q, &k, &v}) EXPECT_TRUE(torch::isfinite(t->grad()).all().item<bool>()) << backend;
      EXPECT_EQ(q.grad()[0].abs().max().item<float>(), 0.f);
    }
  }
}

TEST(Attention, SdpaMatchesMathForSoftmax) {
  for (const Case& c : all_cases()) {
    if (c.spec.kind != AttentionKind::kSoftmax) continue;
    auto [q, k, v] = random_qkv(c, torch::kFloat);
    auto m = to_mask(c.spec, torch::kCPU);
    auto o = to_options(c.spec);
    auto a = sdpa_attention(q, k, v, m, o);
    auto b = math_attention(q, k, v, m, o);
    EXPECT_LT(rel_err(a, b), 1e-5) << c.name;
  }
}

namespace {

// {output, dq, dk, dv} of Σ output² through `backend`, float64 inputs of case c.
std::vector<torch::Tensor> output_and_grads(const Case& c, const std::string& backend) {
  auto [q, k, v] = random_qkv(c, torch::kDouble);
  q.requires_grad_(true);
  k.requires_grad_(true);
  v.requires_grad_(true);
  auto out = attention(backend, q, k, v, to_mask(c.spec, torch::kCPU), to_options(c.spec));
  out.pow(2).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

}  // namespace

// Key padding alone (padded cells, utterances) takes SDPA's broadcast [B, 1, 1, T_k] mask: the same outputs and
// gradients as the math path, a sequence without keys included (zero output, finite zero gradients).
TEST(Attention, SdpaKeyPaddingOnlyMatchesMath) {
  Case c;
  c.B = 3;
  c.spec.kind = AttentionKind::kSoftmax;
  c.spec.len_k = {5, 2, 0};
  c.Hkv = 2;
  EXPECT_FALSE(to_mask(c.spec, torch::kCPU).query_lengths.defined());
  auto a = output_and_grads(c, "sdpa"), b = output_and_grads(c, "math");
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(a[i]).all().item<bool>()) << i;
    EXPECT_LT(rel_err(a[i], b[i]), 1e-10) << i;
  }
  EXPECT_EQ(a[0][2].abs().max().item<double>(), 0.0) << "no keys: zero output";
}

TEST(Attention, SdpaGradientsMatchMath) {
  Case c;
  c.spec.kind = AttentionKind::kSoftmax;
  c.spec.causal = true;
  c.spec.len_k = c.spec.len_q = {5, 3};
  c.Hkv = 2;
  auto a = output_and_grads(c, "sdpa"), b = output_and_grads(c, "math");
  for (size_t i = 1; i < 4; ++i) EXPECT_LT(rel_err(a[i], b[i]), 1e-10) << i;  // dq, dk, dv
}

TEST(Attention, AlibiSlopes) {
  auto s8 = alibi_slopes(8);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h].item<float>(), std::pow(2.0f, -(h + 1.0f)));
  // H = 12: the 8 slopes of H = 8, then every other slope of H = 16 (2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5).
  auto s12 = alibi_slopes(12);
  ASSERT_EQ(s12.size(0), 12);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s12[h].item<float>(), s8[h].item<float>());
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(s12[8 + i].item<float>(), std::pow(2.0f, -(0.5f + i)));
}

TEST(Attention, AlibiIsFullFormForSigmoid) {
  // With q = k = 0 and b = 0, P_ij = σ(−m·|i−j|): the diagonal is exactly 1/2 and entries fall off both ways.
  Case c;
  c.B = 1;
  c.spec.neg_log_n = false;
  c.spec.slopes = float_values(alibi_slopes(c.H));
  auto [q, k, v] = random_qkv(c, torch::kDouble);
  torch::Tensor P;
  math_attention(torch::zeros_like(q), torch::zeros_like(k), v, to_mask(c.spec, torch::kCPU), to_options(c.spec),
                 &P);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(P[0][0][i][i].item<double>(), 0.5);
  const double m = c.spec.slopes[0];
  EXPECT_NEAR(P[0][0][1][3].item<double>(), 1.0 / (1.0 + std::exp(2 * m)), 1e-12);
  EXPECT_NEAR(P[0][0][3][1].item<double>(), 1.0 / (1.0 + std::exp(2 * m)), 1e-12);
}

TEST(Attention, RegistryAndErrors) {
  EXPECT_TRUE(has_attention_backend("math"));
  EXPECT_TRUE(has_attention_backend("sdpa"));
  Case c;
  auto [q, k, v] = random_qkv(c, torch::kFloat);
  AttentionOptions o;
  o.kind = AttentionKind::kSigmoid;
  try {
    attention("sdpa", q, k, v, {}, o);
    FAIL() << "sdpa accepted sigmoid";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("sdpa supports only kind: softmax"), std::string::npos) << e.what();
  }
  try {
    attention("fused", q, k, v, {}, o);  // CPU tensors: never a silent fallback
    FAIL() << "fused accepted CPU tensors";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("attention.backend: fused needs a CUDA build"), std::string::npos)
        << e.what();
  }
  try {
    attention("nope", q, k, v, {}, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown backend 'nope'"), std::string::npos) << e.what();
  }
  // A registered backend is used by name.
  register_attention_backend("test_zero", [](const at::Tensor& q, const at::Tensor&, const at::Tensor&,
                                             const AttentionMask&, const AttentionOptions&) { return q * 0; });
  EXPECT_EQ(attention("test_zero", q, k, v, {}, o).abs().sum().item<float>(), 0.f);
}

TEST(Attention, StatsMatchDirectComputation) {
  Case c;
  c.spec.causal = true;
  c.spec.len_k = c.spec.len_q = {5, 3};
  auto [q, k, v] = random_qkv(c, torch::kDouble);
  auto m = to_mask(c.spec, torch::kCPU);
  auto o = to_options(c.spec);
  torch::Tensor P;
  auto out = math_attention(q, k, v, m, o, &P);  // P [B, H, Tq, Tk]
  auto st = compute_attention_stats(q, k, v, m, o, /*max_batch=*/2);
  ASSERT_TRUE(st.valid);
  EXPECT_EQ(st.sampled_batch, 2);
  // Direct: valid rows are (b=0: all 5), (b=1: rows 0..2).
  double mass_sum = 0, mass_max = 0, pv_sum = 0, max_logit = 0;
  int rows = 0;
  const double scale = 1.0 / std::sqrt(8.0);
  for (int b = 0; b < 2; ++b) {
    const int L = b == 0 ? 5 : 3;
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < L; ++i) {
        double mass = P[b][h][i].sum().item<double>();
        mass_sum += mass;
        mass_max = std::max(mass_max, mass);
        pv_sum += out[b][i][h].norm().item<double>();
        ++rows;
        for (int j = 0; j <= i; ++j) {
          double s = scale * (q[b][i][h] * k[b][j][h]).sum().item<double>() - std::log(double(L));
          max_logit = std::max(max_logit, std::abs(s));
        }
      }
  }
  EXPECT_NEAR(st.row_mass_mean.item<double>(), mass_sum / rows, 1e-5);
  EXPECT_NEAR(st.row_mass_max.item<double>(), mass_max, 1e-5);
  EXPECT_NEAR(st.pv_norm.item<double>(), pv_sum / rows, 1e-5);
  EXPECT_NEAR(st.max_abs_logit.item<double>(), max_logit, 1e-5);
  // Sub-batch sampling.
  EXPECT_EQ(compute_attention_stats(q, k, v, m, o, 1).sampled_batch, 1);
}
