// The fused linear layer's autograd function (models/linear_fused.h). With M rows, I inputs, O outputs:
//   y  [M, O] = x Wᵀ + b      one GEMM in the compute dtype with its bias epilogue (epilogue_ops::linear_forward)
//   dW [O, I] = dyᵀ x, db     one GEMM writing fp32, db = Σ over M by our column sum (epilogue_ops::weight_and_bias_grad)
//   dx [M, I] = dy W          one GEMM (epilogue_ops::input_grad)
// All three through kernels/gemm_epilogue.h, so fused_ops.gemm_algo chooses their algorithms (models/gemm_algos.h).
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <vector>

#include "models/gemm_epilogue_ops.h"
#include "models/linear_fused.h"

namespace sigtrain::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct FusedLinear : public torch::autograd::Function<FusedLinear> {
  // x [M, I] in the compute dtype, contiguous; fp32 weight; bias fp32 or empty; w_cast / b_cast their copies in the
  // compute dtype (epilogue_ops::cast_from), which the GEMMs read; the gradients go to w and b.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                            const at::Tensor& w_cast, const at::Tensor& b_cast) {
    const c10::cuda::CUDAGuard guard(x.device());
    const at::ScalarType dt = x.scalar_type();
    const bool has_bias = b.numel() > 0;
    TORCH_CHECK(w_cast.scalar_type() == dt && w.sizes() == w_cast.sizes(), "fused linear: weight copy mismatch");
    const at::Tensor y = epilogue_ops::linear_forward(x, w_cast, b_cast, "linear");
    ctx->save_for_backward({x, w_cast});
    ctx->saved_data["has_bias"] = has_bias;
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &wh = saved[1];
    const c10::cuda::CUDAGuard guard(x.device());
    const at::Tensor dy = grads[0].to(x.scalar_type()).contiguous();
    auto [dw, db] = epilogue_ops::weight_and_bias_grad(x, dy, ctx->saved_data["has_bias"].toBool(), "linear");
    return {epilogue_ops::input_grad(dy, wh, "linear"), dw, db, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fused_linear_applicable(const at::Tensor& x, const at::Tensor& weight) {
  return epilogue_ops::gemm_weight_fits(x, weight) && weight.size(0) % 8 == 0;
}

at::Tensor fused_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                        const WeightCasts* casts) {
  TORCH_CHECK(fused_linear_applicable(x, weight), "fused linear: input or weight not supported (fused_linear_applicable)");
  TORCH_CHECK(!bias.defined() || (bias.scalar_type() == at::kFloat && bias.is_contiguous()),
              "fused linear: the bias must be fp32");
  const at::ScalarType dt = *epilogue_ops::compute_dtype(x);
  // A custom autograd function records every tensor input's device: "no bias" is an empty tensor, not an undefined one.
  const at::Tensor b = bias.defined() ? bias : at::empty({0}, weight.options());
  at::Tensor y = FusedLinear::apply(epilogue_ops::gemm_rows(x, dt), weight, b, epilogue_ops::cast_from(casts, weight, dt),
                                    epilogue_ops::cast_from(casts, b, dt));
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  return y.view(shape);
}

}  // namespace sigtrain::models
