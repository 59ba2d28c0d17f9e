#pragma once
// The evaluation path: every image of a (test) source in order, with the deterministic eval transform. Ranks split
// it with data::rank_slice(size(), rank, world) and ask for their part batch by batch.
#include <memory>

#include "data/vision/augment.h"
#include "data/vision/image_source.h"
#include "data/vision/vision_batch.h"

namespace sigtrain::vision {

class ImageEvalSet {
 public:
  // `workers` threads decode each eval_batch() (1 = on the calling thread).
  ImageEvalSet(std::shared_ptr<const ImageSource> source, EvalTransformOptions options, int workers);

  int64_t size() const { return source_->size(); }
  const ImageSource& source() const { return *source_; }
  // Items [first, first + count) in order (no soft targets). Errors name the file; std::out_of_range outside.
  VisionBatch eval_batch(int64_t first, int64_t count) const;

 private:
  std::shared_ptr<const ImageSource> source_;
  EvalTransformOptions options_;
  int workers_;
};

}  // namespace sigtrain::vision
