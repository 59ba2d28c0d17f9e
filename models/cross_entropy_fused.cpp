// The fused cross-entropy's autograd function around kernels/cross_entropy_kernel.h (models/cross_entropy.h).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <stdexcept>

#include "cross_entropy_kernel.h"
#include "models/cross_entropy.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

K::LogitsDType logits_dtype(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kBFloat16: return K::LogitsDType::kBF16;
    case at::kHalf: return K::LogitsDType::kFP16;
    case at::kFloat: return K::LogitsDType::kFP32;
    default: throw std::invalid_argument("fused cross_entropy: logits must be bf16, fp16 or fp32");
  }
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

struct FusedCrossEntropy : public torch::autograd::Function<FusedCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets_in,
                            int64_t ignore_index) {
    const c10::cuda::CUDAGuard guard(logits.device());
    const at::Tensor targets = targets_in.to(logits.device(), at::kLong).contiguous();
    auto f32 = logits.options().dtype(at::kFloat);
    at::Tensor lse = at::empty({logits.size(0)}, f32), loss = at::empty({logits.size(0)}, f32);
    K::CrossEntropyParams p = params_for(logits, targets, ignore_index);
    p.lse = lse.data_ptr<float>();
    p.loss = loss.data_ptr<float>();
    K::cross_entropy_forward(p, at::cuda::getCurrentCUDAStream());
    ctx->save_for_backward({logits, targets, lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    return loss;
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

}  // namespace

at::Tensor fused_cross_entropy_rows(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  TORCH_CHECK(logits.dim() == 2 && logits.stride(1) == 1, "fused cross_entropy: logits must be [R, V], V contiguous");
  TORCH_CHECK(targets.numel() == logits.size(0), "fused cross_entropy: ", targets.numel(), " targets for ",
              logits.size(0), " rows");
  return FusedCrossEntropy::apply(logits, targets, ignore_index);
}

}  // namespace sigtrain::models
