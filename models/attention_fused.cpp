// The `fused` attention backend: an autograd function around the torch-free sigmoid-attention kernels of kernels/
// (sigmoid_attention.h). Inputs stay in their [B, T, H, D] views (strides passed through, no copies unless the last
// dim is not contiguous or the alignment the kernels need is missing); the kernels run on the current CUDA stream.
// Two entry points: q, k, v separately (after QK-norm or RoPE), or the projection's packed qkv whole, whose
// backward writes d(qkv) into one buffer (no concatenation of dq, dk, dv by autograd's split backward).
// Conventions (causal alignment, b = −log(valid keys), ALiBi, key bias, fully masked rows = 0) are those of
// models/attention.h, which the kernels implement natively.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "models/attention.h"
#include "sigmoid_attention.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Element strides of a [B, T, H, D] view; size-1 dims get stride 0 (never used, so any value is fine).
K::Strides strides_of(const at::Tensor& t) {
  auto st = [&](int d) { return t.size(d) == 1 ? int64_t{0} : t.stride(d); };
  return {st(0), st(1), st(2)};
}

// The kernels need the head dim contiguous, a 16-byte aligned base and strides that are multiples of 8 elements.
at::Tensor kernel_ready(const at::Tensor& t) {
  const K::Strides s = strides_of(t);
  const bool ok = t.stride(3) == 1 && (reinterpret_cast<uintptr_t>(t.data_ptr()) % 16) == 0 && s.batch % 8 == 0 &&
                  s.seq % 8 == 0 && s.head % 8 == 0;
  return ok ? t : t.contiguous();
}

at::Tensor int32_lengths(const at::Tensor& lengths, const at::Tensor& like) {
  if (!lengths.defined()) return {};
  return lengths.to(like.device(), at::kInt).contiguous();
}

struct FusedArgs {
  at::Tensor key_lengths, query_lengths, alibi, key_bias;  // prepared (int32 / fp32 on the device) or undefined
  bool causal = false;
  K::BiasMode bias_mode = K::BiasMode::kNegLogValidKeys;
  float bias_value = 0.f;
  float scale = 0.f;
  K::SigmoidMode sigmoid_mode = K::SigmoidMode::kTanhApprox;
};

K::SigmoidAttentionParams make_params(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const FusedArgs& a) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw std::invalid_argument("fused attention: q, k, v must be [B, T, H, D]");
  if (q.scalar_type() != k.scalar_type() || q.scalar_type() != v.scalar_type())
    throw std::invalid_argument("fused attention: q, k, v must have one dtype");
  K::SigmoidAttentionParams p;
  if (q.scalar_type() == at::kBFloat16) p.dtype = K::DType::kBF16;
  else if (q.scalar_type() == at::kHalf) p.dtype = K::DType::kFP16;
  else
    throw std::invalid_argument(std::string("fused attention: dtype ") + c10::toString(q.scalar_type()) +
                                " not supported (bfloat16 or float16; use the math backend for float32)");
  p.batch = static_cast<int>(q.size(0));
  p.n_q = static_cast<int>(q.size(1));
  p.heads_q = static_cast<int>(q.size(2));
  p.head_dim = static_cast<int>(q.size(3));
  p.n_k = static_cast<int>(k.size(1));
  p.heads_kv = static_cast<int>(k.size(2));
  if (k.size(0) != q.size(0) || v.sizes() != k.sizes() || k.size(3) != q.size(3))
    throw std::invalid_argument("fused attention: k and v must be [B, T_k, H_kv, D] matching q");
  p.scale = a.scale;
  p.q = q.data_ptr(); p.q_strides = strides_of(q);
  p.k = k.data_ptr(); p.k_strides = strides_of(k);
  p.v = v.data_ptr(); p.v_strides = strides_of(v);
  p.seq_lens_q = a.query_lengths.defined() ? a.query_lengths.data_ptr<int32_t>() : nullptr;
  p.seq_lens_k = a.key_lengths.defined() ? a.key_lengths.data_ptr<int32_t>() : nullptr;
  p.causal = a.causal;
  p.bias_mode = a.bias_mode;
  p.bias_scalar = a.bias_value;
  p.alibi_slopes = a.alibi.defined() ? a.alibi.data_ptr<float>() : nullptr;
  if (a.key_bias.defined()) {
    p.key_bias = a.key_bias.data_ptr<float>();
    p.key_bias_stride_batch = a.key_bias.size(0) == 1 ? 0 : a.key_bias.stride(0);
  }
  p.sigmoid_mode = a.sigmoid_mode;
  return p;
}

