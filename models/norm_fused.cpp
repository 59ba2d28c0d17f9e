// The fused norm's autograd function around kernels/norm_kernel.h (models/norm_fused.h). Built with the kernels.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <stdexcept>

#include "models/norm_fused.h"
#include "norm_kernel.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

std::optional<K::NormDType> norm_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return K::NormDType::kFP32;
    case at::kBFloat16: return K::NormDType::kBF16;
    case at::kHalf: return K::NormDType::kFP16;
    default: return std::nullopt;
  }
}

bool aligned(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

K::NormParams params_for(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                         at::ScalarType out_dtype) {
  K::NormParams p;
  p.rms = rms;
  p.x_dtype = *norm_dtype(x.scalar_type());
  p.y_dtype = *norm_dtype(out_dtype);
  p.dim = x.size(-1);
  p.rows = x.numel() / p.dim;
  p.eps = static_cast<float>(eps);
  p.x = x.data_ptr();
  p.gamma = weight.data_ptr<float>();
  p.beta = bias.numel() > 0 ? bias.data_ptr<float>() : nullptr;
  return p;
}

struct FusedNorm : public torch::autograd::Function<FusedNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            double eps, bool rms, at::ScalarType out_dtype) {
    const c10::cuda::CUDAGuard guard(x.device());
    K::NormParams p = params_for(x, weight, bias, eps, rms, out_dtype);
    auto f32 = x.options().dtype(at::kFloat);
    at::Tensor mean = rms ? at::Tensor() : at::empty({p.rows}, f32), rstd = at::empty({p.rows}, f32);
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(out_dtype));
    p.mean = rms ? nullptr : mean.data_ptr<float>();
    p.rstd = rstd.data_ptr<float>();
    p.y = y.data_ptr();
    K::norm_forward(p, at::cuda::getCurrentCUDAStream());
    ctx->save_for_backward({x, weight, bias, mean, rstd});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["rms"] = rms;
    ctx->saved_data["out_dtype"] = static_cast<int64_t>(out_dtype);
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &bias = saved[2], &mean = saved[3], &rstd = saved[4];
    const c10::cuda::CUDAGuard guard(x.device());
    const bool rms = ctx->saved_data["rms"].toBool();
    const auto out_dtype = static_cast<at::ScalarType>(ctx->saved_data["out_dtype"].toInt());
    K::NormParams p = params_for(x, weight, bias, ctx->saved_data["eps"].toDouble(), rms, out_dtype);
    const at::Tensor dy = grads[0].to(out_dtype).contiguous();
    at::Tensor dx = at::empty_like(x), dweight = at::empty_like(weight);
    at::Tensor dbias = bias.numel() > 0 ? at::empty_like(bias) : at::Tensor();
    at::Tensor workspace = at::empty({K::norm_workspace_floats(p.rows, p.dim)}, x.options().dtype(at::kFloat));
    p.mean = rms ? nullptr : mean.data_ptr<float>();
    p.rstd = rstd.data_ptr<float>();
    p.dy = dy.data_ptr();
    p.dx = dx.data_ptr();
    p.dgamma = dweight.data_ptr<float>();
    p.dbeta = bias.numel() > 0 ? dbias.data_ptr<float>() : nullptr;
    p.workspace = workspace.data_ptr<float>();
    K::norm_backward(p, at::cuda::getCurrentCUDAStream());
    return {dx, dweight, dbias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// s = x + delta, y = norm(s) (models/norm_fused.h). Saves s, not x: the backward normalises what the forward did.
struct FusedAddNorm : public torch::autograd::Function<FusedAddNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& delta,
                             const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                             at::ScalarType out_dtype) {
    const c10::cuda::CUDAGuard guard(x.device());
    K::NormParams p = params_for(x, weight, bias, eps, rms, out_dtype);
    auto f32 = x.options().dtype(at::kFloat);
    at::Tensor mean = rms ? at::Tensor() : at::empty({p.rows}, f32), rstd = at::empty({p.rows}, f32);
    at::Tensor sum = at::empty_like(x);
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(out_dtype));
    p.mean = rms ? nullptr : mean.data_ptr<float>();
    p.rstd = rstd.data_ptr<float>();
    p.y = y.data_ptr();
    p.delta = delta.data_ptr();
    p.sum = sum.data_ptr();
    K::norm_forward(p, at::cuda::getCurrentCUDAStream());
    ctx->save_for_backward({sum, weight, bias, mean, rstd});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["rms"] = rms;
    ctx->saved_data["out_dtype"] = static_cast<int64_t>(out_dtype);
    ctx->saved_data["delta_dtype"] = static_cast<int64_t>(delta.scalar_type());
    return {sum, y};
  }

  // grads[0] reaches s from the rest of the residual stream (undefined when nothing used s, e.g. after the final
  // norm), grads[1] reaches y.
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &sum = saved[0], &weight = saved[1], &bias = saved[2], &mean = saved[3], &rstd = saved[4];
    const c10::cuda::CUDAGuard guard(sum.device());
    const bool rms = ctx->saved_data["rms"].toBool();
    const auto out_dtype = static_cast<at::ScalarType>(ctx->saved_data["out_dtype"].toInt());
    const auto delta_dtype = static_cast<at::ScalarType>(ctx->saved_data["delta_dtype"].toInt());
    K::NormParams p = params_for(sum, weight, bias, ctx->saved_data["eps"].toDouble(), rms, out_dtype);
    const at::Tensor dy = grads[1].defined() ? grads[1].to(out_dtype).contiguous() : at::zeros_like(sum, out_dtype);
    const at::Tensor dsum = grads[0].defined() ? grads[0].to(sum.scalar_type()).contiguous() : at::Tensor();
    at::Tensor dx = at::empty_like(sum), dweight = at::empty_like(weight);
    at::Tensor dbias = bias.numel() > 0 ? at::empty_like(bias) : at::Tensor();
    // delta's gradient is dx itself when the dtypes agree, else the kernel writes it in delta's dtype too.
    at::Tensor ddelta = delta_dtype == sum.scalar_type() ? dx : at::empty(sum.sizes(), sum.options().dtype(delta_dtype));
    at::Tensor workspace = at::empty({K::norm_workspace_floats(p.rows, p.dim)}, sum.options().dtype(at::kFloat));
    p.mean = rms ? nullptr : mean.data_ptr<float>();
    p.rstd = rstd.data_ptr<float>();
    p.dy = dy.data_ptr();
    p.dx = dx.data_ptr();
    p.dsum = dsum.defined() ? dsum.data_ptr() : nullptr;
    p.ddelta = ddelta.is_same(dx) ? nullptr : ddelta.data_ptr();
    p.dgamma = dweight.data_ptr<float>();
    p.dbeta = bias.numel() > 0 ? dbias.data_ptr<float>() : nullptr;
    p.workspace = workspace.data_ptr<float>();
    K::norm_backward(p, at::cuda::getCurrentCUDAStream());
    return {dx, ddelta, dweight, dbias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor bias_or_empty(const at::Tensor& bias, const at::Tensor& weight) {
  TORCH_CHECK(!bias.defined() || (bias.scalar_type() == at::kFloat && bias.is_contiguous()),
              "fused norm: the bias must be fp32");
  // A custom autograd function records every tensor input's device: "no bias" is an empty tensor, not an undefined one.
  return bias.defined() ? bias : at::empty({0}, weight.options());
}

}  // namespace

