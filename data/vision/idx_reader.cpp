#include "data/vision/idx_reader.h"

#include <algorithm>
#include <cstdio>

#include "data/vision/gz_reader.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Reads the header's `dims` int32 fields after checking the magic; returns them.
std::vector<uint32_t> read_header(GzReader& in, uint32_t magic, int dims, const char* what) {
  std::vector<unsigned char> raw(4 * static_cast<size_t>(dims + 1));
  const size_t got = in.read(raw.data(), raw.size());
  if (got >= 4 && read_be32(raw.data()) != magic)
    throw_vision_error(in.path(), "bad magic " + hex32(read_be32(raw.data())) + ", expected " + hex32(magic) + " (" +
                                      what + ")");
  if (got < raw.size())
    throw_vision_error(in.path(), "truncated header: expected " + std::to_string(raw.size()) + " bytes, found " +
                                      std::to_string(got) + " (" + what + ")");
  std::vector<uint32_t> fields;
  for (int i = 1; i <= dims; ++i) fields.push_back(read_be32(raw.data() + 4 * i));
  return fields;
}

// Reads exactly payload.size() bytes after a header of header_bytes and checks nothing follows.
void read_payload(GzReader& in, std::vector<uint8_t>& payload, size_t header_bytes, const std::string& shape) {
  const size_t got = in.read(payload.data(), payload.size());
  const std::string expected = std::to_string(header_bytes) + " + " + shape + " = " +
                               std::to_string(header_bytes + payload.size()) + " bytes";
  if (got < payload.size())
    throw_vision_error(in.path(), "truncated: expected " + expected + ", found " + std::to_string(header_bytes + got));
  if (!in.at_end()) throw_vision_error(in.path(), "trailing data: expected " + expected + ", found more");
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzReader in(path);
  const auto dims = read_header(in, kIdxImagesMagic, 3, "IDX uint8 images");
  IdxImages out;
  out.count = dims[0];
  if (dims[1] == 0 || dims[2] == 0 || dims[1] > 65535 || dims[2] > 65535)
    throw_vision_error(path, "image size " + std::to_string(dims[1]) + " x " + std::to_string(dims[2]) +
                                 " is outside 1..65535");
  out.height = static_cast<int>(dims[1]);
  out.width = static_cast<int>(dims[2]);
  out.pixels.resize(static_cast<size_t>(out.count) * dims[1] * dims[2]);
  read_payload(in, out.pixels, 16,
               std::to_string(out.count) + " x " + std::to_string(out.height) + " x " + std::to_string(out.width));
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  GzReader in(path);
  const auto dims = read_header(in, kIdxLabelsMagic, 1, "IDX uint8 labels");
  std::vector<uint8_t> labels(dims[0]);
  read_payload(in, labels, 8, std::to_string(dims[0]));
  return labels;
}

}  // namespace sigtrain::vision

namespace sigtrain::vision {

std::shared_ptr<InMemorySource> open_idx_source(const std::string& images_path, const std::string& labels_path,
                                                int num_classes, std::vector<std::string> class_names) {
  IdxImages images = read_idx_images(images_path);
  const std::vector<uint8_t> raw_labels = read_idx_labels(labels_path);
  if (static_cast<int64_t>(raw_labels.size()) != images.count)
    throw VisionError(images_path + " holds " + std::to_string(images.count) + " images but " + labels_path +
                      " holds " + std::to_string(raw_labels.size()) + " labels; expected equal counts");
  InMemoryImages mem{images.height, images.width, 1, std::move(images.pixels),
                     std::vector<int>(raw_labels.begin(), raw_labels.end())};
  if (num_classes <= 0) {
    num_classes = class_names.empty() ? 1 : static_cast<int>(class_names.size());
    for (int l : mem.labels) num_classes = std::max(num_classes, l + 1);
  }
  check_label_range(mem.labels, 0, mem.labels.size(), num_classes, labels_path);
  if (class_names.empty()) class_names = numbered_class_names(num_classes);
  if (static_cast<int>(class_names.size()) != num_classes)
    throw VisionError(labels_path + ": " + std::to_string(class_names.size()) + " class names for " +
                      std::to_string(num_classes) + " classes");
  return std::make_shared<InMemorySource>("idx " + images_path, std::move(mem), std::move(class_names));
}

}  // namespace sigtrain::vision
