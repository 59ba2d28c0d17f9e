// Attention backends: the math reference, LibTorch's SDPA for softmax, and the registry with the fused slot.
#include "models/attention.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace sigtrain::models {

namespace {

void check_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m) {
  auto fail = [](const std::string& msg) { throw std::invalid_argument("attention: " + msg); };
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) fail("q, k, v must be 4-d [B, T, H, D]");
  const int64_t B = q.size(0), H = q.size(2), D = q.size(3);
  if (k.sizes() != v.sizes()) fail("k and v must have the same shape");
  if (k.size(0) != B || k.size(3) != D) fail("k/v batch and head dim must match q");
  const int64_t H_kv = k.size(2);
  if (H_kv < 1 || H % H_kv != 0) fail("q heads must be a multiple of k/v heads");
  if (m.key_lengths.defined() && (m.key_lengths.dim() != 1 || m.key_lengths.size(0) != B))
    fail("key_lengths must be [B]");
  if (m.query_lengths.defined() && (m.query_lengths.dim() != 1 || m.query_lengths.size(0) != B))
    fail("query_lengths must be [B]");
  if (m.alibi_slopes.defined() && (m.alibi_slopes.dim() != 1 || m.alibi_slopes.size(0) != H))
    fail("alibi_slopes must be [H]");
  if (m.key_bias.defined() &&
      (m.key_bias.dim() != 2 || m.key_bias.size(0) != B || m.key_bias.size(1) != k.size(1)))
    fail("key_bias must be [B, T_k]");
}

// Lengths as int64 [B] on `dev` (full length when absent).
at::Tensor lengths_or_full(const at::Tensor& lengths, int64_t B, int64_t T, const at::TensorOptions& dev) {
  auto opt = dev.dtype(at::kLong);
  if (!lengths.defined()) return torch::full({B}, T, opt);
  return lengths.to(opt).clamp(0, T);
}

// [B, H, T, D] view with K/V heads repeated for GQA.
at::Tensor heads_first(const at::Tensor& x, int64_t H) {
  at::Tensor t = x.transpose(1, 2);
  const int64_t h = t.size(1);
  if (h != H) t = t.repeat_interleave(H / h, /*dim=*/1);
  return t;
}

bool is_low_precision(at::ScalarType t) { return t == at::kHalf || t == at::kBFloat16; }

struct Scores {
  at::Tensor S;          // scores incl. scale and biases, [B, H, T_q, T_k], float32 for half/bf16 inputs
  at::Tensor valid;      // bool [B, 1, T_q, T_k]
  at::Tensor row_valid;  // bool [B, 1, T_q, 1]
  at::Tensor P;          // probabilities, masked entries 0, fully masked rows 0; dtype of S
};

Scores compute_scores(const at::Tensor& q, const at::Tensor& k, const AttentionMask& m, const AttentionOptions& o) {
  const int64_t B = q.size(0), T_q = q.size(1), H = q.size(2), D = q.size(3), T_k = k.size(1);
  const auto compute_dtype = is_low_precision(q.scalar_type()) ? at::kFloat : q.scalar_type();
  at::Tensor qh = heads_first(q, H), kh = heads_first(k, H);
  Scores s;
  s.S = at::matmul(qh, kh.transpose(-2, -1)).to(compute_dtype) * o.scale_for(D);
  const auto dev = q.options();
  at::Tensor bias = attention_score_bias(m, o, B, H, T_q, T_k, dev.dtype(compute_dtype));
  if (bias.defined()) s.S = s.S + bias;
  s.valid = attention_valid_mask(m, B, T_q, T_k, dev);
  s.row_valid = s.valid.any(/*dim=*/-1, /*keepdim=*/true);
  if (o.kind == AttentionKind::kSigmoid) {
    s.P = at::sigmoid(s.S).masked_fill(s.valid.logical_not(), 0.0);
  } else {
    at::Tensor Sm = s.S.masked_fill(s.valid.logical_not(), -std::numeric_limits<double>::infinity());
    Sm = Sm.masked_fill(s.row_valid.logical_not(), 0.0);  // fully masked rows: finite, zeroed below
    s.P = at::softmax(Sm, -1).masked_fill(s.row_valid.logical_not(), 0.0);
  }
  return s;
}

}  // namespace

