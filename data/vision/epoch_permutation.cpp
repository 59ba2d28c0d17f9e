#include "data/vision/epoch_permutation.h"

#include <stdexcept>
#include <string>

namespace sigtrain::vision {
namespace {
constexpr size_t kCachedEpochs = 3;
}

EpochPermutations::EpochPermutations(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  if (n < 1 || n > int64_t{UINT32_MAX})
    throw std::invalid_argument("epoch permutation: need 1 <= images <= 2^32 - 1, got " + std::to_string(n));
}

std::shared_ptr<const std::vector<uint32_t>> EpochPermutations::get(int64_t epoch) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [e, perm] : cache_)
      if (e == epoch) return perm;
  }
  // Computed outside the lock (ImageNet: 1.28M entries); two threads may both compute it, with the same result.
  auto perm = std::make_shared<const std::vector<uint32_t>>(epoch_permutation(n_, seed_, epoch));
  std::lock_guard<std::mutex> lock(mutex_);
  if (cache_.size() >= kCachedEpochs) cache_.erase(cache_.begin());
  cache_.emplace_back(epoch, perm);
  return perm;
}

int64_t EpochPermutations::image_of(int64_t sample) const {
  if (sample < 0) throw std::out_of_range("epoch permutation: negative sample index " + std::to_string(sample));
  return (*get(sample / n_))[static_cast<size_t>(sample % n_)];
}

}  // namespace sigtrain::vision
