// The fused norm's autograd function around kernels/norm_kernel.h (models/norm_fused.h). Built with the kernels.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <stdexcept>

#include "models/kernel_element_type.h"
#include "models/norm_fused.h"
#include "norm_kernel.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

K::NormParams params_for(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                         at::ScalarType out_dtype) {
  K::NormParams p;
  p.rms = rms;
  p.x_dtype = *kernel_element_type(x.scalar_type());
  p.y_dtype = *kernel_element_type(out_dtype);
  p.dim = x.size(-1);
  p.rows = x.numel() / p.dim;
  p.eps = static_cast<float>(eps);
  p.x = x.data_ptr();
  p.gamma = weight.data_ptr<float>();
  p.beta = bias.numel() > 0 ? bias.data_ptr<float>() : nullptr;
  return p;
}

// What both autograd functions do around the kernel launch. Forward: the statistics (mean for LayerNorm, rstd)
// and y, wired into the parameters; the caller adds its own inputs, launches, and saves with save_forward().
struct ForwardBuffers {
  K::NormParams p;
  at::Tensor mean, rstd, y;
};
ForwardBuffers forward_buffers(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                               bool rms, at::ScalarType out_dtype) {
  ForwardBuffers f{params_for(x, weight, bias, eps, rms, out_dtype), {}, {}, {}};
  auto f32 = x.options().dtype(at::kFloat);
  if (!rms) f.mean = at::empty({f.p.rows}, f32);
  f.rstd = at::empty({f.p.rows}, f32);
  f.y = at::empty(x.sizes(), x.options().dtype(out_dtype));
  f.p.mean = rms ? nullptr : f.mean.data_ptr<float>();
  f.p.rstd = f.rstd.data_ptr<float>();
  f.p.y = f.y.data_ptr();
  return f;
}

// normalised: the tensor the forward normalised (x, or the sum s).
void save_forward(AutogradContext* ctx, const at::Tensor& normalised, const at::Tensor& weight, const at::Tensor& bias,
                  const ForwardBuffers& f, double eps, bool rms, at::ScalarType out_dtype) {
  ctx->save_for_backward({normalised, weight, bias, f.mean, f.rstd});
  ctx->saved_data["eps"] = eps;
  ctx->saved_data["rms"] = rms;
  ctx->saved_data["out_dtype"] = static_cast<int64_t>(out_dtype);
}

// Backward: the saved tensors and settings back, dy (y's gradient, undefined: zeros) in y's dtype, and dx, dγ, dβ
// and the workspace allocated and wired in; the caller adds its own outputs and launches.
struct BackwardBuffers {
  K::NormParams p;
  at::Tensor normalised, dy, dx, dweight, dbias, workspace;
};
BackwardBuffers backward_buffers(AutogradContext* ctx, const at::Tensor& grad_y) {
  const auto saved = ctx->get_saved_variables();
  const at::Tensor &normalised = saved[0], &weight = saved[1], &bias = saved[2], &mean = saved[3], &rstd = saved[4];
  const bool rms = ctx->saved_data["rms"].toBool();
  const auto out_dtype = static_cast<at::ScalarType>(ctx->saved_data["out_dtype"].toInt());
  BackwardBuffers b{params_for(normalised, weight, bias, ctx->saved_data["eps"].toDouble(), rms, out_dtype),
                    normalised, {}, {}, {}, {}, {}};
  b.dy = grad_y.defined() ? grad_y.to(out_dtype).contiguous() : at::zeros_like(normalised, out_dtype);
  b.dx = at::empty_like(normalised);
  b.dweight = at::empty_like(weight);
  if (bias.numel() > 0) b.dbias = at::empty_like(bias);
  b.workspace = at::empty({K::norm_workspace_floats(b.p.rows, b.p.dim)}, normalised.options().dtype(at::kFloat));
  b.p.mean = rms ? nullptr : mean.data_ptr<float>();
  b.p.rstd = rstd.data_ptr<float>();
  b.p.dy = b.dy.data_ptr();
  b.p.dx = b.dx.data_ptr();
  b.p.dgamma = b.dweight.data_ptr<float>();
  b.p.dbeta = bias.numel() > 0 ? b.dbias.data_ptr<float>() : nullptr;
  b.p.workspace = b.workspace.data_ptr<float>();
  return b;
}

struct FusedNorm : public torch::autograd::Function<FusedNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            double eps, bool rms, at::ScalarType out_dtype) {
    const c10::cuda::CUDAGuard guard(x.device());
    ForwardBuffers f = forward_buffers(x, weight, bias, eps, rms, out_dtype);
    K::norm_forward(f.p, at::cuda::getCurrentCUDAStream());
    save_forward(ctx, x, weight, bias, f, eps, rms, out_dtype);
    return f.y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    BackwardBuffers b = backward_buffers(ctx, grads[0]);
    const c10::cuda::CUDAGuard guard(b.normalised.device());
    K::norm_backward(b.p, at::cuda::getCurrentCUDAStream());
    return {b.dx, b.dweight, b.dbias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// s = x + (delta + delta_bias), y = norm(s) (models/norm_fused.h); delta_bias empty: none. Saves s, not x: the
// backward normalises what the forward did.
struct FusedAddNorm : public torch::autograd::Function<FusedAddNorm> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& delta,
                             const at::Tensor& delta_bias, const at::Tensor& weight, const at::Tensor& bias, double eps,
                             bool rms, at::ScalarType out_dtype) {
    const c10::cuda::CUDAGuard guard(x.device());
    ForwardBuffers f = forward_buffers(x, weight, bias, eps, rms, out_dtype);
    at::Tensor sum = at::empty_like(x);
    f.p.delta = delta.data_ptr();
    f.p.delta_bias = delta_bias.numel() > 0 ? delta_bias.data_ptr<float>() : nullptr;
    f.p.sum = sum.data_ptr();
    K::norm_forward(f.p, at::cuda::getCurrentCUDAStream());
    save_forward(ctx, sum, weight, bias, f, eps, rms, out_dtype);
    ctx->saved_data["delta_dtype"] = static_cast<int64_t>(delta.scalar_type());
    ctx->saved_data["delta_bias"] = delta_bias.numel() > 0;
    return {sum, f.y};
  }