double AttentionOptions::scale_for(int64_t head_dim) const {
  return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

AttentionOptions AttentionOptions::from_config(const AttentionConfig& c) {
  AttentionOptions o;
  o.kind = c.kind;
  o.bias_mode = c.bias_mode;
  o.bias_value = c.bias_value;
  o.scale = c.scale;
  o.sigmoid_approx = c.sigmoid_approx;
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Backends and their rules
// ---------------------------------------------------------------------------------------------------------------
std::string AttentionBackend::unsupported(AttentionKind, int64_t) const { return {}; }
std::string AttentionBackend::unavailable_on(bool) const { return {}; }

at::Tensor AttentionBackend::operator()(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const AttentionMask& mask, const AttentionOptions& opts) const {
  if (std::string why = unavailable_on(q.is_cuda() && k.is_cuda() && v.is_cuda()); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
  if (std::string why = unsupported(opts.kind, q.dim() == 4 ? q.size(3) : 0); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
  return forward(q, k, v, mask, opts);
}

at::Tensor AttentionBackend::packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head,
                                    const AttentionMask& mask, const AttentionOptions& opts) const {
  if (qkv.dim() != 4 || qkv.size(2) != n_head + 2 * n_kv_head)
    throw std::invalid_argument("attention: packed qkv must be [B, T, n_head + 2 * n_kv_head, D]");
  if (std::string why = unavailable_on(qkv.is_cuda()); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
  if (std::string why = unsupported(opts.kind, qkv.size(3)); !why.empty())
    throw std::invalid_argument("attention.backend: " + why);
  return forward_packed(qkv, n_head, n_kv_head, mask, opts);
}

at::Tensor AttentionBackend::forward_packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head,
                                            const AttentionMask& mask, const AttentionOptions& opts) const {
  // One split, not three narrows: its backward writes d(qkv) with one concatenation, where three narrows' would
  // each fill a zero tensor of the full size, copy their slice in and add the three up (docs/benchmarks.md).
  const auto parts = qkv.split_with_sizes({n_head, n_kv_head, n_kv_head}, 2);
  return forward(parts[0], parts[1], parts[2], mask, opts);
}

namespace {

class FunctionBackend final : public AttentionBackend {
 public:
  FunctionBackend(std::string name, AttentionBackendFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  const std::string& name() const override { return name_; }

 protected:
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                     const AttentionOptions& o) const override {
    return fn_(q, k, v, m, o);
  }

 private:
  std::string name_;
  AttentionBackendFn fn_;
};

class MathBackend final : public AttentionBackend {
 public:
  const std::string& name() const override { return name_; }

 protected:
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                     const AttentionOptions& o) const override {
    return math_attention(q, k, v, m, o);
  }

 private:
  std::string name_ = "math";
};

class SdpaBackend final : public AttentionBackend {
 public:
  const std::string& name() const override { return name_; }
  std::string unsupported(AttentionKind kind, int64_t) const override {
    return kind == AttentionKind::kSoftmax ? "" : "sdpa supports only kind: softmax; use math or fused for sigmoid";
  }

 protected:
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                     const AttentionOptions& o) const override {
    return sdpa_attention(q, k, v, m, o);
  }

 private:
  std::string name_ = "sdpa";
};

// Our CUDA kernels (models/attention_fused.cpp registers the function; without it the backend explains why not).
class FusedBackend final : public AttentionBackend {
 public:
  explicit FusedBackend(FusedAttentionFns fns) : fn_(fns.separate), packed_fn_(fns.packed) {}
  const std::string& name() const override { return name_; }
  std::string unsupported(AttentionKind kind, int64_t head_dim) const override {
    if (fn_ == nullptr)
      return "fused is not built into this binary (it needs nvcc and a CUDA LibTorch when sigtrain is built); use "
             "math or sdpa";
    if (kind != AttentionKind::kSigmoid)
      return "fused supports only kind: sigmoid (it is the sigmoid-attention kernel); use sdpa or math for softmax";
    if (head_dim == 0) return {};
    for (int64_t d : kFusedHeadDims)
      if (d == head_dim) return {};
    std::string dims;
    for (int64_t d : kFusedHeadDims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    return "fused supports head dims " + dims + ", not " + std::to_string(head_dim) +
           "; choose model.d_model / model.n_head among them, or use math";
  }
  std::string unavailable_on(bool cuda) const override {
    if (fn_ != nullptr && cuda) return {};
    return "fused needs a CUDA build with sigtrain's kernels and tensors on a CUDA device; use math or sdpa";
  }

 protected:
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                     const AttentionOptions& o) const override {
    return fn_(q, k, v, m, o);
  }
  at::Tensor forward_packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head, const AttentionMask& m,
                            const AttentionOptions& o) const override {
    if (packed_fn_ == nullptr) return AttentionBackend::forward_packed(qkv, n_head, n_kv_head, m, o);
    return packed_fn_(qkv, n_head, n_kv_head, m, o);
  }

 private:
  std::string name_ = "fused";
  FusedAttentionFn fn_;
  FusedPackedAttentionFn packed_fn_;
};

// Registration happens at set-up (the built-ins, tests); lookups happen when models are built, not per call.
struct Registry {
  std::mutex mu;
  std::map<std::string, AttentionBackendPtr> backends;
};

// What models/attention_fused.cpp installed (its install function runs while the registry is being made, so it
// cannot use the registry itself).
FusedAttentionFns& installed_fused_fns() {
  static FusedAttentionFns fns;
  return fns;
}
std::atomic<bool> g_registry_ready{false};

Registry& registry() {
  static Registry* r = [] {
#if defined(SIGTRAIN_HAVE_FUSED_ATTENTION)
    install_fused_attention();  // → register_fused_attention → installed_fused_fns()
#endif
    auto* reg = new Registry();
    reg->backends["math"] = std::make_shared<MathBackend>();
    reg->backends["sdpa"] = std::make_shared<SdpaBackend>();
    reg->backends["fused"] = std::make_shared<FusedBackend>(installed_fused_fns());
    g_registry_ready = true;
    return reg;
  }();
  return *r;
}

}  // namespace

