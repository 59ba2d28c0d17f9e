// A build without the CUDA kernels (models/CMakeLists.txt): the fused ops are never applicable and say so when
// called anyway.
#include <stdexcept>

#include "models/cross_entropy.h"
#include "models/gemm_algos.h"
#include "models/head_loss.h"
#include "models/linear_fused.h"
#include "models/mlp_fused.h"
#include "models/norm_fused.h"
#include "models/rope_fused.h"

namespace sigtrain::models {

at::Tensor fused_cross_entropy_rows(const at::Tensor&, const at::Tensor&, int64_t) {
  throw std::logic_error("fused cross_entropy: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

bool fused_head_loss_applicable(const at::Tensor&, const at::Tensor&) { return false; }
at::Tensor fused_head_loss_sum(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, const WeightCasts*) {
  throw std::logic_error("fused head loss: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

bool fused_rope_applicable(const at::Tensor&, const at::Tensor&, const at::Tensor&) { return false; }
at::Tensor fused_rope(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  throw std::logic_error("fused rope: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

bool fused_norm_applicable(const at::Tensor&, const at::Tensor&) { return false; }
at::Tensor fused_norm(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, bool, at::ScalarType) {
  throw std::logic_error("fused norm: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

bool fused_add_norm_applicable(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::ScalarType) {
  return false;
}
std::pair<at::Tensor, at::Tensor> fused_add_norm(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                 const at::Tensor&, double, bool, at::ScalarType, const at::Tensor&) {
  throw std::logic_error("fused add + norm: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

std::optional<at::ScalarType> fused_mlp_compute_dtype(const at::Tensor&) { return std::nullopt; }
bool fused_mlp_applicable(const at::Tensor&, const at::Tensor&, const at::Tensor&) { return false; }
at::Tensor fused_gelu_mlp(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                          const at::Tensor&, const WeightCasts*, bool) {
  throw std::logic_error("fused MLP: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

bool fused_linear_applicable(const at::Tensor&, const at::Tensor&) { return false; }
at::Tensor fused_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&, const WeightCasts*) {
  throw std::logic_error("fused linear: this build has no CUDA kernels (models::fused_ops_built() is false)");
}

void use_timed_gemm_algos(bool) {}
std::string gemm_algo_record() { return ""; }
bool restore_gemm_algo_record(const std::string&) { return false; }
void forget_gemm_algos() {}

}  // namespace sigtrain::models
