#pragma once
// Runs make(0), make(1), make(2), ... on `workers` threads ahead of the consumer and hands the results out strictly
// in that order. At most `depth` batches are made or waiting at any time (a bounded queue: memory stays bounded
// when the consumer is slow). Which thread makes which batch varies; the order of next() never does. An exception
// thrown by make(q) is re-thrown by the next() that would have returned batch q, on the consumer thread.
// Destruction stops the workers (a batch being made is finished, then dropped) and joins them.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/vision/vision_batch.h"

namespace sigtrain::vision {

class BatchPrefetcher {
 public:
  using MakeBatch = std::function<VisionBatch(int64_t sequence)>;
  BatchPrefetcher(MakeBatch make, int workers, int depth);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // Batch number `returned()`, waiting for it if needed.
  VisionBatch next();
  int64_t returned() const { return next_to_return_; }

 private:
  struct Slot {
    VisionBatch batch;
    std::exception_ptr error;
  };
  void work();

  MakeBatch make_;
  int64_t depth_;
  std::mutex mutex_;
  std::condition_variable batch_ready_;
  std::condition_variable space_free_;
  std::map<int64_t, Slot> ready_;
  int64_t next_to_claim_ = 0;
  int64_t next_to_return_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sigtrain::vision