void register_attention_backend(AttentionBackendPtr backend) {
  if (!backend) throw std::invalid_argument("register_attention_backend: null backend");
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.backends[backend->name()] = std::move(backend);
}

void register_attention_backend(const std::string& name, AttentionBackendFn fn) {
  register_attention_backend(std::make_shared<FunctionBackend>(name, std::move(fn)));
}

void register_fused_attention(const FusedAttentionFns& fns) {
  if (fns.separate == nullptr) throw std::invalid_argument("register_fused_attention: null function");
  installed_fused_fns() = fns;
  if (g_registry_ready) register_attention_backend(std::make_shared<FusedBackend>(fns));
}

bool fused_attention_built() {
  registry();  // installs the kernels' functions when the build has them
  return installed_fused_fns().separate != nullptr;
}

bool has_attention_backend(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.backends.count(name) > 0;
}

std::vector<std::string> attention_backend_names() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [n, _] : r.backends) names.push_back(n);
  return names;
}

AttentionBackendPtr find_attention_backend(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.backends.find(name);
  if (it != r.backends.end()) return it->second;
  std::ostringstream msg;
  msg << "attention.backend: unknown backend '" << name << "'; registered:";
  for (const auto& [n, _] : r.backends) msg << ' ' << n;
  throw std::invalid_argument(msg.str());
}

std::string attention_backend_rule_violation(const std::string& backend, AttentionKind kind, int64_t head_dim) {
  if (!has_attention_backend(backend)) {
    std::string names;
    for (const auto& n : attention_backend_names()) names += (names.empty() ? "" : " | ") + n;
    return "unknown backend '" + backend + "'; registered: " + names;
  }
  return find_attention_backend(backend)->unsupported(kind, head_dim);
}

at::Tensor attention(const std::string& backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionMask& mask, const AttentionOptions& opts) {
  return (*find_attention_backend(backend))(q, k, v, mask, opts);
}

at::Tensor alibi_slopes(int64_t n_head) {
  auto pow2_slopes = [](int64_t n) {
    std::vector<float> s;
    for (int64_t h = 1; h <= n; ++h) s.push_back(static_cast<float>(std::pow(2.0, -8.0 * h / n)));
    return s;
  };
  std::vector<float> slopes;
  int64_t closest = 1;
  while (closest * 2 <= n_head) closest *= 2;
  slopes = pow2_slopes(closest);
  if (closest != n_head) {
    auto extra = pow2_slopes(2 * closest);
    for (int64_t i = 0; i < n_head - closest; ++i) slopes.push_back(extra[2 * i]);
  }
  return torch::tensor(slopes, torch::kFloat);
}

