#include "data/vision/cifar_reader.h"

#include <filesystem>
#include <fstream>

#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

namespace fs = std::filesystem;

struct Layout {
  std::vector<std::string> files;
  size_t label_bytes;   // label bytes before the pixels of each record
  size_t label_offset;  // which of them is used
  int num_classes;
  std::string names_file;
};

Layout layout_of(const std::string& split, CifarVariant variant, CifarLabels labels) {
  if (split != "train" && split != "test")
    throw std::invalid_argument("read_cifar: split must be 'train' or 'test', got '" + split + "'");
  const bool train = split == "train";
  if (variant == CifarVariant::kCifar10) {
    Layout l{{}, 1, 0, 10, "batches.meta.txt"};
    if (train) {
      for (int i = 1; i <= 5; ++i) l.files.push_back("data_batch_" + std::to_string(i) + ".bin");
    } else {
      l.files.push_back("test_batch.bin");
    }
    return l;
  }
  const bool fine = labels == CifarLabels::kFine;
  return {{train ? "train.bin" : "test.bin"}, 2, fine ? size_t{1} : size_t{0}, fine ? 100 : 20,
          fine ? "fine_label_names.txt" : "coarse_label_names.txt"};
}

std::vector<std::string> read_names(const fs::path& file, int num_classes) {
  if (!fs::exists(file)) return numbered_class_names(num_classes);
  std::ifstream in(file);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int>(names.size()) != num_classes)
    throw_vision_error(file.string(), "expected " + std::to_string(num_classes) + " class names (one per line), found " +
                                          std::to_string(names.size()));
  return names;
}

// Appends the records of one file: pixels planar -> HWC, the chosen label byte.
void append_file(const fs::path& file, const Layout& l, InMemoryImages& out) {
  const size_t record = l.label_bytes + kCifarPixelBytes;
  const auto size = fs::file_size(file);
  if (size == 0 || size % record != 0)
    throw_vision_error(file.string(), "size " + std::to_string(size) + " bytes is not a positive multiple of the " +
                                          std::to_string(record) + "-byte record");
  std::ifstream in(file, std::ios::binary);
  std::vector<unsigned char> buf(size);
  if (!in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(size)))
    throw_vision_error(file.string(), "read error");
  const size_t n = size / record;
  const size_t first_label = out.labels.size();
  const size_t plane = kCifarSide * kCifarSide;
  out.pixels.resize(out.pixels.size() + n * kCifarPixelBytes);
  uint8_t* dst = out.pixels.data() + first_label * kCifarPixelBytes;
  for (size_t r = 0; r < n; ++r) {
    const unsigned char* rec = buf.data() + r * record;
    out.labels.push_back(rec[l.label_offset]);
    const unsigned char* px = rec + l.label_bytes;
    for (size_t i = 0; i < plane; ++i)
      for (size_t c = 0; c < 3; ++c) dst[i * 3 + c] = px[c * plane + i];
    dst += kCifarPixelBytes;
  }
  check_label_range(out.labels, first_label, out.labels.size(), l.num_classes, file.string());
}

}  // namespace

std::shared_ptr<InMemorySource> read_cifar(const std::string& folder, const std::string& split, CifarVariant variant,
                                           CifarLabels labels) {
  const Layout l = layout_of(split, variant, labels);
  const std::string name = variant == CifarVariant::kCifar10 ? "cifar10" : "cifar100";
  std::string missing;
  for (const auto& f : l.files)
    if (!fs::is_regular_file(fs::path(folder) / f)) missing += (missing.empty() ? "" : ", ") + f;
  if (!missing.empty())
    throw_vision_error(folder, name + " " + split + " split: missing " + missing + " (expected the binary version, " +
                                   (variant == CifarVariant::kCifar10 ? "cifar-10-batches-bin/" : "cifar-100-binary/") + ")");
  InMemoryImages mem{kCifarSide, kCifarSide, 3, {}, {}};
  for (const auto& f : l.files) append_file(fs::path(folder) / f, l, mem);
  auto names = read_names(fs::path(folder) / l.names_file, l.num_classes);
  std::string what = name + " " + folder + " " + split;
  if (variant == CifarVariant::kCifar100) what += labels == CifarLabels::kFine ? " (fine labels)" : " (coarse labels)";
  return std::make_shared<InMemorySource>(what, std::move(mem), std::move(names));
}

}  // namespace sigtrain::vision
