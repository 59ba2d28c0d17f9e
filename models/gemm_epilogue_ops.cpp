// models/gemm_epilogue_ops.h. Row-major [rows, cols] tensors are column-major cols × rows matrices to cuBLASLt.
#include "models/gemm_epilogue_ops.h"

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAContext.h>

#include <atomic>
#include <string>

#include "common/log.h"

namespace sigtrain::models::epilogue_ops {
namespace {

namespace K = sigtrain::kernels;

K::GemmDType gemm_dtype(at::ScalarType t) {
  return t == at::kBFloat16 ? K::GemmDType::kBF16 : t == at::kHalf ? K::GemmDType::kFP16 : K::GemmDType::kFP32;
}

}  // namespace

std::optional<at::ScalarType> compute_dtype(const at::Tensor& x) {
  if (!x.is_cuda()) return std::nullopt;
  const at::ScalarType t = at::autocast::is_autocast_enabled(at::kCUDA) ? at::autocast::get_autocast_dtype(at::kCUDA)
                                                                         : x.scalar_type();
  if (t == at::kBFloat16 || t == at::kHalf) return t;
  return std::nullopt;
}

bool aligned_16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

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

// D I×O = (input I×M) · op(grad O×M, T), bias = Σ over M.
std::pair<at::Tensor, at::Tensor> weight_and_bias_grad(const at::Tensor& input, const at::Tensor& grad, bool has_bias,
                                                       const char* op) {
  const int64_t M = input.size(0), I = input.size(1), O = grad.size(1);
  const auto f32 = input.options().dtype(at::kFloat);
  at::Tensor dw = at::empty({O, I}, f32), db = has_bias ? at::empty({O}, f32) : at::Tensor();
  K::EpilogueGemm g = gemm(I, O, M, false, true, input, I, grad, O, dw, I);
  if (has_bias) g.epilogue = K::GemmEpilogue::kBGradB, g.bias = db.data_ptr();
  if (!run(g, op, has_bias ? "bias-gradient (BGRADB)" : "fp32 weight-gradient")) {
    dw = at::mm(grad.t(), input).to(at::kFloat);
    if (has_bias) db = grad.sum(0, false, at::kFloat);
  }
  return {dw, db};
}

}  // namespace sigtrain::models::epilogue_ops