at::Tensor attention_valid_mask(const AttentionMask& m, int64_t B, int64_t T_q, int64_t T_k,
                                const at::TensorOptions& dev) {
  const auto lopt = dev.dtype(at::kLong);
  at::Tensor len_k = lengths_or_full(m.key_lengths, B, T_k, dev).view({B, 1, 1, 1});
  at::Tensor len_q = lengths_or_full(m.query_lengths, B, T_q, dev).view({B, 1, 1, 1});
  at::Tensor i = torch::arange(T_q, lopt).view({1, 1, T_q, 1});
  at::Tensor j = torch::arange(T_k, lopt).view({1, 1, 1, T_k});
  at::Tensor valid = (j < len_k).logical_and(i < len_q);  // [B, 1, T_q, T_k]
  if (m.causal) valid = valid.logical_and(j <= i + (len_k - len_q));
  return valid;
}

at::Tensor attention_score_bias(const AttentionMask& m, const AttentionOptions& o, int64_t B, int64_t H,
                                int64_t T_q, int64_t T_k, const at::TensorOptions& dev) {
  const at::ScalarType bias_dtype =
      c10::typeMetaToScalarType(dev.dtype()) == at::kDouble ? at::kDouble : at::kFloat;
  const auto fopt = dev.dtype(bias_dtype);
  at::Tensor bias;
  auto add = [&bias](const at::Tensor& t) { bias = bias.defined() ? bias + t : t; };
  if (o.kind == AttentionKind::kSigmoid) {
    if (o.bias_mode == SigmoidBiasMode::kNegLogN) {
      at::Tensor n = lengths_or_full(m.key_lengths, B, T_k, dev).clamp_min(1).to(bias_dtype);
      add(-at::log(n).view({B, 1, 1, 1}));
    } else if (o.bias_value != 0.0) {
      add(torch::full({1, 1, 1, 1}, o.bias_value, fopt));
    }
  }
  if (m.alibi_slopes.defined()) {
    const auto lopt = dev.dtype(at::kLong);
    at::Tensor len_k = lengths_or_full(m.key_lengths, B, T_k, dev).view({B, 1, 1, 1});
    at::Tensor len_q = lengths_or_full(m.query_lengths, B, T_q, dev).view({B, 1, 1, 1});
    at::Tensor i = torch::arange(T_q, lopt).view({1, 1, T_q, 1});
    at::Tensor j = torch::arange(T_k, lopt).view({1, 1, 1, T_k});
    at::Tensor dist = (i + (len_k - len_q) - j).abs().to(bias_dtype);  // [B, 1, T_q, T_k]
    add(-m.alibi_slopes.to(fopt).view({1, H, 1, 1}) * dist);
  }
  if (m.key_bias.defined()) add(m.key_bias.to(fopt).view({B, 1, 1, T_k}));
  return bias;
}

at::Tensor math_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                          const AttentionOptions& o, at::Tensor* probs_out) {
  check_inputs(q, k, v, m);
  const int64_t H = q.size(2);
  Scores s = compute_scores(q, k, m, o);
  if (probs_out) *probs_out = s.P;
  at::Tensor out = at::matmul(s.P.to(v.scalar_type()), heads_first(v, H));  // [B, H, T_q, D]
  return out.transpose(1, 2);                                               // [B, T_q, H, D]
}

