// The fused ops (models/fused_ops.h) against LibTorch in float64 on the GPU. Skips without CUDA.
// Cross-entropy: loss and gradient for bf16 / fp16 / fp32 logits, vectorised and scalar paths (vocab with a tail,
// strided rows), small and large vocabularies, ignored rows, per-row upstream gradients, bad targets.
// Tolerances: the loss is an fp32 sum of fp32 row losses computed from the exact input values: relative 1e-5
// against float64. The gradient is rounded to the logits' dtype: max error ≤ 1 ulp of that dtype at the
// gradient's scale (bf16: 2^-8 relative to max|dx|), plus fp32 arithmetic.
// Norms: LayerNorm (with and without bias) and RMSNorm, fp32 → bf16 / fp16 / fp32 and bf16 → bf16, the model
// dims (64 … 2048): y within one rounding of the output dtype (relative to max|y|), dx within fp32 arithmetic
// plus the input's rounding of dy, dγ / dβ (sums over rows) within 1e-4 relative.
// Add + norm (the residual add fused in): s and y against float64 of the same inputs, dx (= ds, the two incoming
// gradients summed) and ddelta (its cast) within the norm's dx tolerance plus the rounding of delta's dtype, with
// and without a gradient reaching s; the transformer stack with fused_ops.add_norm on against off under autocast,
// bit for bit. With the branch's bias added in the kernel (fused_ops.residual_bias): s against float64 of x + (delta
// + bias), the bias' gradient (Σ ds) within the dβ tolerance; the stack with residual_bias on (and with fused_ops.rope
// on) no further from float64 than 1.5× the error of the stack without it plus 2^-10 of the gradient's scale (the
// bias is added to the branch in fp32 instead of the GEMM's bf16 output: not bit for bit).
// GELU MLP (cuBLASLt epilogues): output and all five gradients against float64 and beside LibTorch's autocast
// path (tolerances at the FusedMlp tests), bit-for-bit repeats, the module under autocast, the fallbacks.
// Linear (fp32 weight-gradient GEMM, column-sum bias gradient): y and dx beside autocast's, dW and db in fp32 against
// float64, the fallbacks.
// RoPE (kernels/rope_kernel.h): y and the backward's dx against float64 of the same bf16 / fp16 / fp32 inputs within
// one rounding of the dtype at the tensor's scale, and no further from float64 than LibTorch's composite (which
// rounds four times and uses bf16 tables); a strided view of a packed qkv tensor; the cases it does not take.
// Weight copies (models/weight_casts.h): the linear layer and the MLP reading them, bit for bit the ops casting their
// own weights. (The bias-gradient kernel itself: tests/kernels/test_bias_grad.cu.)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include <ATen/autocast_mode.h>
#include <c10/cuda/CUDACachingAllocator.h>

#include "models/cross_entropy.h"
#include "models/fused_ops.h"
#include "models/linear_fused.h"
#include "models/mlp_fused.h"
#include "models/model.h"
#include "models/norm_fused.h"
#include "models/rope_fused.h"
#include "models/transformer.h"
#include "models/weight_casts.h"

using namespace sigtrain::models;

namespace {
// CUDA's default autocast dtype is fp16: every test that autocasts sets bf16 itself, so none depends on another's.
void enable_bf16_autocast() {
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}
}  // namespace

#define SKIP_WITHOUT_FUSED_CUDA()                                              \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";          \
  if (!fused_ops_built()) GTEST_SKIP() << "this build has no fused kernels"

namespace {

constexpr int64_t kIgnore = -100;

struct Case {
  int64_t rows, vocab;
  at::ScalarType dtype;
  int64_t pad_cols;  // > 0: logits are the first `vocab` columns of a wider tensor (strided rows)
};

double grad_tolerance(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? std::ldexp(1.0, -7) : dtype == at::kHalf ? std::ldexp(1.0, -10) : 1e-6;
}

void check_case(const Case& c) {
  SCOPED_TRACE("rows " + std::to_string(c.rows) + " vocab " + std::to_string(c.vocab) + " dtype " +
               std::string(c10::toString(c.dtype)) + " pad " + std::to_string(c.pad_cols));
  torch::manual_seed(7);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor wide = (torch::randn({c.rows, c.vocab + c.pad_cols}, cuda) * 3.0).to(c.dtype);
  at::Tensor logits = wide.narrow(1, 0, c.vocab);
  at::Tensor targets = torch::randint(0, c.vocab, {c.rows}, cuda.dtype(torch::kLong));
  targets.masked_fill_(torch::rand({c.rows}, cuda) < 0.2, kIgnore);  // ~20 % ignored rows
  const at::Tensor upstream = torch::rand({c.rows}, cuda.dtype(torch::kDouble)) + 0.5;  // per-row weights

  // Reference: float64 LibTorch on the same (rounded) values.
  at::Tensor ref_in = logits.to(torch::kDouble).detach().requires_grad_(true);
  at::Tensor ref_rows = torch::nn::functional::cross_entropy(
      ref_in, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone).ignore_index(kIgnore));
  (ref_rows * upstream).sum().backward();

  at::Tensor in = logits.detach().requires_grad_(true);
  at::Tensor rows = fused_cross_entropy_rows(in, targets, kIgnore);
  ASSERT_EQ(rows.scalar_type(), torch::kFloat);
  (rows * upstream.to(torch::kFloat)).sum().backward();
  ASSERT_TRUE(in.grad().defined());
  EXPECT_EQ(in.grad().scalar_type(), c.dtype);

  const double row_err = (rows.to(torch::kDouble) - ref_rows).abs().max().item<double>();
  EXPECT_LT(row_err, 1e-5 * std::max(1.0, ref_rows.abs().max().item<double>())) << "per-row loss";
  const at::Tensor ref_grad = ref_in.grad();
  const double scale = ref_grad.abs().max().item<double>();
  const double grad_err = (in.grad().to(torch::kDouble) - ref_grad).abs().max().item<double>();
  EXPECT_LE(grad_err, grad_tolerance(c.dtype) * scale + 1e-7) << "gradient";
  // Ignored rows: zero loss and zero gradient, exactly.
  const at::Tensor ignored = targets == kIgnore;
  EXPECT_EQ(rows.masked_select(ignored).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(in.grad().index({ignored}).abs().sum().item<double>(), 0.0);
}

}  // namespace

TEST(FusedCrossEntropy, Bf16LargeVocabVectorised) { SKIP_WITHOUT_FUSED_CUDA(); check_case({67, 50304, at::kBFloat16, 0}); }
TEST(FusedCrossEntropy, Bf16VocabWithTail) { SKIP_WITHOUT_FUSED_CUDA(); check_case({33, 8193, at::kBFloat16, 7}); }
TEST(FusedCrossEntropy, Fp16StridedRows) { SKIP_WITHOUT_FUSED_CUDA(); check_case({40, 4099, at::kHalf, 5}); }
TEST(FusedCrossEntropy, Fp32SmallVocab) { SKIP_WITHOUT_FUSED_CUDA(); check_case({257, 10, at::kFloat, 0}); }
TEST(FusedCrossEntropy, Bf16SmallVocabScalarPath) { SKIP_WITHOUT_FUSED_CUDA(); check_case({130, 51, at::kBFloat16, 3}); }
TEST(FusedCrossEntropy, Fp32LargeVocab) { SKIP_WITHOUT_FUSED_CUDA(); check_case({9, 50257, at::kFloat, 0}); }

