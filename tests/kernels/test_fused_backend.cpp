// The `fused` attention backend (models/attention_fused.cpp) against a float64 LibTorch reference written from
// the conventions of models/attention.h: forward output and q/k/v gradients through autograd, with strided views
// (a fused QKV tensor), padding lengths, causal with T_q != T_k, ALiBi, key bias and GQA; and the packed entry
// point (one qkv tensor in, one d(qkv) out) against the same reference and the separate one.
//
// This binary compiles attention_fused.cpp on its own (no sigtrain_models): the two registry hooks it needs are
// defined here, so the wrapper is tested without the rest of the model library.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "models/attention.h"

namespace sigtrain::models {
namespace {
FusedAttentionFn g_fused = nullptr;
FusedPackedAttentionFn g_packed = nullptr;
}
void register_fused_attention(const FusedAttentionFns& fns) {
  g_fused = fns.separate;
  g_packed = fns.packed;
}
double AttentionOptions::scale_for(int64_t head_dim) const {
  return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
}
}  // namespace sigtrain::models

namespace {

using namespace sigtrain::models;

bool have_cuda() { return torch::cuda::is_available() && torch::cuda::device_count() > 0; }

at::Tensor lengths_or_full(const at::Tensor& l, int64_t B, int64_t T, const at::TensorOptions& o) {
  return l.defined() ? l.to(o.dtype(at::kLong)).clamp(0, T) : torch::full({B}, T, o.dtype(at::kLong));
}

// float64 reference: explicit ops, [B, T, H, D] in and out.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                     const AttentionOptions& o) {
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), D = q.size(3), Tk = k.size(1), Hkv = k.size(2);
  auto dev = q.options();
  at::Tensor qh = q.permute({0, 2, 1, 3});
  at::Tensor kh = k.permute({0, 2, 1, 3}).repeat_interleave(H / Hkv, 1);
  at::Tensor vh = v.permute({0, 2, 1, 3}).repeat_interleave(H / Hkv, 1);
  at::Tensor S = at::matmul(qh, kh.transpose(-2, -1)) * o.scale_for(D);
  at::Tensor lk = lengths_or_full(m.key_lengths, B, Tk, dev).view({B, 1, 1, 1});
  at::Tensor lq = lengths_or_full(m.query_lengths, B, Tq, dev).view({B, 1, 1, 1});
  at::Tensor i = torch::arange(Tq, dev.dtype(at::kLong)).view({1, 1, Tq, 1});
  at::Tensor j = torch::arange(Tk, dev.dtype(at::kLong)).view({1, 1, 1, Tk});
  S = S - at::log(lk.clamp_min(1).to(at::kDouble));
  if (m.alibi_slopes.defined())
    S = S - m.alibi_slopes.to(dev).view({1, H, 1, 1}) * (i + (lk - lq) - j).abs().to(at::kDouble);
  if (m.key_bias.defined()) S = S + m.key_bias.to(dev).view({B, 1, 1, Tk});
  at::Tensor valid = (j < lk).logical_and(i < lq);
  if (m.causal) valid = valid.logical_and(j <= i + (lk - lq));
  at::Tensor P = at::sigmoid(S) * valid.to(at::kDouble);
  return at::matmul(P, vh).permute({0, 2, 1, 3});
}

double rel(const at::Tensor& a, const at::Tensor& ref) {
  const double den = ref.norm().item<double>();
  const double num = (a.to(at::kDouble) - ref).norm().item<double>();
  return den > 0 ? num / den : num;
}

void run_case(int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Hkv, int64_t D, bool causal, bool pad,
              bool alibi, bool keybias, bool fused_qkv, at::ScalarType dt) {
  install_fused_attention();
  ASSERT_NE(g_fused, nullptr);
  auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(dt);
  at::Tensor q, k, v;
  if (fused_qkv) {  // q, k, v as strided views of one [B, T, 3, H, D] tensor (as the projections produce)
    at::Tensor qkv = torch::randn({B, Tq, 3, H, D}, opt);
    q = qkv.select(2, 0);
    k = qkv.select(2, 1);
    v = qkv.select(2, 2);
  } else {
    q = torch::randn({B, Tq, H, D}, opt);
    k = torch::randn({B, Tk, Hkv, D}, opt);
    v = torch::randn({B, Tk, Hkv, D}, opt);
  }
  q = q.detach().requires_grad_(true);
  k = k.detach().requires_grad_(true);
  v = v.detach().requires_grad_(true);
  AttentionMask m;
  m.causal = causal;
  auto iopt = torch::TensorOptions().device(torch::kCUDA).dtype(at::kLong);
  if (pad) {
    m.key_lengths = torch::randint(0, k.size(1) + 1, {B}, iopt);
    m.query_lengths = torch::randint(0, q.size(1) + 1, {B}, iopt);
    m.key_lengths.index_put_({0}, k.size(1));
    m.query_lengths.index_put_({0}, q.size(1));
  }
  if (alibi) m.alibi_slopes = torch::rand({H}, iopt.dtype(at::kFloat)) * 0.3;
  if (keybias) m.key_bias = torch::randn({B, k.size(1)}, iopt.dtype(at::kFloat));
  AttentionOptions o;
  o.sigmoid_approx = SigmoidApprox::kExact;

  at::Tensor out = g_fused(q, k, v, m, o);
  at::Tensor dout = torch::randn_like(out);
  auto grads = torch::autograd::grad({out}, {q, k, v}, {dout});

  at::Tensor q64 = q.detach().to(at::kDouble).requires_grad_(true);
  at::Tensor k64 = k.detach().to(at::kDouble).requires_grad_(true);
  at::Tensor v64 = v.detach().to(at::kDouble).requires_grad_(true);
  at::Tensor ref = reference(q64, k64, v64, m, o);
  auto rgrads = torch::autograd::grad({ref}, {q64, k64, v64}, {dout.to(at::kDouble)});
  const double tol = dt == at::kBFloat16 ? 1e-2 : 2e-3;
  const double e[4] = {rel(out.detach(), ref.detach()), rel(grads[0], rgrads[0]), rel(grads[1], rgrads[1]),
                       rel(grads[2], rgrads[2])};
  std::printf("[ fused backend B%lld Tq%lld Tk%lld H%lld/%lld D%lld%s%s%s%s%s ] rel.err O=%.2e dQ=%.2e dK=%.2e "
              "dV=%.2e\n",
              (long long)B, (long long)Tq, (long long)Tk, (long long)H, (long long)Hkv, (long long)D,
              causal ? " causal" : "", pad ? " pad" : "", alibi ? " alibi" : "", keybias ? " keybias" : "",
              fused_qkv ? " qkv-view" : "", e[0], e[1], e[2], e[3]);
  for (double x : e) {
    EXPECT_TRUE(std::isfinite(x));
    EXPECT_LE(x, tol);
  }
}

