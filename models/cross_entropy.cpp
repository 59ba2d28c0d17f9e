#include "models/cross_entropy.h"

#include <torch/torch.h>

#include <stdexcept>

namespace sigtrain::models {

at::Tensor cross_entropy_sum(const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index, bool fused) {
  const int64_t V = logits.size(-1);
  const at::Tensor flat_targets = targets.reshape({-1});
#ifdef SIGTRAIN_HAVE_FUSED_OPS
  if (fused && logits.is_cuda()) {
    at::Tensor rows = logits.reshape({-1, V});
    if (rows.stride(1) != 1) rows = rows.contiguous();
    return fused_cross_entropy_rows(rows, flat_targets, ignore_index).sum();
  }
#else
  (void)fused;
#endif
  return torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat32).reshape({-1, V}), flat_targets,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(ignore_index));
}

}  // namespace sigtrain::models