TEST(FusedCrossEntropy, SumMatchesLibTorchPathUnderAutocastShapes) {
  SKIP_WITHOUT_FUSED_CUDA();
  torch::manual_seed(3);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor logits = (torch::randn({2, 64, 1000}, cuda) * 2).to(torch::kBFloat16);
  at::Tensor targets = torch::randint(0, 1000, {2, 64}, cuda.dtype(torch::kLong));
  targets.index_put_({0, torch::indexing::Slice(0, 5)}, kIgnore);
  at::Tensor a = logits.detach().requires_grad_(true), b = logits.detach().requires_grad_(true);
  at::Tensor fused = cross_entropy_sum(a, targets, kIgnore, /*fused=*/true);
  at::Tensor plain = cross_entropy_sum(b, targets, kIgnore, /*fused=*/false);
  EXPECT_EQ(fused.dim(), 0);
  EXPECT_NEAR(fused.item<double>(), plain.item<double>(), 1e-5 * std::abs(plain.item<double>()));
  fused.backward();
  plain.backward();
  const double scale = b.grad().to(torch::kDouble).abs().max().item<double>();
  EXPECT_LE((a.grad().to(torch::kDouble) - b.grad().to(torch::kDouble)).abs().max().item<double>(),
            2 * grad_tolerance(at::kBFloat16) * scale);
}

TEST(FusedCrossEntropy, OutOfRangeTargetGivesNaNNotACrash) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor logits = torch::randn({4, 100}, cuda).requires_grad_(true);
  at::Tensor targets = torch::tensor({int64_t{1}, int64_t{100}, int64_t{-3}, kIgnore}, cuda.dtype(torch::kLong));
  at::Tensor rows = fused_cross_entropy_rows(logits, targets, kIgnore);
  rows.sum().backward();
  auto host = rows.cpu();
  EXPECT_TRUE(std::isfinite(host[0].item<float>()));
  EXPECT_TRUE(std::isnan(host[1].item<float>()));
  EXPECT_TRUE(std::isnan(host[2].item<float>()));
  EXPECT_EQ(host[3].item<float>(), 0.f);
  EXPECT_TRUE(torch::isnan(logits.grad()[1]).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(logits.grad()[0]).all().item<bool>());
}

TEST(FusedCrossEntropy, AllRowsIgnored) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor logits = torch::randn({8, 300}, cuda).to(torch::kBFloat16).requires_grad_(true);
  at::Tensor targets = torch::full({8}, kIgnore, cuda.dtype(torch::kLong));
  at::Tensor sum = cross_entropy_sum(logits, targets, kIgnore, true);
  sum.backward();
  EXPECT_EQ(sum.item<double>(), 0.0);
  EXPECT_EQ(logits.grad().abs().sum().item<double>(), 0.0);
}

namespace {

struct NormCase {
  int64_t rows, dim;
  at::ScalarType x_dtype, y_dtype;
  bool rms, bias;
};

double rounding(at::ScalarType t) {
  return t == at::kBFloat16 ? std::ldexp(1.0, -8) : t == at::kHalf ? std::ldexp(1.0, -11) : 1e-6;
}

void check_norm(const NormCase& c) {
  SCOPED_TRACE("rows " + std::to_string(c.rows) + " dim " + std::to_string(c.dim) + " x " +
               std::string(c10::toString(c.x_dtype)) + " y " + std::string(c10::toString(c.y_dtype)) +
               (c.rms ? " rms" : " layernorm") + (c.bias ? " bias" : ""));
  torch::manual_seed(11);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = (torch::randn({c.rows, c.dim}, cuda) * 2 + 0.5).to(c.x_dtype);
  at::Tensor w = torch::rand({c.dim}, cuda) + 0.5, b = c.bias ? torch::randn({c.dim}, cuda) : at::Tensor();
  at::Tensor dy = torch::randn({c.rows, c.dim}, cuda).to(c.y_dtype);  // the upstream gradient, in y's dtype
  ASSERT_TRUE(fused_norm_applicable(x, w));

  at::Tensor xd = x.to(torch::kDouble).requires_grad_(true), wd = w.to(torch::kDouble).requires_grad_(true);
  at::Tensor bd = c.bias ? b.to(torch::kDouble).requires_grad_(true) : at::Tensor();
  at::Tensor ref = c.rms ? at::rms_norm(xd, {c.dim}, wd, 1e-5) : at::layer_norm(xd, {c.dim}, wd, bd, 1e-5);
  (ref * dy.to(torch::kDouble)).sum().backward();

  at::Tensor xf = x.detach().requires_grad_(true), wf = w.detach().requires_grad_(true);
  at::Tensor bf = c.bias ? b.detach().requires_grad_(true) : at::Tensor();
  at::Tensor y = fused_norm(xf, wf, bf, 1e-5, c.rms, c.y_dtype);
  ASSERT_EQ(y.scalar_type(), c.y_dtype);
  (y.to(torch::kDouble) * dy.to(torch::kDouble)).sum().backward();
  EXPECT_EQ(xf.grad().scalar_type(), c.x_dtype);

  auto max_err = [](const at::Tensor& a, const at::Tensor& r) { return (a.to(torch::kDouble) - r).abs().max().item<double>(); };
  auto max_abs = [](const at::Tensor& r) { return r.abs().max().item<double>(); };
  EXPECT_LE(max_err(y, ref.detach()), 1.01 * rounding(c.y_dtype) * max_abs(ref) + 1e-6) << "y";
  EXPECT_LE(max_err(xf.grad(), xd.grad()), (2 * rounding(c.x_dtype) + 1e-5) * max_abs(xd.grad())) << "dx";
  EXPECT_LE(max_err(wf.grad(), wd.grad()), 1e-4 * max_abs(wd.grad()) + 1e-6) << "dgamma";
  if (c.bias) EXPECT_LE(max_err(bf.grad(), bd.grad()), 1e-4 * max_abs(bd.grad()) + 1e-6) << "dbeta";
}

}  // namespace

TEST(FusedNorm, LayerNormFp32IntoBf16AtGpt2Width) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_norm({4099, 768, at::kFloat, at::kBFloat16, false, true});
}
TEST(FusedNorm, LayerNormFp32NoBiasWide) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({37, 2048, at::kFloat, at::kFloat, false, false}); }
TEST(FusedNorm, LayerNormFp32IntoFp16) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({300, 1024, at::kFloat, at::kHalf, false, true}); }
TEST(FusedNorm, RmsNormBf16HeadDim) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({5000, 64, at::kBFloat16, at::kBFloat16, true, false}); }
TEST(FusedNorm, RmsNormFp32IntoBf16OddWidth) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({3, 196, at::kFloat, at::kBFloat16, true, false}); }
TEST(FusedNorm, LayerNormFp32IntoBf16Wide) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({1100, 1536, at::kFloat, at::kBFloat16, false, true}); }
TEST(FusedNorm, LayerNormFp16Small) { SKIP_WITHOUT_FUSED_CUDA(); check_norm({129, 384, at::kHalf, at::kHalf, false, true}); }

TEST(FusedNorm, NormModuleUnderAutocastMatchesLibTorchPath) {
  SKIP_WITHOUT_FUSED_CUDA();
  for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRMSNorm}) {
    Norm plain(kind, 256, 1e-5, true), fused(kind, 256, 1e-5, true);
    plain.to(torch::kCUDA);
    fused.to(torch::kCUDA);
    fused.fused = true;
    at::Tensor x = torch::randn({4, 50, 256}, torch::TensorOptions().device(torch::kCUDA));
    at::Tensor yp, yf;
    {
      enable_bf16_autocast();
      yp = plain.forward(x);
      yf = fused.forward(x);
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
    EXPECT_EQ(yf.scalar_type(), at::kBFloat16) << "the autocast dtype, written by the kernel";
    EXPECT_LE((yf.to(torch::kFloat) - yp.to(torch::kFloat)).abs().max().item<double>(),
              1.01 * rounding(at::kBFloat16) * yp.abs().max().item<double>());
  }
}

