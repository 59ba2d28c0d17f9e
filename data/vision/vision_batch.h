#pragma once
// One batch of images as the trainer consumes it: plain buffers it wraps in tensors.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sigtrain::vision {

enum class MixKind { kNone, kMixup, kCutmix };

// What batch mixing did (for logs and tests). Partner of sample i is sample count - 1 - i (the batch reversed).
struct MixInfo {
  MixKind kind = MixKind::kNone;
  double lambda = 1.0;  // weight of the sample's own label (for cutmix: 1 - box area / image area)
  int box_top = 0;      // cutmix: rows [box_top, box_bottom) x cols [box_left, box_right) come from the partner
  int box_left = 0;
  int box_bottom = 0;
  int box_right = 0;
};

struct VisionBatch {
  int64_t first_sample = 0;  // training: global stream index of the first sample; eval: index of the first item
  int64_t count = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> pixels;        // [count, channels, height, width], normalised
  std::vector<int64_t> labels;      // [count], the images' own labels
  std::vector<float> soft_targets;  // [count, num_classes] when mixup / cutmix is configured; empty otherwise
  std::vector<int64_t> image_indices;  // [count] index of each sample's image in the source
  MixInfo mix;
  // Position inside the global step (training only): micro-batch number within this rank's slice, and whether it is
  // the slice's last micro-batch.
  int64_t micro_index = 0;
  bool last_in_step = true;
};

// A batch of `count` square images of `channels` x `size` x `size` floats starting at `first_sample`, pixels
// allocated (zero), labels and indices empty; image i's pixels start at pixels.data() + i * pixels_per_image(...).
inline size_t pixels_per_image(int channels, int size) {
  return static_cast<size_t>(channels) * static_cast<size_t>(size) * static_cast<size_t>(size);
}
inline VisionBatch sized_batch(int64_t first_sample, int64_t count, int channels, int size) {
  VisionBatch b;
  b.first_sample = first_sample;
  b.count = count;
  b.channels = channels;
  b.height = size;
  b.width = size;
  b.pixels.resize(pixels_per_image(channels, size) * static_cast<size_t>(count));
  return b;
}

}  // namespace sigtrain::vision
