#pragma once
// A labelled image data set, whatever its file format: IDX and CIFAR keep all pixels in memory, image folders
// decode one file per load(). Every method is const and thread-safe, so loader threads call load() concurrently.
#include <cstdint>
#include <string>
#include <vector>

#include "data/vision/image.h"

namespace sigtrain::vision {

class ImageSource {
 public:
  virtual ~ImageSource() = default;

  virtual int64_t size() const = 0;
  virtual int num_classes() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;  // num_classes() entries
  virtual int label(int64_t index) const = 0;                       // in [0, num_classes())
  // The image at `index`, with the source's channel count. Throws VisionError naming the file when it cannot be
  // decoded, std::out_of_range for a bad index.
  virtual Image load(int64_t index) const = 0;
  // One line for logs: format, location, counts, image size.
  virtual std::string describe() const = 0;
  // Identifies the data for checkpoint checks (a resumed run must see the same images in the same order):
  // in-memory sets hash pixels and labels; folders hash relative paths, file sizes and labels.
  virtual uint64_t fingerprint() const = 0;
};

}  // namespace sigtrain::vision
