#pragma once
// A prefetching batch loader: worker threads run make_batch() (read, resample, log-mel, normalise, SpecAugment) for
// batches ahead of the consumer, at most `prefetch` batches beyond the last one handed out, into a bounded queue of
// ordered slots. next() returns batches in exactly the order - and with exactly the contents - of the synchronous
// loop
//     for j = 0, 1, ...:  make_batch(dataset, batcher, rank_batch_index(start, j, rank, world), augment)
// whatever the number of workers (workers = 0 runs that loop on the caller's thread).
//
// Errors: an exception on a worker (unreadable audio, ...) is stored in that batch's slot and re-thrown by next()
// when the consumer reaches it, with its message (which names the utterance and the file); batches before it are
// delivered normally. After such an error the loader stops prefetching and every later next() throws it again.
//
// Shutdown: the destructor wakes and joins every worker; a batch being computed finishes first (one utterance
// pipeline, milliseconds), queued results are dropped.
//
// Position: after the consumer has taken j batches, position() = start + j * world, the batcher position a
// checkpoint stores (state()), identical on every rank.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/speech/duration_buckets.h"
#include "data/speech/speech_dataset.h"

namespace sigtrain::speech {

struct LoaderOptions {
  int workers = 2;           // 0 = synchronous
  int prefetch = 4;          // batches computed ahead of the consumer (>= 1)
  int rank = 0;
  int world = 1;
  bool augment = true;       // SpecAugment (training); off for evaluation
  int64_t max_batches = -1;  // batches this loader hands out, then done(); -1 = endless (epochs follow each other)
};

// This rank's number of batches in one pass over the plan from position 0: for evaluation loaders.
int64_t batches_per_rank(int64_t batches_per_epoch, int rank, int world);

class PrefetchLoader {
 public:
  // Starts at batcher.position(). `dataset` and `batcher` must outlive the loader and not change while it runs.
  PrefetchLoader(const SpeechDataset& dataset, const DurationBatcher& batcher, LoaderOptions options);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  bool done() const { return options_.max_batches >= 0 && consumed_ >= options_.max_batches; }
  // The next batch of this rank; throws std::out_of_range when done(), or the worker's exception.
  SpeechBatch next();
  int64_t consumed() const { return consumed_; }
  int64_t position() const { return start_ + consumed_ * options_.world; }
  BatcherState state() const { return batcher_.state_at(position()); }

 private:
  struct Slot {
    SpeechBatch batch;
    std::exception_ptr error;
  };
  int64_t global_index(int64_t j) const;
  Slot compute(int64_t j) const;
  void worker_loop();

  const SpeechDataset& dataset_;
  const DurationBatcher& batcher_;
  LoaderOptions options_;
  int64_t start_ = 0;
  int64_t consumed_ = 0;  // touched by the consumer only; workers read the guarded copy below
  std::exception_ptr failed_;

  std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait for room in the window
  std::condition_variable ready_cv_;  // the consumer waits for its slot
  int64_t next_task_ = 0;             // next j a worker claims
  int64_t window_end_ = 0;            // workers claim j < window_end_ = consumed + prefetch
  bool stopping_ = false;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace sigtrain::speech