// The options travel through the autograd context between forward and backward.
void save_args(AutogradContext* ctx, const FusedArgs& args) {
  ctx->saved_data["causal"] = args.causal;
  ctx->saved_data["bias_mode"] = static_cast<int64_t>(args.bias_mode);
  ctx->saved_data["bias_value"] = static_cast<double>(args.bias_value);
  ctx->saved_data["scale"] = static_cast<double>(args.scale);
  ctx->saved_data["sigmoid_mode"] = static_cast<int64_t>(args.sigmoid_mode);
  if (args.key_lengths.defined()) ctx->saved_data["key_lengths"] = args.key_lengths;
  if (args.query_lengths.defined()) ctx->saved_data["query_lengths"] = args.query_lengths;
  if (args.alibi.defined()) ctx->saved_data["alibi"] = args.alibi;
  if (args.key_bias.defined()) ctx->saved_data["key_bias"] = args.key_bias;
}

FusedArgs load_args(AutogradContext* ctx) {
  FusedArgs a;
  a.causal = ctx->saved_data["causal"].toBool();
  a.bias_mode = static_cast<K::BiasMode>(ctx->saved_data["bias_mode"].toInt());
  a.bias_value = static_cast<float>(ctx->saved_data["bias_value"].toDouble());
  a.scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
  a.sigmoid_mode = static_cast<K::SigmoidMode>(ctx->saved_data["sigmoid_mode"].toInt());
  auto opt = [&](const char* name) {
    return ctx->saved_data.count(name) ? ctx->saved_data[name].toTensor() : at::Tensor();
  };
  a.key_lengths = opt("key_lengths");
  a.query_lengths = opt("query_lengths");
  a.alibi = opt("alibi");
  a.key_bias = opt("key_bias");
  return a;
}

// O [B, T_q, H, D] (contiguous) from kernel-ready q, k, v.
at::Tensor run_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const FusedArgs& args) {
  K::SigmoidAttentionParams p = make_params(q, k, v, args);
  at::Tensor o = at::empty({q.size(0), q.size(1), q.size(2), q.size(3)}, q.options());
  p.o = o.data_ptr();
  p.o_strides = strides_of(o);
  K::sigmoid_attention_forward(p, at::cuda::getCurrentCUDAStream().stream());
  return o;
}

// Writes dq, dk, dv (any kernel-ready views, e.g. of one packed buffer) from the upstream gradient of O.
void run_backward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& dout_in,
                  const FusedArgs& args, const at::Tensor& dq, const at::Tensor& dk, const at::Tensor& dv) {
  const at::Tensor dout = kernel_ready(dout_in.to(q.scalar_type()));
  K::SigmoidAttentionParams p = make_params(q, k, v, args);
  p.dout = dout.data_ptr(); p.dout_strides = strides_of(dout);
  p.dq = dq.data_ptr(); p.dq_strides = strides_of(dq);
  p.dk = dk.data_ptr(); p.dk_strides = strides_of(dk);
  p.dv = dv.data_ptr(); p.dv_strides = strides_of(dv);
  const size_t ws_bytes = K::sigmoid_attention_backward_workspace_bytes(p);
  at::Tensor ws = at::empty({static_cast<int64_t>(std::max<size_t>(ws_bytes, 16))}, q.options().dtype(at::kByte));
  K::sigmoid_attention_backward(p, ws.data_ptr(), at::cuda::getCurrentCUDAStream().stream());
}

class FusedSigmoidAttention : public torch::autograd::Function<FusedSigmoidAttention> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q_in, const at::Tensor& k_in,
                            const at::Tensor& v_in, const FusedArgs& args) {
    const c10::cuda::CUDAGuard guard(q_in.device());
    const at::Tensor q = kernel_ready(q_in), k = kernel_ready(k_in), v = kernel_ready(v_in);
    at::Tensor o = run_forward(q, k, v, args);
    ctx->save_for_backward({q, k, v});
    save_args(ctx, args);
    return o;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    const c10::cuda::CUDAGuard guard(q.device());
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    at::Tensor dq = at::empty(q.sizes(), q.options()), dk = at::empty(k.sizes(), k.options()),
               dv = at::empty(v.sizes(), v.options());
    run_backward(q, k, v, grads[0], load_args(ctx), dq, dk, dv);
    return {dq, dk, dv, at::Tensor()};  // one entry per forward argument (the last is FusedArgs)
  }
};