TEST(FusedNorm, UnsupportedInputsFallBackToLibTorch) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor w = torch::ones({64}, cuda);
  EXPECT_FALSE(fused_norm_applicable(torch::randn({8, 64}, cuda).t().contiguous().t(), w)) << "non-contiguous";
  EXPECT_FALSE(fused_norm_applicable(torch::randn({8, 66}, cuda), torch::ones({66}, cuda))) << "dim % 4";
  EXPECT_FALSE(fused_norm_applicable(torch::randn({8, 4100}, cuda), torch::ones({4100}, cuda))) << "dim > 2048";
  EXPECT_FALSE(fused_norm_applicable(torch::randn({8, 64}, cuda), w.to(torch::kBFloat16))) << "bf16 weight";
  EXPECT_FALSE(fused_norm_applicable(torch::randn({8, 64}), torch::ones({64}))) << "CPU";
  Norm norm(NormKind::kLayerNorm, 66, 1e-5, true);
  norm.to(torch::kCUDA);
  norm.fused = true;
  at::Tensor x = torch::randn({3, 66}, cuda);
  EXPECT_TRUE(torch::allclose(norm.forward(x), at::layer_norm(x, {66}, norm.weight, norm.bias, 1e-5)));
}

namespace {

struct AddNormCase {
  int64_t rows, dim;
  at::ScalarType x_dtype, y_dtype;  // delta is in y's dtype (a sub-layer's output under autocast)
  bool rms, bias, grad_to_sum;      // grad_to_sum: the rest of the stream also uses s
  bool delta_bias = false;          // the branch's output bias added in the kernel (fused_ops.residual_bias)
};

void check_add_norm(const AddNormCase& c) {
  SCOPED_TRACE("rows " + std::to_string(c.rows) + " dim " + std::to_string(c.dim) + " x " +
               std::string(c10::toString(c.x_dtype)) + " y " + std::string(c10::toString(c.y_dtype)) +
               (c.rms ? " rms" : " layernorm") + (c.bias ? " bias" : "") + (c.grad_to_sum ? " ds" : "") +
               (c.delta_bias ? " delta_bias" : ""));
  torch::manual_seed(12);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = (torch::randn({c.rows, c.dim}, cuda) * 2 + 0.5).to(c.x_dtype);
  at::Tensor delta = torch::randn({c.rows, c.dim}, cuda).to(c.y_dtype);
  at::Tensor w = torch::rand({c.dim}, cuda) + 0.5, b = c.bias ? torch::randn({c.dim}, cuda) : at::Tensor();
  at::Tensor dy = torch::randn({c.rows, c.dim}, cuda).to(c.y_dtype);
  at::Tensor ds = torch::randn({c.rows, c.dim}, cuda).to(c.x_dtype);  // what reaches s from the stream
  at::Tensor db = c.delta_bias ? torch::randn({c.dim}, cuda) : at::Tensor();
  ASSERT_TRUE(fused_add_norm_applicable(x, delta, w, c.y_dtype));

  // Reference: float64 of the sum as the kernel forms it (rounded to x's dtype, as the unfused add's output would
  // be; the rounding passes the gradient straight through), then the norm.
  at::Tensor xd = x.to(torch::kDouble).requires_grad_(true), dd = delta.to(torch::kDouble).requires_grad_(true);
  at::Tensor wd = w.to(torch::kDouble).requires_grad_(true);
  at::Tensor bd = c.bias ? b.to(torch::kDouble).requires_grad_(true) : at::Tensor();
  at::Tensor dbd = c.delta_bias ? db.to(torch::kDouble).requires_grad_(true) : at::Tensor();
  const at::Tensor exact_sum = c.delta_bias ? xd + (dd + dbd) : xd + dd;
  // With the branch's bias the kernel forms x + (delta + b) in fp32 (two roundings) before x's dtype: for a bf16 x
  // that can differ by one bf16 rounding from the exact sum's (measured on an H100: 2^-9 at one element), so the
  // reference takes the fp32-formed value, a chain of IEEE fp32 adds that the kernel's must equal.
  const at::Tensor formed_sum =
      c.delta_bias ? (x.to(torch::kFloat) + (delta.to(torch::kFloat) + db)).to(c.x_dtype).to(torch::kDouble)
                   : exact_sum.detach().to(c.x_dtype).to(torch::kDouble);
  at::Tensor sd = exact_sum + (formed_sum - exact_sum.detach());
  at::Tensor ref = c.rms ? at::rms_norm(sd, {c.dim}, wd, 1e-5) : at::layer_norm(sd, {c.dim}, wd, bd, 1e-5);
  at::Tensor ref_loss = (ref * dy.to(torch::kDouble)).sum();
  if (c.grad_to_sum) ref_loss = ref_loss + (sd * ds.to(torch::kDouble)).sum();
  ref_loss.backward();

  at::Tensor xf = x.detach().requires_grad_(true), df = delta.detach().requires_grad_(true);
  at::Tensor wf = w.detach().requires_grad_(true), bf = c.bias ? b.detach().requires_grad_(true) : at::Tensor();
  at::Tensor dbf = c.delta_bias ? db.detach().requires_grad_(true) : at::Tensor();
  auto [s, y] = fused_add_norm(xf, df, wf, bf, 1e-5, c.rms, c.y_dtype, dbf);
  ASSERT_EQ(s.scalar_type(), c.x_dtype);
  ASSERT_EQ(y.scalar_type(), c.y_dtype);
  at::Tensor loss = (y.to(torch::kDouble) * dy.to(torch::kDouble)).sum();
  if (c.grad_to_sum) loss = loss + (s.to(torch::kDouble) * ds.to(torch::kDouble)).sum();
  loss.backward();
  EXPECT_EQ(xf.grad().scalar_type(), c.x_dtype);
  EXPECT_EQ(df.grad().scalar_type(), c.y_dtype);

  auto max_err = [](const at::Tensor& a, const at::Tensor& r) { return (a.to(torch::kDouble) - r).abs().max().item<double>(); };
  auto max_abs = [](const at::Tensor& r) { return r.abs().max().item<double>(); };
  EXPECT_LE(max_err(s, sd.detach()), 1e-6 * max_abs(sd)) << "s";
  EXPECT_LE(max_err(y, ref.detach()), 1.01 * rounding(c.y_dtype) * max_abs(ref) + 1e-6) << "y";
  const double dx_tol = (2 * rounding(c.x_dtype) + 1e-5) * max_abs(xd.grad());
  EXPECT_LE(max_err(xf.grad(), xd.grad()), dx_tol) << "dx";
  EXPECT_LE(max_err(df.grad(), dd.grad()), dx_tol + rounding(c.y_dtype) * max_abs(dd.grad())) << "ddelta";
  EXPECT_LE(max_err(wf.grad(), wd.grad()), 1e-4 * max_abs(wd.grad()) + 1e-6) << "dgamma";
  if (c.bias) EXPECT_LE(max_err(bf.grad(), bd.grad()), 1e-4 * max_abs(bd.grad()) + 1e-6) << "dbeta";
  if (c.delta_bias) {
    ASSERT_TRUE(dbf.grad().defined());
    EXPECT_EQ(dbf.grad().scalar_type(), at::kFloat);
    // Σ over rows of ds, from the fp32 values before their cast: the dβ tolerance (a sum over rows in fp32).
    EXPECT_LE(max_err(dbf.grad(), dbd.grad()), 1e-4 * max_abs(dbd.grad()) + 1e-6) << "ddelta_bias";
  }
  if (c.delta_bias) {
    ASSERT_TRUE(dbf.grad().defined());
    EXPECT_EQ(dbf.grad().scalar_type(), at::kFloat);
    // Σ over rows of ds, from the fp32 values before their cast: the dβ tolerance (a sum over rows in fp32).
    EXPECT_LE(max_err(dbf.grad(), dbd.grad()), 1e-4 * max_abs(dbd.grad()) + 1e-6) << "ddelta_bias";
  }
}

}  // namespace

