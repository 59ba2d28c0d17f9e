#pragma once
// The training set's log-mel features, kept in memory after their first computation (data.feature_cache_mb).
//
// A speech run reads each training utterance once per epoch; decoding the audio and its STFT are most of the
// loader's work, and the features before normalisation and SpecAugment do not depend on the epoch. Cached values
// are the exact floats the extractor returned, so a run gives the same batches with the cache cold, warm, partly
// filled or off (a resumed run starts cold). Filled first come, first kept, until the budget is spent; nothing is
// evicted. Thread-safe: the loader's workers share one cache.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace sigtrain::speech {

class FeatureCache {
 public:
  using Features = std::shared_ptr<const std::vector<float>>;

  FeatureCache(int64_t utterances, int64_t budget_bytes);

  // The cached features of utterance `index`, or null.
  Features find(int64_t index) const;
  // Keeps `features` for `index` if it is not cached yet and they fit in what is left of the budget.
  void offer(int64_t index, Features features);

  int64_t budget_bytes() const { return budget_bytes_; }
  int64_t bytes() const;
  int64_t cached() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Features> slots_;
  int64_t budget_bytes_ = 0;
  int64_t bytes_ = 0;
  int64_t cached_ = 0;
};

}  // namespace sigtrain::speech
