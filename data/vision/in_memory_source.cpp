#include "data/vision/in_memory_source.h"

#include <stdexcept>

#include "data/fnv1a.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {

void check_label_range(const std::vector<int>& labels, size_t begin, size_t end, int num_classes,
                       const std::string& file, int64_t first_item) {
  for (size_t i = begin; i < end; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw_vision_error(file, "label " + std::to_string(labels[i]) + " of item " +
                                   std::to_string(first_item + static_cast<int64_t>(i - begin)) +
                                   " is out of range: expected 0.." + std::to_string(num_classes - 1) + " (" +
                                   std::to_string(num_classes) + " classes)");
  }
}

std::vector<std::string> numbered_class_names(int num_classes) {
  std::vector<std::string> names;
  for (int i = 0; i < num_classes; ++i) names.push_back(std::to_string(i));
  return names;
}

InMemorySource::InMemorySource(std::string description, InMemoryImages images, std::vector<std::string> class_names)
    : description_(std::move(description)), images_(std::move(images)), class_names_(std::move(class_names)) {
  const size_t per_image = static_cast<size_t>(images_.height) * static_cast<size_t>(images_.width) *
                           static_cast<size_t>(images_.channels);
  if (images_.pixels.size() != per_image * images_.labels.size())
    throw std::invalid_argument(description_ + ": pixel buffer does not match " +
                                std::to_string(images_.labels.size()) + " images");
  data::Fnv1a64 h;
  const int32_t shape[3] = {images_.height, images_.width, images_.channels};
  h.update(shape, sizeof(shape));
  h.update(images_.pixels.data(), images_.pixels.size());
  h.update(images_.labels.data(), images_.labels.size() * sizeof(int));
  fingerprint_ = h.digest();
}

void InMemorySource::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw std::out_of_range(description_ + ": image index " + std::to_string(index) + " outside [0, " +
                            std::to_string(size()) + ")");
}

int InMemorySource::label(int64_t index) const {
  check_index(index);
  return images_.labels[static_cast<size_t>(index)];
}

Image InMemorySource::load(int64_t index) const {
  check_index(index);
  Image img{images_.height, images_.width, images_.channels, {}};
  const size_t n = static_cast<size_t>(img.height) * static_cast<size_t>(img.width) * static_cast<size_t>(img.channels);
  const auto first = images_.pixels.begin() + static_cast<std::ptrdiff_t>(n * static_cast<size_t>(index));
  img.pixels.assign(first, first + static_cast<std::ptrdiff_t>(n));
  return img;
}

std::string InMemorySource::describe() const {
  return description_ + ": " + std::to_string(size()) + " images " + std::to_string(images_.height) + "x" +
         std::to_string(images_.width) + "x" + std::to_string(images_.channels) + ", " +
         std::to_string(num_classes()) + " classes";
}

}  // namespace sigtrain::vision
