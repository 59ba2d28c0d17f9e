#pragma once
// MNIST's IDX format (also Fashion-MNIST, EMNIST, KMNIST), raw or gzip-compressed (read through zlib either way).
// A big-endian header, then raw uint8:
//   images: int32 magic 0x00000803 (uint8, 3 dimensions), int32 n, int32 rows, int32 cols, then n*rows*cols bytes
//   labels: int32 magic 0x00000801 (uint8, 1 dimension), int32 n, then n bytes
// The file must hold exactly that many bytes. Errors (VisionError) name the file and what was expected:
//   "<file>: bad magic 0x00000801, expected 0x00000803 (IDX uint8 images)"
//   "<file>: truncated: expected 16 + 60000 x 28 x 28 = 47040016 bytes, found 1000016"
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::vision {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

struct IdxImages {
  int64_t count = 0;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // [count, height, width]
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

}  // namespace sigtrain::vision

#include <memory>

#include "data/vision/in_memory_source.h"

namespace sigtrain::vision {

// An images file + a labels file as one source (1 channel). num_classes = 0 takes max label + 1; otherwise labels
// must be below it. class_names: empty (numbered) or num_classes names. Errors: the count mismatch names both
// files; an out-of-range label names the labels file.
std::shared_ptr<InMemorySource> open_idx_source(const std::string& images_path, const std::string& labels_path,
                                                int num_classes, std::vector<std::string> class_names);

}  // namespace sigtrain::vision