TEST(FusedAddNorm, LayerNormFp32StreamBf16BranchAtGpt2Width) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_add_norm({4099, 768, at::kFloat, at::kBFloat16, false, true, true});
}
TEST(FusedAddNorm, LayerNormWithoutGradientToTheSum) {
  SKIP_WITHOUT_FUSED_CUDA();  // the final norm: nothing after it reads the stream
  check_add_norm({300, 768, at::kFloat, at::kBFloat16, false, true, false});
}
TEST(FusedAddNorm, RmsNormFp32IntoFp16) { SKIP_WITHOUT_FUSED_CUDA(); check_add_norm({129, 1024, at::kFloat, at::kHalf, true, false, true}); }
TEST(FusedAddNorm, LayerNormAllFp32) { SKIP_WITHOUT_FUSED_CUDA(); check_add_norm({77, 384, at::kFloat, at::kFloat, false, false, true}); }
TEST(FusedAddNorm, RmsNormAllBf16Wide) { SKIP_WITHOUT_FUSED_CUDA(); check_add_norm({50, 2048, at::kBFloat16, at::kBFloat16, true, false, true}); }
TEST(FusedAddNorm, BranchBiasAtGpt2Width) {
  SKIP_WITHOUT_FUSED_CUDA();  // 4099 rows: every one of the 264 blocks visits several rows, some one more
  check_add_norm({4099, 768, at::kFloat, at::kBFloat16, false, true, true, /*delta_bias=*/true});
}
TEST(FusedAddNorm, BranchBiasWithoutGradientToTheSum) {
  SKIP_WITHOUT_FUSED_CUDA();  // the final norm after a deferred MLP bias
  check_add_norm({300, 768, at::kFloat, at::kBFloat16, false, true, false, /*delta_bias=*/true});
}
TEST(FusedAddNorm, BranchBiasRmsNormBf16Wide) {
  SKIP_WITHOUT_FUSED_CUDA();  // dim 2048: the 4-warp backward blocks
  check_add_norm({50, 2048, at::kBFloat16, at::kBFloat16, true, false, true, /*delta_bias=*/true});
}
TEST(FusedAddNorm, BranchBiasFp32IntoFp16AtEncoderWidth) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_add_norm({1000, 1024, at::kFloat, at::kHalf, false, true, true, /*delta_bias=*/true});
}

TEST(FusedAddNorm, NotApplicableFallsBackToTheUnfusedAdd) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = torch::randn({8, 64}, cuda), w = torch::ones({64}, cuda);
  EXPECT_FALSE(fused_add_norm_applicable(x, torch::randn({8, 64}, cuda), w, at::kBFloat16)) << "fp32 delta, bf16 y";
  EXPECT_FALSE(fused_add_norm_applicable(x, torch::randn({1, 64}, cuda).to(at::kBFloat16), w, at::kBFloat16))
      << "broadcast delta";
  EXPECT_FALSE(fused_add_norm_applicable(x, torch::randn({64, 8}, cuda).to(at::kBFloat16).t(), w, at::kBFloat16))
      << "non-contiguous delta";
  EXPECT_TRUE(fused_add_norm_applicable(x, torch::randn({8, 64}, cuda).to(at::kBFloat16), w, at::kBFloat16));
  Norm norm(NormKind::kLayerNorm, 64, 1e-5, true);
  norm.to(torch::kCUDA);
  norm.fused = norm.fused_add = true;
  at::Tensor delta = torch::randn({8, 64}, cuda);  // fp32 delta without autocast: applicable, fp32 throughout
  auto [s, y] = norm.add_forward(x, delta);
  EXPECT_TRUE(torch::allclose(s, x + delta));
  EXPECT_TRUE(torch::allclose(y, at::layer_norm(x + delta, {64}, norm.weight, norm.bias, 1e-5), 1e-5, 1e-5));
  auto [s0, y0] = norm.add_forward(x, at::Tensor());  // nothing pending
  EXPECT_TRUE(s0.is_same(x));
}

// The whole block stack (pre-norm and hybrid, LayerNorm and RMSNorm) under autocast with the residual adds fused
// into the norms against the unfused adds (both through the fused norm kernel): the same loss and gradients bit for
// bit. The fused path rounds exactly where the unfused one does: the sum in fp32 then x's dtype, the backward's sum
// of the norm's dx and the stream's gradient as one __fadd_rn, the branch's gradient cast to its dtype.
namespace {
// The stacks of the FusedAddNorm model tests: 3 decoder blocks of 128 (4 heads), vocabulary 97, T ≤ 64.
ModelConfig small_stack() {
  ModelConfig cfg;
  cfg.arch = Arch::kDecoder;
  cfg.n_layer = 3;
  cfg.d_model = 128;
  cfg.n_head = 4;
  cfg.vocab_size = 97;
  cfg.max_seq_len = 64;
  return cfg;
}
}  // namespace

TEST(FusedAddNorm, BlockStackBitIdenticalToUnfusedAdds) {
  SKIP_WITHOUT_FUSED_CUDA();
  for (NormPlacement placement : {NormPlacement::kPre, NormPlacement::kHybrid}) {
    for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRMSNorm}) {
      SCOPED_TRACE(std::string(kind == NormKind::kLayerNorm ? "layernorm" : "rmsnorm") +
                   (placement == NormPlacement::kPre ? " pre" : " hybrid"));
      ModelConfig cfg = small_stack();
      cfg.norm = kind;
      cfg.norm_placement = placement;
      AttentionConfig attn;
      std::vector<double> losses;
      std::vector<std::vector<at::Tensor>> grads;
      for (bool fused_add : {false, true}) {
        torch::manual_seed(5);
        auto model = build_model(cfg, attn);
        model->to(torch::kCUDA);
        FusedOps ops;
        ops.norm = true;
        ops.add_norm = fused_add;
        model->set_fused_ops(ops);
        ModelInputs in;
        in.tokens = torch::randint(0, 97, {4, 64}, torch::TensorOptions().device(torch::kCUDA).dtype(torch::kLong));
        enable_bf16_autocast();
        at::Tensor h = model->forward(in);
        at::autocast::set_autocast_enabled(at::kCUDA, false);
        at::autocast::clear_cache();
        at::Tensor loss = h.to(torch::kFloat).pow(2).mean();
        loss.backward();
        losses.push_back(loss.item<double>());
        std::vector<at::Tensor> g;
        for (const auto& p : model->parameters()) g.push_back(p.grad().to(torch::kFloat).clone());
        grads.push_back(g);
      }
      EXPECT_EQ(losses[1], losses[0]) << "the loss, bit for bit";
      ASSERT_EQ(grads[0].size(), grads[1].size());
      for (size_t i = 0; i < grads[0].size(); ++i)
        EXPECT_TRUE(torch::equal(grads[1][i], grads[0][i]))
            << "parameter " << i << ": max |difference| " << (grads[1][i] - grads[0][i]).abs().max().item<double>()
            << " of max |gradient| " << grads[0][i].abs().max().item<double>();
    }
  }
}