TEST(FusedBackend, PlainQkvView) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(std::chrono::system_clock::now().time_since_epoch().count());
  run_case(2, 200, 200, 4, 4, 64, false, false, false, false, true, at::kBFloat16);
  run_case(2, 200, 200, 4, 4, 128, true, false, false, false, true, at::kBFloat16);
}

TEST(FusedBackend, MasksBiasesGqa) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(std::chrono::system_clock::now().time_since_epoch().count() + 1);
  run_case(3, 150, 230, 8, 2, 64, true, true, true, true, false, at::kBFloat16);
  run_case(3, 230, 150, 4, 1, 128, true, true, true, true, false, at::kHalf);
  run_case(2, 97, 97, 4, 2, 128, false, true, false, true, false, at::kBFloat16);
}

// The packed entry point: qkv [B, T, H + 2·H_kv, D] in, its gradient in one buffer out. The forward runs the same
// kernel on the same views as the separate entry point, so O is bit-identical; the gradients match the float64
// reference (dQ is accumulated with atomics, so it is not bit-reproducible from call to call).
void run_packed_case(int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D, bool causal, bool pad) {
  install_fused_attention();
  ASSERT_NE(g_packed, nullptr);
  auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(at::kBFloat16);
  at::Tensor qkv = torch::randn({B, T, H + 2 * Hkv, D}, opt).requires_grad_(true);
  AttentionMask m;
  m.causal = causal;
  if (pad) {
    m.key_lengths = torch::randint(1, T + 1, {B}, opt.dtype(at::kLong));
    m.key_lengths.index_put_({0}, T);
    m.query_lengths = m.key_lengths.clone();
  }
  AttentionOptions o;
  o.sigmoid_approx = SigmoidApprox::kExact;

  at::Tensor out = g_packed(qkv, H, Hkv, m, o);
  at::Tensor dout = torch::randn_like(out);
  at::Tensor dqkv = torch::autograd::grad({out}, {qkv}, {dout})[0];
  ASSERT_EQ(dqkv.sizes(), qkv.sizes());
  EXPECT_TRUE(dqkv.is_contiguous());

  const auto views = [&](const at::Tensor& t) {
    return std::array<at::Tensor, 3>{t.narrow(2, 0, H), t.narrow(2, H, Hkv), t.narrow(2, H + Hkv, Hkv)};
  };
  const auto [q, k, v] = views(qkv.detach());
  EXPECT_TRUE(torch::equal(out.detach(), g_fused(q, k, v, m, o))) << "packed and separate forwards differ";

  at::Tensor qkv64 = qkv.detach().to(at::kDouble).requires_grad_(true);
  const auto [q64, k64, v64] = views(qkv64);
  at::Tensor ref = reference(q64, k64, v64, m, o);
  at::Tensor rgrad = torch::autograd::grad({ref}, {qkv64}, {dout.to(at::kDouble)})[0];
  const auto [dq, dk, dv] = views(dqkv);
  const auto [rdq, rdk, rdv] = views(rgrad);
  const double e[4] = {rel(out.detach(), ref.detach()), rel(dq, rdq), rel(dk, rdk), rel(dv, rdv)};
  std::printf("[ fused backend, packed qkv B%lld T%lld H%lld/%lld D%lld%s%s ] rel.err O=%.2e dQ=%.2e dK=%.2e "
              "dV=%.2e\n",
              (long long)B, (long long)T, (long long)H, (long long)Hkv, (long long)D, causal ? " causal" : "",
              pad ? " pad" : "", e[0], e[1], e[2], e[3]);
  for (double x : e) {
    EXPECT_TRUE(std::isfinite(x));
    EXPECT_LE(x, 1e-2);
  }
}

TEST(FusedBackend, PackedQkvGradientInOneBuffer) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(std::chrono::system_clock::now().time_since_epoch().count() + 2);
  run_packed_case(2, 256, 4, 4, 64, true, false);
  run_packed_case(3, 190, 8, 2, 128, false, true);
  run_packed_case(2, 130, 2, 1, 96, true, true);
}

}  // namespace
