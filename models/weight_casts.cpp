// models/weight_casts.h.
#include "models/weight_casts.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

namespace sigtrain::models {

void WeightCasts::set_weights(std::vector<at::Tensor> weights) {
  weights_.clear();
  index_.clear();
  for (at::Tensor& w : weights)  // each once, in the order given
    if (index_.emplace(w.unsafeGetTensorImpl(), weights_.size()).second) weights_.push_back(std::move(w));
  flat_ = at::Tensor();
  copies_.clear();
  versions_.clear();
}

void WeightCasts::refresh(at::ScalarType dtype) {
  if (weights_.empty()) return;
  const c10::NoGradGuard no_grad;
  // Each copy starts at a multiple of 8 elements (16 bytes), as the GEMMs and the vectorised copy want.
  auto padded = [](const at::Tensor& w) { return (w.numel() + 7) / 8 * 8; };
  int64_t total = 0;
  for (const at::Tensor& w : weights_) total += padded(w);
  const bool reuse = flat_.defined() && flat_.scalar_type() == dtype && flat_.device() == weights_[0].device() &&
                     flat_.numel() == total;
  if (!reuse) {
    flat_ = at::empty({total}, weights_[0].options().dtype(dtype));
    copies_.clear();
    int64_t offset = 0;
    for (const at::Tensor& w : weights_) {
      copies_.push_back(flat_.narrow(0, offset, w.numel()).view(w.sizes()));
      offset += padded(w);
    }
  }
  at::_foreach_copy_(copies_, weights_);
  versions_.clear();
  for (const at::Tensor& w : weights_) versions_.push_back(static_cast<int64_t>(w._version()));
}

at::Tensor WeightCasts::get(const at::Tensor& w, at::ScalarType dtype) const {
  if (!w.defined() || versions_.empty() || flat_.scalar_type() != dtype) return {};
  const auto it = index_.find(w.unsafeGetTensorImpl());
  if (it == index_.end() || static_cast<int64_t>(w._version()) != versions_[it->second]) return {};
  const at::Tensor& copy = copies_[it->second];
  return copy.device() == w.device() && copy.sizes() == w.sizes() ? copy : at::Tensor();
}

}  // namespace sigtrain::models
