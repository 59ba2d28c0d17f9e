#include "data/speech/feature_cache.h"

#include <stdexcept>
#include <string>

namespace sigtrain::speech {

FeatureCache::FeatureCache(int64_t utterances, int64_t budget_bytes)
    : slots_(static_cast<size_t>(utterances)), budget_bytes_(budget_bytes) {
  if (utterances < 0 || budget_bytes < 0)
    throw std::invalid_argument("FeatureCache: negative size (" + std::to_string(utterances) + " utterances, " +
                                std::to_string(budget_bytes) + " bytes)");
}

FeatureCache::Features FeatureCache::find(int64_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.at(static_cast<size_t>(index));
}

void FeatureCache::offer(int64_t index, Features features) {
  if (!features) return;
  const auto size = static_cast<int64_t>(features->size() * sizeof(float));
  std::lock_guard<std::mutex> lock(mutex_);
  Features& slot = slots_.at(static_cast<size_t>(index));
  if (slot || bytes_ + size > budget_bytes_) return;
  slot = std::move(features);
  bytes_ += size;
  ++cached_;
}

int64_t FeatureCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

int64_t FeatureCache::cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace sigtrain::speech
