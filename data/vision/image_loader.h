#pragma once
// The training stream of an ImageSource: shuffled, augmented, optionally mixed batches, made by worker threads
// ahead of the consumer, deterministic and restorable, sliced for data parallelism.
//
// The stream is global sample indices k = 0, 1, 2, ...; sample k is image perm_e[k mod N] of epoch e = k / N
// (epoch_permutation.h) with its augmentation drawn from its own SampleRng(stream_seed(seed, e, k, kAugment)).
// An optimizer step takes G = global_batch consecutive indices [s, s + G); rank r of W takes the contiguous
// data::rank_slice(G, r, W) of them (the W slices concatenated are the 1-rank batch) and next() returns that slice
// in micro-batches of micro_batch samples (the last may be smaller), in order; then s advances by G. Mixup /
// cutmix mix within one micro-batch, drawn from SampleRng(stream_seed(seed, e, first sample, kMix)).
// Every batch is a pure function of (seed, source, options, its first sample and count), so the stream is
// bit-identical for any number of worker threads, and equal to make_batch() called in order (the synchronous
// loader). Workers decode and augment; the consumer thread only waits for the next batch in order.
#include <memory>

#include "data/vision/augment.h"
#include "data/vision/batch_mix.h"
#include "data/vision/epoch_permutation.h"
#include "data/vision/image_source.h"
#include "data/vision/loader_state.h"
#include "data/vision/vision_batch.h"

namespace sigtrain::vision {

class BatchPrefetcher;

struct LoaderOptions {
  TrainTransformOptions transform;
  MixOptions mix;
  uint64_t seed = 0;         // the run seed
  int64_t global_batch = 0;  // G: samples per optimizer step over all ranks
  int64_t micro_batch = 0;   // samples per micro-batch on this rank; 0 = the whole slice
  int rank = 0;
  int world = 1;
  int workers = 2;           // decoding / augmentation threads (>= 1)
  int prefetch_batches = 4;  // bound on batches made ahead of the consumer (>= 1)
};

class ImageLoader {
 public:
  // Throws std::invalid_argument on inconsistent options (G < world, bad normalisation length, ...).
  ImageLoader(std::shared_ptr<const ImageSource> source, LoaderOptions options);
  ~ImageLoader();  // stops and joins the workers
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  // The next micro-batch of this rank (workers start on the first call). A worker's error (an undecodable image,
  // naming its file) is re-thrown here; restore() the loader before using it again.
  VisionBatch next();

  // Global index of the first sample of the step that the next batch belongs to.
  int64_t next_sample() const;
  int64_t micro_batches_per_step() const { return micro_per_step_; }
  const ImageSource& source() const { return *source_; }

  // Only between steps (after the slice's last micro-batch); std::logic_error mid-step.
  LoaderState state() const;
  // Stops the workers, drops prefetched batches and continues at state.next_sample. Throws std::runtime_error when
  // the seed or the data set (size, fingerprint) differ, naming what differs.
  void restore(const LoaderState& state);

  // The batch of stream samples [first_sample, first_sample + count), made on the calling thread (thread-safe).
  VisionBatch make_batch(int64_t first_sample, int64_t count) const;

 private:
  VisionBatch make_sequence(int64_t sequence) const;
  std::shared_ptr<const ImageSource> source_;
  LoaderOptions options_;
  EpochPermutations permutations_;
  int64_t slice_offset_ = 0;
  int64_t slice_count_ = 0;
  int64_t micro_batch_ = 0;
  int64_t micro_per_step_ = 0;
  int64_t base_sample_ = 0;  // step start that sequence 0 of the prefetcher belongs to
  int64_t returned_ = 0;     // batches returned since base_sample_
  std::unique_ptr<BatchPrefetcher> prefetcher_;
};

// Checks a Normalization against a channel count (both lists of that length, std > 0); std::invalid_argument.
void check_normalization(const Normalization& norm, int channels, const char* what);

}  // namespace sigtrain::vision