bool fused_norm_applicable(const at::Tensor& x, const at::Tensor& weight) {
  return x.is_cuda() && x.dim() >= 1 && x.is_contiguous() && aligned(x) && norm_dtype(x.scalar_type()) &&
         K::norm_supported(x.size(-1)) && weight.scalar_type() == at::kFloat && weight.is_contiguous() &&
         weight.numel() == x.size(-1);
}

at::Tensor fused_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                      at::ScalarType out_dtype) {
  TORCH_CHECK(fused_norm_applicable(x, weight), "fused norm: input or weight not supported (fused_norm_applicable)");
  TORCH_CHECK(out_dtype == x.scalar_type() || (x.scalar_type() == at::kFloat && norm_dtype(out_dtype)),
              "fused norm: y must be in x's dtype, or bf16 / fp16 for an fp32 x");
  return FusedNorm::apply(x, weight, bias_or_empty(bias, weight), eps, rms, out_dtype);
}

bool fused_add_norm_applicable(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                               at::ScalarType out_dtype) {
  const bool out_ok = out_dtype == x.scalar_type() || (x.scalar_type() == at::kFloat && norm_dtype(out_dtype));
  return out_ok && fused_norm_applicable(x, weight) && delta.defined() && delta.device() == x.device() &&
         delta.scalar_type() == out_dtype && delta.sizes() == x.sizes() && delta.is_contiguous() && aligned(delta);
}

std::pair<at::Tensor, at::Tensor> fused_add_norm(const at::Tensor& x, const at::Tensor& delta,
                                                 const at::Tensor& weight, const at::Tensor& bias, double eps,
                                                 bool rms, at::ScalarType out_dtype) {
  TORCH_CHECK(fused_add_norm_applicable(x, delta, weight, out_dtype),
              "fused add + norm: inputs not supported (fused_add_norm_applicable)");
  tensor_list out = FusedAddNorm::apply(x, delta, weight, bias_or_empty(bias, weight), eps, rms, out_dtype);
  return {out[0], out[1]};
}

}  // namespace sigtrain::models