at::Tensor sdpa_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& m,
                          const AttentionOptions& o) {
  check_inputs(q, k, v, m);
  if (o.kind != AttentionKind::kSoftmax)
    throw std::invalid_argument("attention.backend: sdpa supports only kind: softmax; use math or fused for sigmoid");
  const int64_t B = q.size(0), T_q = q.size(1), H = q.size(2), D = q.size(3), T_k = k.size(1);
  at::Tensor qh = q.transpose(1, 2), kh = heads_first(k, H), vh = heads_first(v, H);
  const double scale = o.scale_for(D);
  const bool needs_mask = m.key_lengths.defined() || m.query_lengths.defined() || m.alibi_slopes.defined() ||
                          m.key_bias.defined() || (m.causal && T_q != T_k);
  if (!needs_mask) {
    // Plain or causal self-attention: the fused kernels (flash / cuDNN / efficient) apply.
    return at::scaled_dot_product_attention(qh, kh, vh, {}, 0.0, m.causal, scale).transpose(1, 2);
  }
  const auto dev = q.options();
  if (!m.causal && !m.query_lengths.defined() && !m.alibi_slopes.defined() && !m.key_bias.defined()) {
    // Key padding only (padded cells, utterances): one [B, 1, 1, T_k] mask that SDPA broadcasts over heads and
    // queries, not a [B, 1, T_q, T_k] tensor built per layer; every row of a sequence has the same keys, so only a
    // sequence without any key has fully masked rows (unmasked here, its output zeroed below).
    const at::Tensor len_k = m.key_lengths.to(dev.dtype(at::kLong)).view({B, 1, 1, 1});
    const at::Tensor has_keys = len_k > 0;
    const at::Tensor padded = torch::arange(T_k, dev.dtype(at::kLong)).view({1, 1, 1, T_k}) >= len_k;
    const at::Tensor key_mask = torch::zeros({B, 1, 1, T_k}, dev).masked_fill(
        padded.logical_and(has_keys), -std::numeric_limits<double>::infinity());
    at::Tensor out = at::scaled_dot_product_attention(qh, kh, vh, key_mask, 0.0, false, scale);
    return (out * has_keys.to(out.scalar_type())).transpose(1, 2);
  }
  at::Tensor valid = attention_valid_mask(m, B, T_q, T_k, dev);   // [B, 1, T_q, T_k]
  at::Tensor row_valid = valid.any(-1, true);                      // [B, 1, T_q, 1]
  // Fully masked rows would give NaN: unmask them here and zero their output below.
  valid = valid.logical_or(row_valid.logical_not());
  at::Tensor attn_mask = torch::zeros({B, 1, T_q, T_k}, dev.dtype(q.scalar_type()))
                             .masked_fill(valid.logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor bias = attention_score_bias(m, o, B, H, T_q, T_k, dev.dtype(at::kFloat));
  if (bias.defined()) attn_mask = attn_mask + bias.to(q.scalar_type());
  at::Tensor out = at::scaled_dot_product_attention(qh, kh, vh, attn_mask, 0.0, false, scale);
  out = out * row_valid.to(out.scalar_type());
  return out.transpose(1, 2);
}

AttentionStats compute_attention_stats(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                       const AttentionMask& mask, const AttentionOptions& opts, int64_t max_batch) {
  torch::NoGradGuard no_grad;
  const int64_t n = std::max<int64_t>(1, std::min<int64_t>(max_batch, q.size(0)));
  auto sub = [n](const at::Tensor& t) { return t.defined() ? t.narrow(0, 0, n) : t; };
  AttentionMask m = mask;
  m.key_lengths = sub(mask.key_lengths);
  m.query_lengths = sub(mask.query_lengths);
  m.key_bias = sub(mask.key_bias);
  at::Tensor qs = sub(q), ks = sub(k), vs = sub(v);
  check_inputs(qs, ks, vs, m);
  Scores s = compute_scores(qs, ks, m, opts);
  const int64_t H = qs.size(2);
  at::Tensor out = at::matmul(s.P.to(vs.scalar_type()), heads_first(vs, H)).to(at::kFloat);  // [n, H, T_q, D]

  AttentionStats st;
  st.valid = true;
  st.sampled_batch = n;
  st.via_reference = true;
  st.max_abs_logit = s.S.abs().masked_fill(s.valid.logical_not(), 0.0).amax().to(at::kFloat);
  at::Tensor rows = s.row_valid.squeeze(-1).expand({n, H, qs.size(1)}).to(at::kFloat);  // [n, H, T_q]
  at::Tensor count = rows.sum().clamp_min(1.0);
  at::Tensor mass = s.P.to(at::kFloat).sum(-1);  // [n, H, T_q]
  st.row_mass_mean = (mass * rows).sum() / count;
  st.row_mass_max = (mass * rows).amax();
  st.pv_norm = (out.norm(2, -1) * rows).sum() / count;
  return st;
}

}  // namespace sigtrain::models
