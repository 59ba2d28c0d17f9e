// The fused GELU MLP's autograd function around kernels/gemm_epilogue.h (models/mlp_fused.h). Built with the
// kernels. Row-major [rows, cols] tensors are column-major cols × rows matrices to cuBLASLt, so with M tokens,
// K = d_model, F = the hidden width, N = proj's output width:
//   h    [M, F] = GELU(x W₁ᵀ + b₁)    D F×M = op(W₁ K×F, T) · (x K×M)         aux = pre-activation [M, F]
//   out  [M, N] = h W₂ᵀ + b₂          LibTorch's addmm (its own bias epilogue)
//   dW₂  [N, F] = dyᵀ h, db₂          D F×N = (h F×M) · op(dy N×M, T)          bias = Σ over M (BGRADB)
//   dpre [M, F] = (dy W₂) ⊙ GELU′     LibTorch's mm and gelu_backward
//   dW₁  [F, K] = dpreᵀ x, db₁        D K×F = (x K×M) · op(dpre F×M, T)        bias = Σ over M (BGRADB)
//   dx   [M, K] = dpre W₁             LibTorch's mm
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include "models/gemm_epilogue_ops.h"
#include "models/mlp_fused.h"

namespace sigtrain::models {
namespace {

namespace K = sigtrain::kernels;
using epilogue_ops::gemm;
using epilogue_ops::run;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

constexpr const char* kOp = "mlp";

struct FusedGeluMlp : public torch::autograd::Function<FusedGeluMlp> {
  // x [M, K] in the compute dtype, contiguous; fp32 weights; biases fp32 or empty.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                            const at::Tensor& w2, const at::Tensor& b2) {
    const c10::cuda::CUDAGuard guard(x.device());
    const at::ScalarType dt = x.scalar_type();
    const int64_t M = x.size(0), Kd = x.size(1), F = w1.size(0);
    const bool has_b1 = b1.numel() > 0, has_b2 = b2.numel() > 0;
    const at::Tensor w1h = w1.to(dt), w2h = w2.to(dt);
    const at::Tensor b1h = has_b1 ? b1.to(dt) : at::Tensor(), b2h = has_b2 ? b2.to(dt) : at::Tensor();

    at::Tensor pre = at::empty({M, F}, x.options()), h = at::empty({M, F}, x.options());
    K::EpilogueGemm g = gemm(F, M, Kd, true, false, w1h, Kd, x, Kd, h, F);
    g.epilogue = has_b1 ? K::GemmEpilogue::kGeluAuxBias : K::GemmEpilogue::kGeluAux;
    g.bias = has_b1 ? b1h.data_ptr() : nullptr;
    g.aux = pre.data_ptr(), g.ldaux = F;
    if (!run(g, kOp, "bias + GELU")) {
      pre = has_b1 ? at::addmm(b1h, x, w1h.t()) : at::mm(x, w1h.t());
      h = at::gelu(pre, "tanh");
    }
    const at::Tensor out = has_b2 ? at::addmm(b2h, h, w2h.t()) : at::mm(h, w2h.t());
    ctx->save_for_backward({x, w1h, w2h, pre, h});
    ctx->saved_data["has_b1"] = has_b1;
    ctx->saved_data["has_b2"] = has_b2;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w1h = saved[1], &w2h = saved[2], &pre = saved[3], &h = saved[4];
    const c10::cuda::CUDAGuard guard(x.device());
    const bool has_b1 = ctx->saved_data["has_b1"].toBool(), has_b2 = ctx->saved_data["has_b2"].toBool();
    const at::ScalarType dt = x.scalar_type();
    const at::Tensor dy = grads[0].to(dt).contiguous();

    auto [dw2, db2] = epilogue_ops::weight_and_bias_grad(h, dy, has_b2, kOp);
    // dpre = (dy W₂) ⊙ GELU′(pre) with LibTorch's GELU backward: with cuBLASLt's DGELU_BGRAD epilogue the H200
    // ran a separate cuBLASLt epilogue kernel, 0.33 ms per GPT-2 layer against 0.08 ms for gelu_backward
    // (docs/benchmarks.md).
    const at::Tensor dpre = at::gelu_backward(at::mm(dy, w2h), pre, "tanh");
    auto [dw1, db1] = epilogue_ops::weight_and_bias_grad(x, dpre, has_b1, kOp);
    const at::Tensor dx = at::mm(dpre, w1h);
    return {dx, dw1, db1, dw2, db2};
  }
};

}  // namespace

std::optional<at::ScalarType> fused_mlp_compute_dtype(const at::Tensor& x) { return epilogue_ops::compute_dtype(x); }

bool fused_mlp_applicable(const at::Tensor& x, const at::Tensor& fc_weight, const at::Tensor& proj_weight) {
  if (!fused_mlp_compute_dtype(x) || x.dim() < 1) return false;
  const int64_t Kd = x.size(-1);
  auto weight_ok = [](const at::Tensor& w) {
    return w.dim() == 2 && w.is_cuda() && w.scalar_type() == at::kFloat && w.is_contiguous();
  };
  return weight_ok(fc_weight) && weight_ok(proj_weight) && fc_weight.size(1) == Kd &&
         proj_weight.size(1) == fc_weight.size(0) && Kd % 8 == 0 && fc_weight.size(0) % 8 == 0 &&
         proj_weight.size(0) % 8 == 0 && x.numel() > 0;
}

at::Tensor fused_gelu_mlp(const at::Tensor& x, const at::Tensor& fc_weight, const at::Tensor& fc_bias,
                          const at::Tensor& proj_weight, const at::Tensor& proj_bias) {
  TORCH_CHECK(fused_mlp_applicable(x, fc_weight, proj_weight),
              "fused MLP: input or weights not supported (fused_mlp_applicable)");
  for (const at::Tensor* b : {&fc_bias, &proj_bias})
    TORCH_CHECK(!b->defined() || (b->scalar_type() == at::kFloat && b->is_contiguous()),
                "fused MLP: biases must be fp32");
  const int64_t Kd = x.size(-1);
  // The GEMMs read x as [M, K] rows in the compute dtype (a differentiable cast, outside the function).
  at::Tensor x2 = x.to(*fused_mlp_compute_dtype(x)).reshape({-1, Kd});
  if (!x2.is_contiguous()) x2 = x2.contiguous();
  if (!epilogue_ops::aligned_16(x2)) x2 = x2.clone();
  // A custom autograd function records every tensor input's device: "no bias" is an empty tensor, not an undefined one.
  const at::Tensor none = at::empty({0}, fc_weight.options());
  at::Tensor out = FusedGeluMlp::apply(x2, fc_weight, fc_bias.defined() ? fc_bias : none, proj_weight,
                                       proj_bias.defined() ? proj_bias : none);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = proj_weight.size(0);
  return out.view(shape);
}

}  // namespace sigtrain::models
