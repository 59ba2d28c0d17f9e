// models/gemm_epilogue_ops.h. Row-major [rows, cols] tensors are column-major cols × rows matrices to cuBLASLt.
#include "models/gemm_epilogue_ops.h"

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAContext.h>

#include <atomic>
#include <string>

#include "bias_grad_kernel.h"
#include "common/log.h"
#include "models/gemm_algos.h"
#include "models/kernel_element_type.h"

namespace sigtrain::models::epilogue_ops {
namespace {

namespace K = sigtrain::kernels;

K::ElementType gemm_dtype(at::ScalarType t) { return kernel_element_type(t).value_or(K::ElementType::kFP32); }

// Σ over rows of grad (or of grad ⊙ GELU′(pre), written to gelu_grad) into a new fp32 [cols].
at::Tensor run_bias_grad(const at::Tensor& grad, const at::Tensor& pre, const at::Tensor& gelu_grad,
                         const at::Tensor& gelu_out) {
  TORCH_CHECK(grad.dim() == 2 && grad.is_contiguous() && aligned_to(grad, 16) &&
                  (grad.scalar_type() == at::kBFloat16 || grad.scalar_type() == at::kHalf) &&
                  K::bias_grad_supported(grad.size(1)),
              "bias gradient: grad must be a contiguous, aligned bf16 / fp16 [rows, cols] with cols a multiple of 8");
  K::BiasGradParams p;
  p.dtype = *kernel_element_type(grad.scalar_type());  // bf16 or fp16 (checked above)
  p.rows = grad.size(0), p.cols = grad.size(1);
  p.grad = grad.data_ptr();
  if (pre.defined()) p.gelu_pre = pre.data_ptr(), p.gelu_grad = gelu_grad.data_ptr();
  if (gelu_out.defined()) p.gelu_out = gelu_out.data_ptr();
  const auto f32 = grad.options().dtype(at::kFloat);
  at::Tensor db = at::empty({p.cols}, f32);
  at::Tensor workspace = at::empty({K::bias_grad_workspace_floats(p.rows, p.cols)}, f32);
  p.bias_grad = db.data_ptr<float>();
  p.workspace = workspace.data_ptr<float>();
  K::bias_grad(p, at::cuda::getCurrentCUDAStream());
  return db;
}

}  // namespace

std::optional<at::ScalarType> compute_dtype(const at::Tensor& x) {
  if (!x.is_cuda()) return std::nullopt;
  const at::ScalarType t = at::autocast::is_autocast_enabled(at::kCUDA) ? at::autocast::get_autocast_dtype(at::kCUDA)
                                                                         : x.scalar_type();
  if (t == at::kBFloat16 || t == at::kHalf) return t;
  return std::nullopt;
}

at::Tensor gemm_rows(const at::Tensor& x, at::ScalarType dtype) {
  at::Tensor rows = x.to(dtype).reshape({-1, x.size(-1)});
  if (!rows.is_contiguous()) rows = rows.contiguous();
  if (!aligned_to(rows, 16)) rows = rows.clone();
  return rows;
}

bool gemm_weight_fits(const at::Tensor& x, const at::Tensor& weight) {
  if (!compute_dtype(x) || x.dim() < 1 || x.numel() == 0) return false;
  return weight.dim() == 2 && weight.is_cuda() && weight.scalar_type() == at::kFloat && weight.is_contiguous() &&
         weight.size(1) == x.size(-1) && weight.size(1) % 8 == 0;
}

at::Tensor cast_from(const WeightCasts* casts, const at::Tensor& w, at::ScalarType dtype) {
  at::Tensor copy = casts ? casts->get(w, dtype) : at::Tensor();
  if (copy.defined()) return copy;
  const at::NoGradGuard no_grad;  // an input of the op's autograd function, not a differentiable cast
  return w.to(dtype);
}

K::EpilogueGemm gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, const at::Tensor& a, int64_t lda,
                     const at::Tensor& b, int64_t ldb, const at::Tensor& d, int64_t ldd) {
  K::EpilogueGemm g;
  g.m = m, g.n = n, g.k = k, g.trans_a = trans_a, g.trans_b = trans_b;
  g.ab_dtype = gemm_dtype(a.scalar_type());
  g.d_dtype = gemm_dtype(d.scalar_type());
  g.a = a.data_ptr(), g.lda = lda, g.b = b.data_ptr(), g.ldb = ldb, g.d = d.data_ptr(), g.ldd = ldd;
  return g;
}

