#include "data/vision/batch_prefetcher.h"

#include <stdexcept>
#include <string>

namespace sigtrain::vision {

BatchPrefetcher::BatchPrefetcher(MakeBatch make, int workers, int depth) : make_(std::move(make)), depth_(depth) {
  if (workers < 1 || depth < 1)
    throw std::invalid_argument("batch prefetcher: workers and depth must be >= 1, got " + std::to_string(workers) +
                                " and " + std::to_string(depth));
  threads_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_free_.notify_all();
  for (auto& t : threads_) t.join();
}

void BatchPrefetcher::work() {
  while (true) {
    int64_t sequence = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_free_.wait(lock, [&] { return stopping_ || next_to_claim_ < next_to_return_ + depth_; });
      if (stopping_) return;
      sequence = next_to_claim_++;
    }
    Slot slot;
    try {
      slot.batch = make_(sequence);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      ready_.emplace(sequence, std::move(slot));
    }
    batch_ready_.notify_all();
  }
}

VisionBatch BatchPrefetcher::next() {
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    batch_ready_.wait(lock, [&] { return ready_.count(next_to_return_) != 0; });
    auto it = ready_.find(next_to_return_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_to_return_;
  }
  space_free_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

}  // namespace sigtrain::vision
