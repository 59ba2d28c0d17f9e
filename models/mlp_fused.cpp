// The fused GELU MLP's autograd function around kernels/gemm_epilogue.h (models/mlp_fused.h). Built with the
// kernels. Row-major [rows, cols] tensors are column-major cols × rows matrices to cuBLASLt, so with M tokens,
// K = d_model, F = the hidden width, N = proj's output width:
//   h    [M, F] = GELU(x W₁ᵀ + b₁)    D F×M = op(W₁ K×F, T) · (x K×M)         aux = pre-activation [M, F]
//   out  [M, N] = h W₂ᵀ + b₂          D N×M = op(W₂ F×N, T) · (h F×M), bias epilogue (epilogue_ops::linear_forward)
//   dW₂  [N, F] = dyᵀ h, db₂          D F×N = (h F×M) · op(dy N×M, T)          db₂ = Σ over M (bias_grad)
//   dpre [M, F] = (dy W₂) ⊙ GELU′     one GEMM (epilogue_ops::input_grad), then GELU′ and db₁ = Σ over M in one pass
//                                     (gelu_and_bias_grad)
//   dW₁  [F, K] = dpreᵀ x             D K×F = (x K×M) · op(dpre F×M, T)
//   dx   [M, K] = dpre W₁             one GEMM (epilogue_ops::input_grad)
// Every GEMM runs through kernels/gemm_epilogue.h, so fused_ops.gemm_algo chooses its algorithm (models/gemm_algos.h).
#include <c10/cuda/CUDAGuard.h>
#include <torch/autograd.h>

#include <tuple>

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
  // x [M, K] in the compute dtype, contiguous; fp32 weights; biases fp32 or empty; w1h .. b2h their compute-dtype
  // copies (epilogue_ops::cast_from), which the GEMMs read; the gradients go to w1 .. b2.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                            const at::Tensor& w2, const at::Tensor& b2, const at::Tensor& w1h, const at::Tensor& b1h,
                            const at::Tensor& w2h, const at::Tensor& b2h, bool recompute) {
    const c10::cuda::CUDAGuard guard(x.device());
    const at::ScalarType dt = x.scalar_type();
    const int64_t M = x.size(0), Kd = x.size(1), F = w1.size(0);
    const bool has_b1 = b1.numel() > 0, has_b2 = b2.numel() > 0;
    TORCH_CHECK(w1h.scalar_type() == dt && w2h.scalar_type() == dt, "fused GELU MLP: weight copies not in ", dt);

    at::Tensor pre = at::empty({M, F}, x.options()), h = at::empty({M, F}, x.options());
    K::EpilogueGemm g = gemm(F, M, Kd, true, false, w1h, Kd, x, Kd, h, F);
    g.epilogue = has_b1 ? K::GemmEpilogue::kGeluAuxBias : K::GemmEpilogue::kGeluAux;
    g.bias = has_b1 ? b1h.data_ptr() : nullptr;
    g.aux = pre.data_ptr(), g.ldaux = F;
    if (!run(g, kOp, "bias + GELU")) {
      pre = has_b1 ? at::addmm(b1h, x, w1h.t()) : at::mm(x, w1h.t());
      h = at::gelu(pre, "tanh");
    }
    const at::Tensor out = epilogue_ops::linear_forward(h, w2h, b2h, kOp);  // b2h empty: no bias
    // recompute: h is not kept (the largest saved tensor); the backward's GELU pass writes it again.
    if (recompute)
      ctx->save_for_backward({x, w1h, w2h, pre});
    else
      ctx->save_for_backward({x, w1h, w2h, pre, h});
    ctx->saved_data["recompute"] = recompute;
    ctx->saved_data["has_b1"] = has_b1;
    ctx->saved_data["has_b2"] = has_b2;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w1h = saved[1], &w2h = saved[2], &pre = saved[3];
    const c10::cuda::CUDAGuard guard(x.device());
    const bool has_b1 = ctx->saved_data["has_b1"].toBool(), has_b2 = ctx->saved_data["has_b2"].toBool();
    const bool recompute = ctx->saved_data["recompute"].toBool();
    const at::ScalarType dt = x.scalar_type();
    const at::Tensor dy = grads[0].to(dt).contiguous();

    // dpre = (dy W₂) ⊙ GELU′(pre), with b₁ summed in the same pass over dpre (cuBLASLt's DGELU_BGRAD epilogue ran as
    // a separate kernel on the H200, 0.33 ms per GPT-2 layer against 0.08 ms for gelu_backward: docs/benchmarks.md);
    // with recompute, that pass also writes h = GELU(pre) for dW₂ (our kernel's rounding of GELU, which may differ
    // from the forward epilogue's in the last bf16 bit).
    const at::Tensor dh = epilogue_ops::input_grad(dy, w2h, kOp);
    const at::Tensor h = !recompute ? saved[4] : has_b1 ? at::empty_like(pre) : at::gelu(pre, "tanh");
    at::Tensor dpre, db1;
    if (has_b1) std::tie(dpre, db1) = epilogue_ops::gelu_and_bias_grad(dh, pre, recompute ? h : at::Tensor());
    else dpre = at::gelu_backward(dh, pre, "tanh");
    auto [dw2, db2] = epilogue_ops::weight_and_bias_grad(h, dy, has_b2, kOp);
    at::Tensor dw1 = epilogue_ops::weight_and_bias_grad(x, dpre, false, kOp).first;
    const at::Tensor dx = epilogue_ops::input_grad(dpre, w1h, kOp);
    return {dx, dw1, db1, dw2, db2, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
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
                          const at::Tensor& proj_weight, const at::Tensor& proj_bias, const WeightCasts* casts,
                          bool recompute_gelu) {
  TORCH_CHECK(fused_mlp_applicable(x, fc_weight, proj_weight),
              "fused MLP: input or weights not supported (fused_mlp_applicable)");
  for (const at::Tensor* b : {&fc_bias, &proj_bias})
    TORCH_CHECK(!b->defined() || (b->scalar_type() == at::kFloat && b->is_contiguous()),
                "fused MLP: biases must be fp32");
  const at::ScalarType dt = *fused_mlp_compute_dtype(x);
  // A custom autograd function records every tensor input's device: "no bias" is an empty tensor, not an undefined one.
  const at::Tensor none = at::empty({0}, fc_weight.options());
  const at::Tensor b1 = fc_bias.defined() ? fc_bias : none, b2 = proj_bias.defined() ? proj_bias : none;
  using epilogue_ops::cast_from;
  at::Tensor out = FusedGeluMlp::apply(epilogue_ops::gemm_rows(x, dt), fc_weight, b1, proj_weight, b2,
                                       cast_from(casts, fc_weight, dt), cast_from(casts, b1, dt),
                                       cast_from(casts, proj_weight, dt), cast_from(casts, b2, dt), recompute_gelu);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = proj_weight.size(0);
  return out.view(shape);
}

}  // namespace sigtrain::models
