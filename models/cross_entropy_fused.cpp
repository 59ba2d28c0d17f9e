// The fused cross-entropy's autograd functions around kernels/cross_entropy_kernel.h: the loss over given logits
// (models/cross_entropy.h) and the head's GEMM with the loss (models/head_loss.h).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <stdexcept>

#include "cross_entropy_kernel.h"
#include "models/cross_entropy.h"
#include "models/gemm_epilogue_ops.h"
#include "models/head_loss.h"
#include "models/kernel_element_type.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

K::ElementType logits_dtype(const at::Tensor& t) {
  const auto e = kernel_element_type(t.scalar_type());
  if (!e) throw std::invalid_argument("fused cross_entropy: logits must be bf16, fp16 or fp32");
  return *e;
}

K::CrossEntropyParams params_for(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  K::CrossEntropyParams p;
  p.dtype = logits_dtype(logits);
  p.rows = logits.size(0);
  p.vocab = logits.size(1);
  p.logits = logits.data_ptr();
  p.row_stride = logits.size(0) > 1 ? logits.stride(0) : logits.size(1);
  p.targets = targets.data_ptr<int64_t>();
  p.ignore_index = ignore_index;
  return p;
}

// The forward's outputs (fp32 per row) and the kernel's parameters pointing at them.
struct ForwardLaunch {
  at::Tensor lse, loss;
  K::CrossEntropyParams p;
};

ForwardLaunch forward_launch(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  auto f32 = logits.options().dtype(at::kFloat);
  ForwardLaunch f{at::empty({logits.size(0)}, f32), at::empty({logits.size(0)}, f32),
                  params_for(logits, targets, ignore_index)};
  f.p.lse = f.lse.data_ptr<float>();
  f.p.loss = f.loss.data_ptr<float>();
  return f;
}

