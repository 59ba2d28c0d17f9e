#pragma once
// An ImageSource whose images are all in memory with one shape (IDX, CIFAR): one contiguous HWC byte array.
#include <memory>

#include "data/vision/image_source.h"

namespace sigtrain::vision {

struct InMemoryImages {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // [count, height, width, channels]
  std::vector<int> labels;      // count entries
};

// Throws VisionError naming `file` when a label is outside [0, num_classes): "<file>: label 12 of item 3 is out
// of range: expected 0..9 (10 classes)". `first_item` numbers the items when one file holds part of a set.
void check_label_range(const std::vector<int>& labels, size_t begin, size_t end, int num_classes,
                       const std::string& file, int64_t first_item = 0);

class InMemorySource final : public ImageSource {
 public:
  // `description` is what describe() starts with (e.g. "idx data/fashion-mnist train"). Labels must already be in
  // range (check_label_range). class_names: num_classes entries.
  InMemorySource(std::string description, InMemoryImages images, std::vector<std::string> class_names);

  int64_t size() const override { return static_cast<int64_t>(images_.labels.size()); }
  int num_classes() const override { return static_cast<int>(class_names_.size()); }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  int label(int64_t index) const override;
  Image load(int64_t index) const override;
  std::string describe() const override;
  uint64_t fingerprint() const override { return fingerprint_; }

 private:
  void check_index(int64_t index) const;
  std::string description_;
  InMemoryImages images_;
  std::vector<std::string> class_names_;
  uint64_t fingerprint_ = 0;
};

// "0", "1", ..., the names of classes that have no names in the files.
std::vector<std::string> numbered_class_names(int num_classes);

}  // namespace sigtrain::vision
