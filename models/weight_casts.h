#pragma once
// Compute-dtype copies of fp32 master weights for the fused linear and MLP ops (fused_ops.linear / mlp). Under
// autocast every GEMM reads its weight and bias in bf16 / fp16: cast one at a time, that is one kernel launch per
// tensor per forward (~100 for GPT-2-small, each a few µs of launch gap: docs/benchmarks.md). Here the model
// refreshes all copies at the start of its forward in one multi-tensor copy (at::_foreach_copy_) into one flat
// buffer, and each op takes its copy from there.
//
// A copy is handed out only while its weight's version counter still reads what it read at the refresh: a weight
// changed in place since (an optimizer step, a checkpoint load) gets no copy, and the op casts it itself. The
// buffer is overwritten in place by the next refresh, so a forward's saved copies are valid until the next
// forward; autograd's saved-tensor version check refuses a backward across a refresh. Under CUDA-graph capture the
// refresh is part of the captured forward, so each replay re-reads the weights.
#include <ATen/core/Tensor.h>

#include <unordered_map>
#include <vector>

namespace sigtrain::models {

class WeightCasts {
 public:
  // The fp32 parameters (weights and biases) to keep copies of, each once however often listed; replaces any
  // earlier set and drops the copies.
  void set_weights(std::vector<at::Tensor> weights);
  // Copies every registered parameter into `dtype` (one flat buffer on their device, reallocated only when the
  // dtype, device or sizes change). A no-op when none are registered.
  void refresh(at::ScalarType dtype);
  // The copy of `w` in `dtype` made by the last refresh, or an undefined tensor: not registered, no refresh in that
  // dtype yet, or w changed since.
  at::Tensor get(const at::Tensor& w, at::ScalarType dtype) const;
  bool empty() const { return weights_.empty(); }

 private:
  std::vector<at::Tensor> weights_;
  std::unordered_map<const void*, size_t> index_;  // TensorImpl* → position in weights_
  at::Tensor flat_;                                // the copies, back to back
  std::vector<at::Tensor> copies_;                 // views of flat_, one per weight
  std::vector<int64_t> versions_;                  // each weight's version counter at the last refresh
};

}  // namespace sigtrain::models