namespace {

// A fused op in the whole stack (3 pre-norm decoder blocks with RoPE, every other fused op on) against the same stack
// in float64 (no fused op runs there) and beside it with the op off, both under bf16 autocast: the loss and each
// parameter's gradient no further from float64 than 1.5× the error without the op plus 2^-10 of the gradient's scale.
// Biases initialised non-zero, so that a bias added twice or not at all, or a wrong bias gradient, is off by O(1).
void check_stack_against_float64(const std::string& op, const std::function<void(FusedOps&, bool)>& set_op) {
  SCOPED_TRACE("fused_ops." + op);
  const ModelConfig cfg = small_stack();
  ASSERT_EQ(cfg.positions, PositionKind::kRope);
  AttentionConfig attn;
  at::Tensor tokens = torch::randint(0, 97, {4, 64}, torch::TensorOptions().device(torch::kCUDA).dtype(torch::kLong));
  struct Result {
    double loss;
    std::vector<at::Tensor> grads;
  };
  auto run = [&](bool fp64, bool on) {
    torch::manual_seed(5);
    auto model = build_model(cfg, attn);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key().find("bias") != std::string::npos) p.value().normal_(0.0, 0.5);
    }
    model->to(torch::kCUDA, fp64 ? torch::kDouble : torch::kFloat);
    FusedOps ops = resolve_fused_ops(FusedOpsConfig{}, /*cuda=*/true);
    set_op(ops, on);
    model->set_fused_ops(ops);
    ModelInputs in;
    in.tokens = tokens;
    if (!fp64) enable_bf16_autocast();
    at::Tensor h = model->forward(in);
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
    at::Tensor loss = h.to(torch::kDouble).pow(2).mean();
    loss.backward();
    Result r{loss.item<double>(), {}};
    for (const auto& p : model->parameters()) r.grads.push_back(p.grad().to(torch::kDouble).clone());
    return r;
  };
  const Result ref = run(true, false), off = run(false, false), on = run(false, true);
  EXPECT_LE(std::abs(on.loss - ref.loss), 1.5 * std::abs(off.loss - ref.loss) + 1e-3 * std::abs(ref.loss));
  ASSERT_EQ(on.grads.size(), ref.grads.size());
  const auto names = build_model(cfg, attn)->named_parameters().keys();
  for (size_t i = 0; i < ref.grads.size(); ++i) {
    const double scale = ref.grads[i].abs().max().item<double>();
    const double e_on = (on.grads[i] - ref.grads[i]).abs().max().item<double>();
    const double e_off = (off.grads[i] - ref.grads[i]).abs().max().item<double>();
    EXPECT_LE(e_on, 1.5 * e_off + std::ldexp(1.0, -10) * scale)
        << names[i] << ": error with the op " << e_on << ", without " << e_off << ", scale " << scale;
  }
}

}  // namespace

// fused_ops.residual_bias: the branches' output biases added in the add + norm kernels.
TEST(FusedAddNorm, ResidualBiasStackAgainstFloat64) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_stack_against_float64("residual_bias", [](FusedOps& ops, bool on) { ops.residual_bias = on; });
}

// fused_ops.rope: q and k rotated by the kernel, from the packed projection's strided views.
TEST(FusedRope, StackAgainstFloat64) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_stack_against_float64("rope", [](FusedOps& ops, bool on) { ops.rope = on; });
}

namespace {

struct RopeCase {
  int64_t batch, seq, heads, head_dim;
  at::ScalarType dtype;
  bool packed;  // x is the q part of a packed [B, T, 3H, D] tensor (strided), as the attention's qkv split gives it
};

void check_rope(const RopeCase& c) {
  SCOPED_TRACE("B " + std::to_string(c.batch) + " T " + std::to_string(c.seq) + " H " + std::to_string(c.heads) +
               " D " + std::to_string(c.head_dim) + " " + std::string(c10::toString(c.dtype)) +
               (c.packed ? " packed" : ""));
  torch::manual_seed(21);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  Rope rope(c.head_dim, c.seq + 5, 10000.0);
  rope.to(torch::kCUDA);
  at::Tensor base = c.packed ? torch::randn({c.batch, c.seq, 3 * c.heads, c.head_dim}, cuda).to(c.dtype)
                             : torch::randn({c.batch, c.seq, c.heads, c.head_dim}, cuda).to(c.dtype);
  at::Tensor x = c.packed ? base.narrow(2, c.heads, c.heads) : base;  // the k part: an offset, strided view
  ASSERT_TRUE(fused_rope_applicable(x, rope.cos, rope.sin));
  const at::Tensor dy = torch::randn({c.batch, c.seq, c.heads, c.head_dim}, cuda).to(c.dtype);

  // float64 of the same inputs, exact tables.
  const int64_t half = c.head_dim / 2;
  at::Tensor xd = x.to(torch::kDouble).requires_grad_(true);
  const at::Tensor pos = torch::arange(c.seq, cuda.dtype(torch::kDouble)).view({c.seq, 1});
  const at::Tensor freq = torch::pow(10000.0, -torch::arange(half, cuda.dtype(torch::kDouble)) * 2.0 / c.head_dim);
  const at::Tensor ang = (pos * freq).view({1, c.seq, 1, half});
  const at::Tensor x1 = xd.narrow(-1, 0, half), x2 = xd.narrow(-1, half, half);
  const at::Tensor ref = torch::cat({x1 * ang.cos() - x2 * ang.sin(), x1 * ang.sin() + x2 * ang.cos()}, -1);
  (ref * dy.to(torch::kDouble)).sum().backward();

  auto run = [&](bool fused) {
    rope.fused = fused;
    at::Tensor xi = x.detach().requires_grad_(true);
    at::Tensor y = rope.apply(xi);
    (y.to(torch::kDouble) * dy.to(torch::kDouble)).sum().backward();
    return std::pair{y, xi.grad()};
  };
  const auto [y_fused, dx_fused] = run(true);
  const auto [y_lib, dx_lib] = run(false);
  EXPECT_EQ(y_fused.scalar_type(), c.dtype);
  EXPECT_TRUE(y_fused.is_contiguous());
  EXPECT_EQ(dx_fused.scalar_type(), c.dtype);
  auto max_err = [](const at::Tensor& a, const at::Tensor& r) {
    return (a.to(torch::kDouble) - r).abs().max().item<double>();
  };
  auto max_abs = [](const at::Tensor& r) { return r.abs().max().item<double>(); };
  // One rounding of the dtype at the tensor's scale, plus fp32 arithmetic and the fp32 tables (2^-20 relative).
  const double y_tol = (rounding(c.dtype) + std::ldexp(1.0, -20)) * max_abs(ref);
  const double dx_tol = (rounding(c.dtype) + std::ldexp(1.0, -20)) * max_abs(xd.grad());
  EXPECT_LE(max_err(y_fused, ref.detach()), y_tol) << "y";
  EXPECT_LE(max_err(dx_fused, xd.grad()), dx_tol) << "dx";
  // No worse than LibTorch's composite, up to fp32 arithmetic (the fp32 case's two paths differ only there).
  EXPECT_LE(max_err(y_fused, ref.detach()), max_err(y_lib, ref.detach()) + std::ldexp(1.0, -22) * max_abs(ref))
      << "y no worse than LibTorch's";
  EXPECT_LE(max_err(dx_fused, xd.grad()), max_err(dx_lib, xd.grad()) + std::ldexp(1.0, -22) * max_abs(xd.grad()))
      << "dx no worse than LibTorch's";
}

}  // namespace

TEST(FusedRope, Bf16AtTheEncodersShape) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_rope({1, 2048, 16, 64, at::kBFloat16, false});
}
TEST(FusedRope, Bf16StridedViewOfPackedQkv) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_rope({3, 77, 4, 64, at::kBFloat16, true});
}
TEST(FusedRope, Fp16HeadDim128) { SKIP_WITHOUT_FUSED_CUDA(); check_rope({2, 130, 2, 128, at::kHalf, false}); }
TEST(FusedRope, Fp32HeadDim32) { SKIP_WITHOUT_FUSED_CUDA(); check_rope({2, 33, 3, 32, at::kFloat, true}); }