  // grads[0] reaches s from the rest of the residual stream (undefined when nothing used s, e.g. after the final
  // norm), grads[1] reaches y.
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    BackwardBuffers b = backward_buffers(ctx, grads[1]);
    const at::Tensor& sum = b.normalised;
    const c10::cuda::CUDAGuard guard(sum.device());
    const auto delta_dtype = static_cast<at::ScalarType>(ctx->saved_data["delta_dtype"].toInt());
    const at::Tensor dsum = grads[0].defined() ? grads[0].to(sum.scalar_type()).contiguous() : at::Tensor();
    // delta's gradient is dx itself when the dtypes agree, else the kernel writes it in delta's dtype too.
    at::Tensor ddelta = delta_dtype == sum.scalar_type() ? b.dx : at::empty(sum.sizes(), sum.options().dtype(delta_dtype));
    b.p.dsum = dsum.defined() ? dsum.data_ptr() : nullptr;
    b.p.ddelta = ddelta.is_same(b.dx) ? nullptr : ddelta.data_ptr();
    at::Tensor ddelta_bias;  // Σ_rows of s's gradient, from the same pass
    if (ctx->saved_data["delta_bias"].toBool()) {
      ddelta_bias = at::empty({b.p.dim}, sum.options().dtype(at::kFloat));
      b.p.ddelta_bias = ddelta_bias.data_ptr<float>();
    }
    K::norm_backward(b.p, at::cuda::getCurrentCUDAStream());
    return {b.dx, ddelta, ddelta_bias, b.dweight, b.dbias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor bias_or_empty(const at::Tensor& bias, const at::Tensor& weight) {
  TORCH_CHECK(!bias.defined() || (bias.scalar_type() == at::kFloat && bias.is_contiguous() && aligned_to(bias, 16) &&
                                  bias.numel() == weight.numel()),
              "fused norm: a bias must be fp32, contiguous, 16-byte aligned and of the norm's dim");
  // A custom autograd function records every tensor input's device: "no bias" is an empty tensor, not an undefined one.
  return bias.defined() ? bias : at::empty({0}, weight.options());
}

}  // namespace

bool fused_norm_applicable(const at::Tensor& x, const at::Tensor& weight) {
  return x.is_cuda() && x.dim() >= 1 && x.is_contiguous() && aligned_to(x, 16) &&
         kernel_element_type(x.scalar_type()) && K::norm_supported(x.size(-1)) && weight.scalar_type() == at::kFloat &&
         weight.is_contiguous() && weight.numel() == x.size(-1);
}

at::Tensor fused_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool rms,
                      at::ScalarType out_dtype) {
  TORCH_CHECK(fused_norm_applicable(x, weight), "fused norm: input or weight not supported (fused_norm_applicable)");
  TORCH_CHECK(out_dtype == x.scalar_type() || (x.scalar_type() == at::kFloat && kernel_element_type(out_dtype)),
              "fused norm: y must be in x's dtype, or bf16 / fp16 for an fp32 x");
  return FusedNorm::apply(x, weight, bias_or_empty(bias, weight), eps, rms, out_dtype);
}

bool fused_add_norm_applicable(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                               at::ScalarType out_dtype) {
  const bool out_ok = out_dtype == x.scalar_type() || (x.scalar_type() == at::kFloat && kernel_element_type(out_dtype));
  return out_ok && fused_norm_applicable(x, weight) && delta.defined() && delta.device() == x.device() &&
         delta.scalar_type() == out_dtype && delta.sizes() == x.sizes() && delta.is_contiguous() &&
         aligned_to(delta, 16);
}

std::pair<at::Tensor, at::Tensor> fused_add_norm(const at::Tensor& x, const at::Tensor& delta,
                                                 const at::Tensor& weight, const at::Tensor& bias, double eps,
                                                 bool rms, at::ScalarType out_dtype, const at::Tensor& delta_bias) {
  TORCH_CHECK(fused_add_norm_applicable(x, delta, weight, out_dtype),
              "fused add + norm: inputs not supported (fused_add_norm_applicable)");
  tensor_list out = FusedAddNorm::apply(x, delta, bias_or_empty(delta_bias, weight), weight,
                                        bias_or_empty(bias, weight), eps, rms, out_dtype);
  return {out[0], out[1]};
}

}  // namespace sigtrain::models
