#pragma once
// ImageNet-style folders, root/<split>/<class>/.../<image>.{jpg,jpeg,png} (extensions case-insensitive), read like
// torchvision's ImageFolder: classes are the sorted (byte-wise) subfolder names of root/<split>, label = position
// in that list; each class folder is walked recursively and its image files sorted by relative path; the set is
// class 0's files, then class 1's, ... Hidden entries (names starting with '.') are skipped, other files ignored.
// Scanning reads only the directory tree; images are decoded on load() (lazily, thread-safe), converted to the
// requested channel count.
// Errors (VisionError, naming the path): split folder missing, no class folders, a class folder without images,
// an undecodable image (at load()).
#include <memory>

#include "data/vision/image_source.h"

namespace sigtrain::vision {

class ImageFolderSource final : public ImageSource {
 public:
  ImageFolderSource(const std::string& root, const std::string& split, int channels);

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int num_classes() const override { return static_cast<int>(class_names_.size()); }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  int label(int64_t index) const override;
  Image load(int64_t index) const override;
  std::string describe() const override;
  uint64_t fingerprint() const override { return fingerprint_; }

  // Full path of image `index`.
  const std::string& path(int64_t index) const;

 private:
  void check_index(int64_t index) const;
  std::string folder_;
  int channels_;
  std::vector<std::string> class_names_;
  std::vector<std::string> files_;
  std::vector<int> labels_;
  uint64_t fingerprint_ = 0;
};

// True for .jpg, .jpeg and .png in any letter case.
bool has_image_extension(const std::string& filename);

}  // namespace sigtrain::vision
