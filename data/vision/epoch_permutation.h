#pragma once
// The order of one epoch: perm_e for epoch e over n images is data::epoch_permutation (data/shuffle.h), the same
// construction as data::LmSampler's (docs/data.md §5), so it is identical on every platform.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "data/shuffle.h"

namespace sigtrain::vision {

using data::epoch_permutation;

// Thread-safe cache of the most recent epochs' permutations (loader threads straddle an epoch boundary).
class EpochPermutations {
 public:
  EpochPermutations(int64_t n, uint64_t seed);
  // Image index of global sample `sample` (epoch sample / n, position sample % n).
  int64_t image_of(int64_t sample) const;
  int64_t size() const { return n_; }

 private:
  std::shared_ptr<const std::vector<uint32_t>> get(int64_t epoch) const;
  int64_t n_;
  uint64_t seed_;
  mutable std::mutex mutex_;
  mutable std::vector<std::pair<int64_t, std::shared_ptr<const std::vector<uint32_t>>>> cache_;
};

}  // namespace sigtrain::vision