struct FusedCrossEntropy : public torch::autograd::Function<FusedCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets_in,
                            int64_t ignore_index) {
    const c10::cuda::CUDAGuard guard(logits.device());
    const at::Tensor targets = targets_in.to(logits.device(), at::kLong).contiguous();
    const ForwardLaunch f = forward_launch(logits, targets, ignore_index);
    K::cross_entropy_forward(f.p, at::cuda::getCurrentCUDAStream());
    ctx->save_for_backward({logits, targets, f.lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    return f.loss;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &targets = saved[1], &lse = saved[2];
    const c10::cuda::CUDAGuard guard(logits.device());
    const at::Tensor grad_loss = grads[0].to(at::kFloat);  // [R], often an expanded scalar (stride 0)
    at::Tensor grad_logits = at::empty({logits.size(0), logits.size(1)}, logits.options());
    K::CrossEntropyParams p = params_for(logits, targets, ctx->saved_data["ignore_index"].toInt());
    p.lse = lse.data_ptr<float>();
    p.grad_loss = grad_loss.data_ptr<float>();
    p.grad_loss_stride = grad_loss.size(0) > 1 ? grad_loss.stride(0) : 0;
    p.grad_logits = grad_logits.data_ptr();
    p.grad_row_stride = logits.size(1);
    K::cross_entropy_backward(p, at::cuda::getCurrentCUDAStream());
    return {grad_logits, at::Tensor(), at::Tensor()};
  }
};

// x [R, d] in the compute dtype, contiguous; w the fp32 weight [V, d] (the gradient's destination), w_cast its
// compute-dtype copy (what the GEMMs read) with V_pad ≥ V rows, the rows past V zero (padded_head_weight); targets
// int64 [R] on x's device. Returns Σ of the rows' losses. With V_pad > V the GEMMs run on [R, V_pad] logits whose
// columns past V are x · 0 = 0 and stay out of the loss (the kernel reads V columns of each V_pad-long row); they
// contribute nothing to dx (zero weight rows) and their dW rows are dropped.
struct FusedHeadLoss : public torch::autograd::Function<FusedHeadLoss> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& w_cast,
                            const at::Tensor& targets, int64_t ignore_index) {
    const c10::cuda::CUDAGuard guard(x.device());
    TORCH_CHECK(w_cast.scalar_type() == x.scalar_type() && w_cast.size(1) == w.size(1) && w_cast.size(0) >= w.size(0),
                "fused head loss: weight copy mismatch");
    const at::Tensor padded_logits = at::mm(x, w_cast.t());  // [R, V_pad]; becomes the unit gradient below
    const at::Tensor logits = padded_logits.narrow(1, 0, w.size(0));
    ForwardLaunch f = forward_launch(logits, targets, ignore_index);
    f.p.grad_logits = logits.data_ptr();
    f.p.grad_row_stride = f.p.row_stride;
    K::cross_entropy_forward(f.p, at::cuda::getCurrentCUDAStream());
    ctx->save_for_backward({x, w_cast, padded_logits});
    ctx->saved_data["vocab"] = w.size(0);
    return f.loss.sum();
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w_cast = saved[1], &unit_grad = saved[2];
    const int64_t vocab = ctx->saved_data["vocab"].toInt();
    const c10::cuda::CUDAGuard guard(x.device());
    const at::Tensor g = grads[0].to(at::kFloat);  // 0-dim; stays on the device
    // dW = Dᵀ (g x): the scaling on the small side of the GEMM; a 0-dim fp32 factor keeps x's dtype.
    at::Tensor dw = epilogue_ops::weight_and_bias_grad(x * g, unit_grad, /*has_bias=*/false, "head_loss").first;
    if (dw.size(0) != vocab) dw = dw.narrow(0, 0, vocab).contiguous();  // the padding rows' gradient: dropped
    at::Tensor dx = at::mm(unit_grad, w_cast);
    dx.mul_(g);
    return {dx, dw, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// The head weight's compute-dtype copy with its rows padded with zeros to a multiple of 8: cuBLAS's fast kernels
// need 16-byte rows, and with an odd vocabulary (the encoders' V = 8,193: 8,192 pieces and [MASK]) the [R, V] GEMMs
// ran on sm75 align-1 kernels, 3.45 ms per step of the 160M/8K encoder on an H100 (docs/benchmarks.md).
// torch.compile pads the same way. An aligned V is returned as it is.
at::Tensor padded_head_weight(const at::Tensor& w_cast) {
  const int64_t vocab = w_cast.size(0), padded = (vocab + 7) / 8 * 8;
  if (padded == vocab) return w_cast;
  const at::NoGradGuard no_grad;  // the op returns no gradient for the copy; w's comes from its own backward
  at::Tensor out = at::zeros({padded, w_cast.size(1)}, w_cast.options());
  out.narrow(0, 0, vocab).copy_(w_cast);
  return out;
}

}  // namespace

// The head's GEMMs are a linear layer's without a bias: the fused linear's conditions, except that V may be any
// size (the weight copy is padded to a multiple of 8: padded_head_weight).
bool fused_head_loss_applicable(const at::Tensor& x, const at::Tensor& weight) {
  return epilogue_ops::gemm_weight_fits(x, weight) && weight.size(0) > 0;
}

at::Tensor fused_head_loss_sum(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& targets,
                               int64_t ignore_index, const WeightCasts* casts) {
  TORCH_CHECK(fused_head_loss_applicable(x, weight),
              "fused head loss: input or weight not supported (fused_head_loss_applicable)");
  const int64_t rows = x.numel() / x.size(-1);
  TORCH_CHECK(targets.numel() == rows, "fused head loss: ", targets.numel(), " targets for ", rows, " rows");
  const at::ScalarType dt = *epilogue_ops::compute_dtype(x);
  const at::Tensor flat_targets = targets.reshape({-1}).to(x.device(), at::kLong).contiguous();
  return FusedHeadLoss::apply(epilogue_ops::gemm_rows(x, dt), weight,
                              padded_head_weight(epilogue_ops::cast_from(casts, weight, dt)), flat_targets,
                              ignore_index);
}

at::Tensor fused_cross_entropy_rows(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  TORCH_CHECK(logits.dim() == 2 && logits.stride(1) == 1, "fused cross_entropy: logits must be [R, V], V contiguous");
  TORCH_CHECK(targets.numel() == logits.size(0), "fused cross_entropy: ", targets.numel(), " targets for ",
              logits.size(0), " rows");
  return FusedCrossEntropy::apply(logits, targets, ignore_index);
}

}  // namespace sigtrain::models