bool run(const K::EpilogueGemm& g, const char* op, const char* what) {
  const bool ok = K::epilogue_gemm(g, at::cuda::getCurrentCUDABlasLtHandle(), at::cuda::getCUDABlasLtWorkspace(),
                                   at::cuda::getCUDABlasLtWorkspaceSize(), at::cuda::getCurrentCUDAStream());
  static std::atomic<bool> warned{false};
  if (!ok && !warned.exchange(true))
    log::warn(std::string("fused_ops.") + op + ": cuBLASLt has no algorithm for the " + what +
              " epilogue here; that step (and any other without one) runs LibTorch's ops");
  return ok;
}

// D O×M = op(w I×O, T) · (x I×M), the bias epilogue over O.
at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, const char* op) {
  const int64_t M = x.size(0), I = x.size(1), O = w.size(0);
  const bool has_bias = bias.defined() && bias.numel() > 0;
  at::Tensor y = at::empty({M, O}, x.options());
  K::EpilogueGemm g = gemm(O, M, I, true, false, w, I, x, I, y, O);
  if (has_bias) g.epilogue = K::GemmEpilogue::kBias, g.bias = bias.data_ptr();
  if (run(g, op, has_bias ? "bias" : "plain")) return y;
  return has_bias ? at::addmm(bias, x, w.t()) : at::mm(x, w.t());
}

// D I×M = (w I×O) · (dy O×M).
at::Tensor input_grad(const at::Tensor& dy, const at::Tensor& w, const char* op) {
  const int64_t M = dy.size(0), O = dy.size(1), I = w.size(1);
  at::Tensor dx = at::empty({M, I}, dy.options());
  if (run(gemm(I, M, O, false, false, w, I, dy, O, dx, I), op, "input-gradient")) return dx;
  return at::mm(dy, w);
}

// D I×O = (input I×M) · op(grad O×M, T).
std::pair<at::Tensor, at::Tensor> weight_and_bias_grad(const at::Tensor& input, const at::Tensor& grad, bool has_bias,
                                                       const char* op) {
  const int64_t M = input.size(0), I = input.size(1), O = grad.size(1);
  at::Tensor dw = at::empty({O, I}, input.options().dtype(at::kFloat));
  if (!run(gemm(I, O, M, false, true, input, I, grad, O, dw, I), op, "fp32 weight-gradient"))
    dw = at::mm(grad.t(), input).to(at::kFloat);
  return {dw, has_bias ? bias_grad(grad) : at::Tensor()};
}

at::Tensor bias_grad(const at::Tensor& grad) { return run_bias_grad(grad, at::Tensor(), at::Tensor(), at::Tensor()); }

std::pair<at::Tensor, at::Tensor> gelu_and_bias_grad(const at::Tensor& grad, const at::Tensor& pre,
                                                     const at::Tensor& gelu_out) {
  auto like_grad = [&](const at::Tensor& t) {
    return t.sizes() == grad.sizes() && t.scalar_type() == grad.scalar_type() && t.is_contiguous() && aligned_to(t, 16);
  };
  TORCH_CHECK(like_grad(pre), "GELU + bias gradient: pre must match grad (shape, dtype, contiguous, aligned)");
  TORCH_CHECK(!gelu_out.defined() || like_grad(gelu_out),
              "GELU + bias gradient: gelu_out must match grad (shape, dtype, contiguous, aligned)");
  at::Tensor dpre = at::empty_like(grad);
  at::Tensor db = run_bias_grad(grad, pre, dpre, gelu_out);
  return {dpre, db};
}

}  // namespace sigtrain::models::epilogue_ops

namespace sigtrain::models {

void use_timed_gemm_algos(bool timed) {
  kernels::set_gemm_algo_choice(timed ? kernels::GemmAlgoChoice::kTimed : kernels::GemmAlgoChoice::kHeuristic);
}

std::string gemm_algo_record() { return kernels::gemm_algo_choices(); }

bool restore_gemm_algo_record(const std::string& record) {
  return kernels::restore_gemm_algo_choices(record) == kernels::GemmRestore::kRestored;
}

void forget_gemm_algos() { kernels::forget_gemm_algo_choices(); }

}  // namespace sigtrain::models