// q, k, v as views of one packed qkv [B, T, H + 2·H_kv, D]: the backward writes dq, dk and dv into the matching
// views of one d(qkv) buffer and returns it whole (no concatenation of three gradients).
std::array<at::Tensor, 3> split_packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head) {
  return {qkv.narrow(2, 0, n_head), qkv.narrow(2, n_head, n_kv_head), qkv.narrow(2, n_head + n_kv_head, n_kv_head)};
}

class FusedSigmoidAttentionPacked : public torch::autograd::Function<FusedSigmoidAttentionPacked> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& qkv_in, int64_t n_head, int64_t n_kv_head,
                            const FusedArgs& args) {
    const c10::cuda::CUDAGuard guard(qkv_in.device());
    // Kernel-ready as a whole: with D a multiple of 8, each head's views then are too (no per-view copies).
    const at::Tensor qkv = kernel_ready(qkv_in);
    const auto [q, k, v] = split_packed(qkv, n_head, n_kv_head);
    at::Tensor o = run_forward(q, k, v, args);
    ctx->save_for_backward({qkv});
    ctx->saved_data["n_head"] = n_head;
    ctx->saved_data["n_kv_head"] = n_kv_head;
    save_args(ctx, args);
    return o;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const at::Tensor qkv = ctx->get_saved_variables()[0];
    const c10::cuda::CUDAGuard guard(qkv.device());
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const int64_t n_head = ctx->saved_data["n_head"].toInt(), n_kv_head = ctx->saved_data["n_kv_head"].toInt();
    const auto [q, k, v] = split_packed(qkv, n_head, n_kv_head);
    at::Tensor dqkv = at::empty(qkv.sizes(), qkv.options());
    const auto [dq, dk, dv] = split_packed(dqkv, n_head, n_kv_head);
    run_backward(q, k, v, grads[0], load_args(ctx), dq, dk, dv);
    return {dqkv, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// The options as the kernels take them (lengths as int32, ALiBi slopes and key bias as fp32 on q's device).
FusedArgs fused_args(const at::Tensor& like, int64_t head_dim, int64_t n_k, const AttentionMask& mask,
                     const FusedAttentionOptions& opts) {
  FusedArgs a;
  a.causal = mask.causal;
  a.key_lengths = int32_lengths(mask.key_lengths, like);
  a.query_lengths = int32_lengths(mask.query_lengths, like);
  if (mask.alibi_slopes.defined()) a.alibi = mask.alibi_slopes.to(like.device(), at::kFloat).contiguous();
  if (mask.key_bias.defined()) {
    at::Tensor kb = mask.key_bias.to(like.device(), at::kFloat);
    if (kb.dim() != 2 || kb.size(1) != n_k) throw std::invalid_argument("fused attention: key_bias must be [B, T_k]");
    a.key_bias = kb.stride(1) == 1 ? kb : kb.contiguous();
  }
  a.bias_mode = opts.bias_mode == SigmoidBiasMode::kConstant ? K::BiasMode::kScalar : K::BiasMode::kNegLogValidKeys;
  a.bias_value = static_cast<float>(opts.bias_value);
  a.scale = static_cast<float>(opts.scale_for(head_dim));
  a.sigmoid_mode = opts.sigmoid_approx == SigmoidApprox::kExact ? K::SigmoidMode::kExact
                                                                 : K::SigmoidMode::kTanhApprox;
  return a;
}

// Wrappers: a custom autograd Function's forward may only take tensors and plain values that it returns gradients
// for positionally, so the options travel in one struct and backward returns undefined for it.
// The backend's rules (sigmoid only, CUDA tensors, kFusedHeadDims) are checked by the registry's FusedBackend
// before these run (models/attention.cpp); the kernels refuse any other unsupported shape with their reason.
at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionMask& mask,
                           const FusedAttentionOptions& opts) {
  return FusedSigmoidAttention::apply(q, k, v, fused_args(q, q.size(3), k.size(1), mask, opts));
}

at::Tensor fused_attention_packed(const at::Tensor& qkv, int64_t n_head, int64_t n_kv_head, const AttentionMask& mask,
                                  const FusedAttentionOptions& opts) {
  return FusedSigmoidAttentionPacked::apply(qkv, n_head, n_kv_head,
                                            fused_args(qkv, qkv.size(3), qkv.size(1), mask, opts));
}

}  // namespace

void install_fused_attention() { register_fused_attention({&fused_attention, &fused_attention_packed}); }

}  // namespace sigtrain::models
