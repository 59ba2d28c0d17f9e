#pragma once
// A float64 hand computation of attention with explicit loops (no tensor ops beyond element access), the ground
// truth for the math backend. Conventions as in models/attention.h.
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "models/attention.h"

namespace sigtrain::models::testing {

struct RefSpec {
  bool causal = false;
  std::vector<int64_t> len_q, len_k;  // empty = full
  std::vector<double> slopes;         // empty = no ALiBi
  std::vector<std::vector<double>> key_bias;  // [B][T_k] or empty
  AttentionKind kind = AttentionKind::kSigmoid;
  bool neg_log_n = true;
  double bias_value = 0.0;
  double scale = 0.0;  // 0 = 1/sqrt(D)
};

// q [B, T_q, H, D], k/v [B, T_k, H_kv, D] (any dtype; read as double). Returns [B, T_q, H, D] float64.
inline torch::Tensor reference_attention(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                         const torch::Tensor& v_in, const RefSpec& s) {
  auto q = q_in.to(torch::kCPU, torch::kDouble).contiguous();
  auto k = k_in.to(torch::kCPU, torch::kDouble).contiguous();
  auto v = v_in.to(torch::kCPU, torch::kDouble).contiguous();
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), D = q.size(3), Tk = k.size(1), Hkv = k.size(2);
  auto qa = q.accessor<double, 4>();
  auto ka = k.accessor<double, 4>();
  auto va = v.accessor<double, 4>();
  auto out = torch::zeros({B, Tq, H, D}, torch::kDouble);
  auto oa = out.accessor<double, 4>();
  const double scale = s.scale > 0 ? s.scale : 1.0 / std::sqrt(static_cast<double>(D));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t lq = s.len_q.empty() ? Tq : s.len_q[b];
    const int64_t lk = s.len_k.empty() ? Tk : s.len_k[b];
    const double sig_bias = s.neg_log_n ? -std::log(static_cast<double>(std::max<int64_t>(lk, 1))) : s.bias_value;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / (H / Hkv);
      for (int64_t i = 0; i < Tq; ++i) {
        if (i >= lq) continue;
        std::vector<double> score(Tk, 0.0);
        std::vector<bool> ok(Tk, false);
        bool any = false;
        for (int64_t j = 0; j < Tk; ++j) {
          ok[j] = j < lk && (!s.causal || j <= i + lk - lq);
          if (!ok[j]) continue;
          any = true;
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d) dot += qa[b][i][h][d] * ka[b][j][hk][d];
          double sc = scale * dot;
          if (s.kind == AttentionKind::kSigmoid) sc += sig_bias;
          if (!s.slopes.empty()) sc -= s.slopes[h] * std::abs(static_cast<double>(i + lk - lq - j));
          if (!s.key_bias.empty()) sc += s.key_bias[b][j];
          score[j] = sc;
        }
        if (!any) continue;
        std::vector<double> p(Tk, 0.0);
        if (s.kind == AttentionKind::kSigmoid) {
          for (int64_t j = 0; j < Tk; ++j)
            if (ok[j]) p[j] = 1.0 / (1.0 + std::exp(-score[j]));
        } else {
          double mx = -1e300, sum = 0.0;
          for (int64_t j = 0; j < Tk; ++j)
            if (ok[j]) mx = std::max(mx, score[j]);
          for (int64_t j = 0; j < Tk; ++j)
            if (ok[j]) sum += (p[j] = std::exp(score[j] - mx));
          for (auto& x : p) x /= sum;
        }
        for (int64_t j = 0; j < Tk; ++j)
          if (ok[j])
            for (int64_t d = 0; d < D; ++d) oa[b][i][h][d] += p[j] * va[b][j][hk][d];
      }
    }
  }
  return out;
}

// The AttentionMask / AttentionOptions matching a RefSpec, on `device`.
inline AttentionMask to_mask(const RefSpec& s, const torch::Device& device, int64_t H = 0) {
  (void)H;
  AttentionMask m;
  m.causal = s.causal;
  auto io = torch::TensorOptions().dtype(torch::kInt).device(device);
  if (!s.len_q.empty()) m.query_lengths = torch::tensor(s.len_q, torch::kLong).to(io);
  if (!s.len_k.empty()) m.key_lengths = torch::tensor(s.len_k, torch::kLong).to(io);
  if (!s.slopes.empty()) m.alibi_slopes = torch::tensor(s.slopes, torch::kDouble).to(device, torch::kFloat);
  if (!s.key_bias.empty()) {
    std::vector<torch::Tensor> rows;
    for (const auto& r : s.key_bias) rows.push_back(torch::tensor(r, torch::kDouble));
    m.key_bias = torch::stack(rows).to(device, torch::kFloat);
  }
  return m;
}

inline AttentionOptions to_options(const RefSpec& s) {
  AttentionOptions o;
  o.kind = s.kind;
  o.bias_mode = s.neg_log_n ? SigmoidBiasMode::kNegLogN : SigmoidBiasMode::kConstant;
  o.bias_value = s.bias_value;
  if (s.scale > 0) o.scale = s.scale;
  return o;
}

inline double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  auto r = ref.to(torch::kCPU, torch::kDouble);
  auto diff = (a.to(torch::kCPU, torch::kDouble) - r).norm().item<double>();
  auto n = r.norm().item<double>();
  return n > 0 ? diff / n : diff;
}

}  // namespace sigtrain::models::testing
