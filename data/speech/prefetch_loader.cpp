#include "data/speech/prefetch_loader.h"

#include <stdexcept>

namespace sigtrain::speech {

int64_t batches_per_rank(int64_t batches_per_epoch, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world) throw std::invalid_argument("batches_per_rank: need 0 <= rank < world");
  return batches_per_epoch > rank ? (batches_per_epoch - rank + world - 1) / world : 0;
}

PrefetchLoader::PrefetchLoader(const SpeechDataset& dataset, const DurationBatcher& batcher, LoaderOptions options)
    : dataset_(dataset), batcher_(batcher), options_(options), start_(batcher.position()) {
  if (options_.workers < 0 || options_.prefetch < 1)
    throw std::invalid_argument("PrefetchLoader: need workers >= 0 and prefetch >= 1");
  DurationBatcher::rank_batch_index(start_, 0, options_.rank, options_.world);  // validates rank / world
  window_end_ = options_.prefetch;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t PrefetchLoader::global_index(int64_t j) const {
  return DurationBatcher::rank_batch_index(start_, j, options_.rank, options_.world);
}

PrefetchLoader::Slot PrefetchLoader::compute(int64_t j) const {
  Slot slot;
  try {
    slot.batch = make_batch(dataset_, batcher_, global_index(j), options_.augment);
  } catch (...) {
    slot.error = std::current_exception();
  }
  return slot;
}

void PrefetchLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [&] {
      const bool past_end = options_.max_batches >= 0 && next_task_ >= options_.max_batches;
      return stopping_ || (next_task_ < window_end_ && !past_end);
    });
    if (stopping_) return;
    const int64_t j = next_task_++;
    lock.unlock();
    Slot slot = compute(j);
    lock.lock();
    if (slot.error) stopping_ = true;  // nothing after a failed batch is needed: the consumer will throw there
    ready_.emplace(j, std::move(slot));
    ready_cv_.notify_all();
  }
}

SpeechBatch PrefetchLoader::next() {
  if (failed_) std::rethrow_exception(failed_);
  if (done()) throw std::out_of_range("PrefetchLoader: all " + std::to_string(options_.max_batches) + " batches taken");
  Slot slot;
  if (workers_.empty()) {
    slot = compute(consumed_);
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
    auto it = ready_.find(consumed_);
    slot = std::move(it->second);
    ready_.erase(it);
    window_end_ = consumed_ + 1 + options_.prefetch;
    lock.unlock();
    work_cv_.notify_all();
  }
  if (slot.error) {
    failed_ = slot.error;  // the stream cannot continue past a failed batch; later calls throw the same error
    std::rethrow_exception(failed_);
  }
  ++consumed_;
  return std::move(slot.batch);
}

}  // namespace sigtrain::speech