TEST(FusedRope, NotApplicableFallsBackToLibTorch) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  Rope rope(36, 16, 10000.0);
  rope.to(torch::kCUDA);
  const at::Tensor x36 = torch::randn({1, 16, 2, 36}, cuda).to(torch::kBFloat16);
  EXPECT_FALSE(fused_rope_applicable(x36, rope.cos, rope.sin)) << "D 36: half not a multiple of 4";
  const at::Tensor plain = rope.apply(x36);
  rope.fused = true;
  EXPECT_TRUE(torch::equal(rope.apply(x36), plain)) << "the fallback is LibTorch's path";
  Rope rope64(64, 16, 10000.0);
  rope64.to(torch::kCUDA);
  const at::Tensor wide = torch::randn({1, 16, 2, 66}, cuda).to(torch::kBFloat16);
  EXPECT_FALSE(fused_rope_applicable(wide.narrow(-1, 1, 64), rope64.cos, rope64.sin)) << "misaligned start";
  EXPECT_FALSE(fused_rope_applicable(torch::randn({1, 16, 2, 64}).to(torch::kBFloat16), rope64.cos, rope64.sin))
      << "CPU";
  EXPECT_FALSE(fused_rope_applicable(torch::randn({1, 17, 2, 64}, cuda), rope64.cos.narrow(0, 0, 16),
                                     rope64.sin.narrow(0, 0, 16)))
      << "longer than the tables";
  EXPECT_TRUE(fused_rope_applicable(torch::randn({1, 16, 2, 64}, cuda), rope64.cos, rope64.sin));
}

// The fused GELU MLP (models/mlp_fused.h) against float64 on the same bf16-rounded inputs and weights, beside
// LibTorch's autocast path on the same inputs: the fused op stores h and the gradients in bf16 as autocast does,
// so its error must be of the same size as LibTorch's (≤ 2× it, plus 2^-9 of the tensor's scale), and within
// 2^-6 of the scale outright. A wrong epilogue (bias, GELU, GELU′ or a bias gradient missing or transposed) is off
// by O(1) of the scale.
namespace {

struct MlpCase {
  int64_t rows, d_model, hidden, out;
  bool bias;
};

struct MlpResult {
  at::Tensor y, dx, dw1, db1, dw2, db2;
};

MlpResult run_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                  const at::Tensor& b2, const at::Tensor& dy, bool fused, bool autocast, bool recompute = false) {
  at::Tensor xi = x.detach().requires_grad_(true), w1i = w1.detach().requires_grad_(true);
  at::Tensor w2i = w2.detach().requires_grad_(true);
  at::Tensor b1i = b1.defined() ? b1.detach().requires_grad_(true) : at::Tensor();
  at::Tensor b2i = b2.defined() ? b2.detach().requires_grad_(true) : at::Tensor();
  if (autocast) enable_bf16_autocast();
  at::Tensor y = fused ? fused_gelu_mlp(xi, w1i, b1i, w2i, b2i, nullptr, recompute)
                       : at::linear(at::gelu(at::linear(xi, w1i, b1i), "tanh"), w2i, b2i);
  if (autocast) {
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }
  (y.to(torch::kDouble) * dy.to(torch::kDouble)).sum().backward();
  auto grad = [](const at::Tensor& t) { return t.defined() ? t.grad() : at::Tensor(); };
  return {y.detach(), xi.grad(), w1i.grad(), grad(b1i), w2i.grad(), grad(b2i)};
}

void check_mlp(const MlpCase& c, bool recompute = false) {
  SCOPED_TRACE("rows " + std::to_string(c.rows) + " K " + std::to_string(c.d_model) + " F " +
               std::to_string(c.hidden) + " N " + std::to_string(c.out) + (c.bias ? " bias" : " no bias") +
               (recompute ? " recompute" : ""));
  torch::manual_seed(5);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  // bf16-exact values, so the float64 reference sees exactly what the bf16 GEMMs read.
  auto bf16_exact = [](const at::Tensor& t) { return t.to(torch::kBFloat16).to(torch::kFloat); };
  at::Tensor x = bf16_exact(torch::randn({c.rows, c.d_model}, cuda)).to(torch::kBFloat16);
  at::Tensor w1 = bf16_exact(torch::randn({c.hidden, c.d_model}, cuda) / std::sqrt(double(c.d_model)));
  at::Tensor w2 = bf16_exact(torch::randn({c.out, c.hidden}, cuda) / std::sqrt(double(c.hidden)));
  at::Tensor b1 = c.bias ? bf16_exact(torch::randn({c.hidden}, cuda) * 0.5) : at::Tensor();
  at::Tensor b2 = c.bias ? bf16_exact(torch::randn({c.out}, cuda) * 0.5) : at::Tensor();
  at::Tensor dy = torch::randn({c.rows, c.out}, cuda).to(torch::kBFloat16);
  ASSERT_TRUE(fused_mlp_applicable(x, w1, w2));

  auto to64 = [](const at::Tensor& t) { return t.defined() ? t.to(torch::kDouble) : at::Tensor(); };
  const MlpResult ref = run_mlp(to64(x), to64(w1), to64(b1), to64(w2), to64(b2), dy, false, false);
  const MlpResult lib = run_mlp(x, w1, b1, w2, b2, dy, false, true);
  const MlpResult fus = run_mlp(x, w1, b1, w2, b2, dy, true, false, recompute);
  EXPECT_EQ(fus.y.scalar_type(), at::kBFloat16);
  EXPECT_EQ(fus.dx.scalar_type(), at::kBFloat16);
  EXPECT_EQ(fus.dw1.scalar_type(), at::kFloat) << "written in the master weights' dtype";
  EXPECT_EQ(fus.dw2.scalar_type(), at::kFloat);

  auto err = [](const at::Tensor& a, const at::Tensor& r) { return (a.to(torch::kDouble) - r).abs().max().item<double>(); };
  auto check = [&](const at::Tensor& f, const at::Tensor& l, const at::Tensor& r, const char* what) {
    ASSERT_TRUE(f.defined()) << what;
    const double scale = r.abs().max().item<double>();
    const double e_fused = err(f, r), e_lib = err(l, r);
    EXPECT_LE(e_fused, std::ldexp(1.0, -6) * scale) << what << " (scale " << scale << ")";
    EXPECT_LE(e_fused, 2 * e_lib + std::ldexp(1.0, -9) * scale)
        << what << ": fused error " << e_fused << " vs LibTorch autocast " << e_lib << " (scale " << scale << ")";
  };
  check(fus.y, lib.y, ref.y, "y");
  check(fus.dx, lib.dx, ref.dx, "dx");
  check(fus.dw1, lib.dw1, ref.dw1, "dW1");
  check(fus.dw2, lib.dw2, ref.dw2, "dW2");
  if (c.bias) {
    check(fus.db1, lib.db1, ref.db1, "db1");
    check(fus.db2, lib.db2, ref.db2, "db2");
  } else {
    EXPECT_FALSE(fus.db1.defined());
  }
}

}  // namespace

TEST(FusedMlp, Gpt2WidthsWithBiases) { SKIP_WITHOUT_FUSED_CUDA(); check_mlp({1029, 768, 3072, 768, true}); }
TEST(FusedMlp, NoBiasesNarrowOutput) { SKIP_WITHOUT_FUSED_CUDA(); check_mlp({64, 256, 1024, 128, false}); }
TEST(FusedMlp, FewRowsSmallWidths) { SKIP_WITHOUT_FUSED_CUDA(); check_mlp({3, 64, 256, 64, true}); }
TEST(FusedMlp, RecomputedGeluAgainstFloat64) {
  SKIP_WITHOUT_FUSED_CUDA();
  check_mlp({1029, 768, 3072, 768, true}, /*recompute=*/true);
  check_mlp({64, 256, 1024, 128, false}, /*recompute=*/true);
}

