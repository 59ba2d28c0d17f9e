#include "data/vision/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "data/fnv1a.h"
#include "data/vision/image_decode.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

// Image files under `dir` (recursively, following links, hidden entries skipped), sorted by relative path.
std::vector<std::string> images_under(const fs::path& dir) {
  std::vector<std::string> relative;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && has_image_extension(it->path().filename().string()))
      relative.push_back(fs::relative(it->path(), dir).generic_string());
  }
  std::sort(relative.begin(), relative.end());
  return relative;
}

}  // namespace

bool has_image_extension(const std::string& filename) {
  const auto dot = filename.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = filename.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

ImageFolderSource::ImageFolderSource(const std::string& root, const std::string& split, int channels)
    : folder_((fs::path(root) / split).string()), channels_(channels) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("image folder: channels must be 1 or 3");
  if (!fs::is_directory(folder_))
    throw_vision_error(folder_, "split folder '" + split + "' is missing (expected <root>/" + split +
                                    "/<class>/<image>.jpg|jpeg|png)");
  for (const auto& entry : fs::directory_iterator(folder_))
    if (entry.is_directory() && !hidden(entry.path())) class_names_.push_back(entry.path().filename().string());
  std::sort(class_names_.begin(), class_names_.end());
  if (class_names_.empty())
    throw_vision_error(folder_, "no class folders (expected " + folder_ + "/<class>/<image>.jpg|jpeg|png)");
  data::Fnv1a64 h;
  for (size_t c = 0; c < class_names_.size(); ++c) {
    const fs::path class_dir = fs::path(folder_) / class_names_[c];
    const auto images = images_under(class_dir);
    if (images.empty())
      throw_vision_error(class_dir.string(), "class folder without images (expected .jpg, .jpeg or .png files)");
    for (const auto& rel : images) {
      const std::string full = (class_dir / rel).string();
      const uint64_t bytes = fs::file_size(full);
      h.update_field(class_names_[c] + "/" + rel);
      h.update(&bytes, sizeof(bytes));
      files_.push_back(full);
      labels_.push_back(static_cast<int>(c));
    }
  }
  fingerprint_ = h.digest();
}

void ImageFolderSource::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw std::out_of_range(folder_ + ": image index " + std::to_string(index) + " outside [0, " +
                            std::to_string(size()) + ")");
}

int ImageFolderSource::label(int64_t index) const {
  check_index(index);
  return labels_[static_cast<size_t>(index)];
}

const std::string& ImageFolderSource::path(int64_t index) const {
  check_index(index);
  return files_[static_cast<size_t>(index)];
}

Image ImageFolderSource::load(int64_t index) const { return decode_image_file(path(index), channels_); }

std::string ImageFolderSource::describe() const {
  return "image folder " + folder_ + ": " + std::to_string(size()) + " images, " + std::to_string(num_classes()) +
         " classes, decoded to " + std::to_string(channels_) + " channel(s)";
}

}  // namespace sigtrain::vision