TEST(FusedMlp, RecomputedGeluKeepsLessAndChangesOnlyDW2) {
  // fused_ops.mlp_recompute: the forward keeps one rows x hidden tensor less for the backward, and every gradient
  // but dW2 (which reads the recomputed h) is the same bits as when h is kept.
  SKIP_WITHOUT_FUSED_CUDA();
  torch::manual_seed(21);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  const int64_t rows = 2048, d = 256, f = 1024;
  at::Tensor x = torch::randn({rows, d}, cuda).to(torch::kBFloat16);
  at::Tensor w1 = torch::randn({f, d}, cuda) / 16, w2 = torch::randn({d, f}, cuda) / 32;
  at::Tensor b1 = torch::randn({f}, cuda) * 0.1, b2 = torch::randn({d}, cuda) * 0.1;
  at::Tensor dy = torch::randn({rows, d}, cuda).to(torch::kBFloat16);
  auto held_after_forward = [&](bool recompute) {
    torch::cuda::synchronize();
    const auto before = c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].current;
    at::Tensor xi = x.detach().requires_grad_(true), w1i = w1.detach().requires_grad_(true);
    at::Tensor y = fused_gelu_mlp(xi, w1i, b1, w2, b2, nullptr, recompute);
    torch::cuda::synchronize();
    return c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].current - before;
  };
  const int64_t kept = held_after_forward(false), recomputed = held_after_forward(true);
  EXPECT_EQ(kept - recomputed, rows * f * 2) << "h (rows x hidden, bf16) no longer held: " << kept << " vs "
                                             << recomputed << " bytes";
  const MlpResult keep = run_mlp(x, w1, b1, w2, b2, dy, true, false, false);
  const MlpResult again = run_mlp(x, w1, b1, w2, b2, dy, true, false, true);
  EXPECT_TRUE(torch::equal(keep.y, again.y));
  EXPECT_TRUE(torch::equal(keep.dx, again.dx));
  EXPECT_TRUE(torch::equal(keep.dw1, again.dw1));
  EXPECT_TRUE(torch::equal(keep.db1, again.db1));
  EXPECT_TRUE(torch::equal(keep.db2, again.db2));
  const double scale = keep.dw2.abs().max().item<double>();
  EXPECT_LE((keep.dw2 - again.dw2).abs().max().item<double>(), std::ldexp(1.0, -7) * scale)
      << "dW2 from the recomputed h: the same GELU up to its last bf16 bit";
}

TEST(FusedMlp, RepeatsBitForBit) {
  SKIP_WITHOUT_FUSED_CUDA();
  torch::manual_seed(9);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = torch::randn({512, 384}, cuda).to(torch::kBFloat16), dy = torch::randn({512, 384}, cuda);
  at::Tensor w1 = torch::randn({1536, 384}, cuda) * 0.05, b1 = torch::randn({1536}, cuda) * 0.1;
  at::Tensor w2 = torch::randn({384, 1536}, cuda) * 0.05, b2 = torch::randn({384}, cuda) * 0.1;
  const MlpResult a = run_mlp(x, w1, b1, w2, b2, dy, true, false), b = run_mlp(x, w1, b1, w2, b2, dy, true, false);
  EXPECT_TRUE(torch::equal(a.y, b.y));
  EXPECT_TRUE(torch::equal(a.dx, b.dx));
  EXPECT_TRUE(torch::equal(a.dw1, b.dw1));
  EXPECT_TRUE(torch::equal(a.db1, b.db1));
  EXPECT_TRUE(torch::equal(a.dw2, b.dw2));
  EXPECT_TRUE(torch::equal(a.db2, b.db2));
}

TEST(FusedMlp, MlpModuleUnderAutocastMatchesLibTorchPath) {
  SKIP_WITHOUT_FUSED_CUDA();
  ModelConfig cfg;
  cfg.d_model = 256;
  cfg.mlp = MlpKind::kGelu;
  cfg.bias = true;
  torch::manual_seed(4);
  Mlp plain(cfg);
  torch::manual_seed(4);
  Mlp fused(cfg);
  plain.to(torch::kCUDA);
  fused.to(torch::kCUDA);
  fused.fused = true;
  at::Tensor x = torch::randn({2, 77, 256}, torch::TensorOptions().device(torch::kCUDA));
  at::Tensor xp = x.detach().requires_grad_(true), xf = x.detach().requires_grad_(true);
  enable_bf16_autocast();
  at::Tensor yp = plain.forward(xp), yf = fused.forward(xf);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  ASSERT_EQ(yf.sizes(), yp.sizes());
  EXPECT_EQ(yf.scalar_type(), at::kBFloat16);
  const double scale = yp.to(torch::kDouble).abs().max().item<double>();
  EXPECT_LE((yf.to(torch::kDouble) - yp.to(torch::kDouble)).abs().max().item<double>(), std::ldexp(1.0, -6) * scale);
  yp.to(torch::kFloat).square().sum().backward();
  yf.to(torch::kFloat).square().sum().backward();
  EXPECT_EQ(xf.grad().scalar_type(), at::kFloat) << "through the differentiable cast of the fp32 input";
  const double gscale = plain.fc->weight.grad().abs().max().item<double>();
  EXPECT_LE((fused.fc->weight.grad() - plain.fc->weight.grad()).abs().max().item<double>(), std::ldexp(1.0, -5) * gscale);
  const double xscale = xp.grad().abs().max().item<double>();
  EXPECT_LE((xf.grad() - xp.grad()).abs().max().item<double>(), std::ldexp(1.0, -5) * xscale);
}

TEST(FusedMlp, UnsupportedInputsFallBackToLibTorch) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor w1 = torch::randn({256, 64}, cuda), w2 = torch::randn({64, 256}, cuda);
  EXPECT_TRUE(fused_mlp_applicable(torch::randn({8, 64}, cuda).to(torch::kBFloat16), w1, w2));
  EXPECT_FALSE(fused_mlp_applicable(torch::randn({8, 64}, cuda), w1, w2)) << "fp32 without autocast";
  EXPECT_FALSE(fused_mlp_applicable(torch::randn({8, 64}).to(torch::kBFloat16), w1.cpu(), w2.cpu())) << "CPU";
  EXPECT_FALSE(fused_mlp_applicable(torch::randn({8, 68}, cuda).to(torch::kBFloat16), torch::randn({256, 68}, cuda),
                                    w2))
      << "d_model % 8";
  EXPECT_FALSE(fused_mlp_applicable(torch::randn({8, 64}, cuda).to(torch::kBFloat16), w1.to(torch::kBFloat16), w2))
      << "bf16 weight";
  ModelConfig cfg;
  cfg.d_model = 60;  // not a multiple of 8: the module keeps LibTorch's ops
  cfg.mlp = MlpKind::kGelu;
  Mlp mlp(cfg);
  mlp.to(torch::kCUDA);
  mlp.fused = true;
  at::Tensor x = torch::randn({5, 60}, cuda);
  enable_bf16_autocast();
  at::Tensor y = mlp.forward(x);
  at::Tensor ref = at::linear(at::gelu(at::linear(x, mlp.fc->weight, mlp.fc->bias), "tanh"), mlp.proj->weight,
                              mlp.proj->bias);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  EXPECT_TRUE(torch::equal(y, ref));
}

// The fused linear layer (models/linear_fused.h) against float64 on the same bf16-exact inputs and beside
// LibTorch's autocast linear. y and dx are bf16 as autocast's (error ≤ 2× autocast's plus 2^-9 of the scale);
// dW and db come from the GEMM in fp32, where autocast rounds them to bf16: their error must be fp32
// accumulation's (≤ 2^-14 of the scale), which a bf16 dW (≈ 2^-9) fails, as does a missing or transposed db.
namespace {

struct LinearResult {
  at::Tensor y, dx, dw, db;
};

LinearResult run_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const at::Tensor& dy,
                        bool fused, bool autocast) {
  at::Tensor xi = x.detach().requires_grad_(true), wi = w.detach().requires_grad_(true);
  at::Tensor bi = b.defined() ? b.detach().requires_grad_(true) : at::Tensor();
  if (autocast) enable_bf16_autocast();
  at::Tensor y = fused ? fused_linear(xi, wi, bi) : at::linear(xi, wi, bi);
  if (autocast) {
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }
  (y.to(torch::kDouble) * dy.to(torch::kDouble)).sum().backward();
  return {y.detach(), xi.grad(), wi.grad(), bi.defined() ? bi.grad() : at::Tensor()};
}

void check_linear(int64_t rows, int64_t in, int64_t out, bool bias) {
  SCOPED_TRACE("rows " + std::to_string(rows) + " in " + std::to_string(in) + " out " + std::to_string(out) +
               (bias ? " bias" : " no bias"));
  torch::manual_seed(6);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  auto bf16_exact = [](const at::Tensor& t) { return t.to(torch::kBFloat16).to(torch::kFloat); };
  at::Tensor x = bf16_exact(torch::randn({2, rows, in}, cuda)).to(torch::kBFloat16);
  at::Tensor w = bf16_exact(torch::randn({out, in}, cuda) / std::sqrt(double(in)));
  at::Tensor b = bias ? bf16_exact(torch::randn({out}, cuda) * 0.5) : at::Tensor();
  at::Tensor dy = torch::randn({2, rows, out}, cuda).to(torch::kBFloat16);
  ASSERT_TRUE(fused_linear_applicable(x, w));
  auto to64 = [](const at::Tensor& t) { return t.defined() ? t.to(torch::kDouble) : at::Tensor(); };
  const LinearResult ref = run_linear(to64(x), to64(w), to64(b), dy, false, false);
  const LinearResult lib = run_linear(x, w, b, dy, false, true);
  const LinearResult fus = run_linear(x, w, b, dy, true, false);
  ASSERT_EQ(fus.y.sizes(), ref.y.sizes());
  EXPECT_EQ(fus.y.scalar_type(), at::kBFloat16);
  EXPECT_EQ(fus.dw.scalar_type(), at::kFloat);
  auto err = [](const at::Tensor& a, const at::Tensor& r) { return (a.to(torch::kDouble) - r).abs().max().item<double>(); };
  auto scale = [](const at::Tensor& r) { return r.abs().max().item<double>(); };
  for (const auto& [f, l, r, what] : {std::tuple{fus.y, lib.y, ref.y, "y"}, std::tuple{fus.dx, lib.dx, ref.dx, "dx"}})
    EXPECT_LE(err(f, r), 2 * err(l, r) + std::ldexp(1.0, -9) * scale(r)) << what;
  EXPECT_LE(err(fus.dw, ref.dw), std::ldexp(1.0, -14) * scale(ref.dw))
      << "dW: fp32 from the GEMM (LibTorch autocast's bf16 dW is off by " << err(lib.dw, ref.dw) << ")";
  if (bias) {
    EXPECT_LE(err(fus.db, ref.db), std::ldexp(1.0, -14) * scale(ref.db))
        << "db: the GEMM epilogue's fp32 sum (autocast's: off by " << err(lib.db, ref.db) << ")";
  } else {
    EXPECT_FALSE(fus.db.defined());
  }
}

}  // namespace

TEST(FusedLinear, QkvProjectionAtGpt2Width) { SKIP_WITHOUT_FUSED_CUDA(); check_linear(1029, 768, 2304, true); }
TEST(FusedLinear, NoBiasHeadLikeWidth) { SKIP_WITHOUT_FUSED_CUDA(); check_linear(64, 256, 1032, false); }
TEST(FusedLinear, FewRows) { SKIP_WITHOUT_FUSED_CUDA(); check_linear(3, 64, 64, true); }

// The model's compute-dtype weight copies (models/weight_casts.h) change no number: the linear layer and the MLP
// with them are bit for bit the ops casting their own weights, forward and backward. (That the fused AdamW step
// bumps the version counters the copies are checked against: tests/trainer/test_adamw.cpp.)
TEST(WeightCastsGpu, FusedOpsWithTheCopiesAreBitIdentical) {
  SKIP_WITHOUT_FUSED_CUDA();
  torch::manual_seed(12);
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor x = torch::randn({300, 256}, cuda).to(torch::kBFloat16);
  at::Tensor w1 = (torch::randn({1024, 256}, cuda) * 0.05).requires_grad_(true);
  at::Tensor b1 = (torch::randn({1024}, cuda) * 0.1).requires_grad_(true);
  at::Tensor w2 = (torch::randn({256, 1024}, cuda) * 0.05).requires_grad_(true);
  at::Tensor b2 = (torch::randn({256}, cuda) * 0.1).requires_grad_(true);
  WeightCasts casts;
  casts.set_weights({w1, b1, w2, b2});
  casts.refresh(at::kBFloat16);
  auto run = [&](const WeightCasts* c) {
    for (at::Tensor* t : {&w1, &b1, &w2, &b2}) t->mutable_grad() = at::Tensor();
    at::Tensor xi = x.detach().requires_grad_(true);
    at::Tensor h = fused_linear(xi, w1, b1, c);
    at::Tensor y = fused_gelu_mlp(h.narrow(-1, 0, 256).contiguous(), w1, b1, w2, b2, c);
    (y.to(torch::kFloat) * 0.01).square().sum().backward();
    return std::vector<at::Tensor>{y.detach(), xi.grad(), w1.grad(), b1.grad(), w2.grad(), b2.grad()};
  };
  const auto own = run(nullptr), copied = run(&casts);
  for (size_t i = 0; i < own.size(); ++i) EXPECT_TRUE(torch::equal(own[i], copied[i])) << "output " << i;
}

TEST(FusedLinear, UnsupportedInputsFallBackToLibTorch) {
  SKIP_WITHOUT_FUSED_CUDA();
  auto cuda = torch::TensorOptions().device(torch::kCUDA);
  at::Tensor w = torch::randn({64, 32}, cuda);
  EXPECT_TRUE(fused_linear_applicable(torch::randn({8, 32}, cuda).to(torch::kBFloat16), w));
  EXPECT_FALSE(fused_linear_applicable(torch::randn({8, 32}, cuda), w)) << "fp32 without autocast";
  EXPECT_FALSE(fused_linear_applicable(torch::randn({8, 32}).to(torch::kBFloat16), w.cpu())) << "CPU";
  EXPECT_FALSE(fused_linear_applicable(torch::randn({8, 36}, cuda).to(torch::kBFloat16), torch::randn({64, 36}, cuda)))
      << "in % 8";
  EXPECT_FALSE(fused_linear_applicable(torch::randn({8, 32}, cuda).to(torch::kBFloat16), torch::randn({10, 32}, cuda)))
      << "out % 8 (a 10-class head)";
  Linear head(32, 10, /*bias=*/true, 0.02, ParamGroup::kHead);
  head.to(torch::kCUDA);
  head.fused = true;
  at::Tensor x = torch::randn({5, 32}, cuda);
  enable_bf16_autocast();
  at::Tensor y = head.forward(x), ref = at::linear(x, head.weight, head.bias);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  EXPECT_TRUE(torch::equal(y, ref));
}
