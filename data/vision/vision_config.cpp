#include "data/vision/vision_config.h"

namespace sigtrain::vision {
namespace {

// A [min, max] pair with 0 < min <= max <= upper.
void read_range(config::SectionReader& r, const std::string& key, double upper, double& lo, double& hi) {
  const auto v = r.get_double_list(key, {lo, hi});
  if (v.size() != 2) r.fail(key, "expected a list of two numbers [min, max]");
  if (!(v[0] > 0) || v[0] > v[1] || v[1] > upper)
    r.fail(key, "expected 0 < min <= max" + (upper < 1e300 ? " <= " + std::to_string(upper) : std::string()));
  lo = v[0];
  hi = v[1];
}

// Keys that only one format reads: an error with the others, so a typo in `format` does not go unnoticed. Returns
// whether `format` is the configured one, i.e. whether to read (and record) the key: the resolved config of an
// idx run then holds no folder keys, and reloading it passes this check.
bool only_for(config::SectionReader& r, const VisionDataConfig& c, const std::string& key, const std::string& format) {
  if (c.format == format) return true;
  if (r.has(key)) r.fail(key, "only for format: " + format + " (format is " + c.format + ")");
  return false;
}

}  // namespace

VisionDataConfig parse_vision_data_config(config::SectionReader& r) {
  VisionDataConfig c;
  c.format = r.get_enum("format", c.format, {"idx", "cifar10", "cifar100", "folder"});
  c.path = r.get_path("path", kDefaultVisionDataPath);
  if (c.path.empty()) r.fail("path", "must not be empty");
  if (only_for(r, c, "cifar100_labels", "cifar100"))
    c.cifar100_labels = r.get_enum("cifar100_labels", c.cifar100_labels, {"fine", "coarse"});
  const bool folder = only_for(r, c, "train_split", "folder") && only_for(r, c, "test_split", "folder");
  if (folder) {
    c.train_split = r.get_string("train_split", c.train_split);
    c.test_split = r.get_string("test_split", c.test_split);
    if (c.train_split.empty()) r.fail("train_split", "must not be empty");
    if (c.test_split.empty()) r.fail("test_split", "must not be empty");
  }
  const bool idx = only_for(r, c, "num_classes", "idx") && only_for(r, c, "class_names", "idx");
  if (idx) {
    c.num_classes = r.get_int("num_classes", c.num_classes, 0, 256);
    c.class_names = r.get_string_list("class_names", {});
  }
  if (!c.class_names.empty() && c.num_classes != 0 && static_cast<int64_t>(c.class_names.size()) != c.num_classes)
    r.fail("class_names", "expected num_classes = " + std::to_string(c.num_classes) + " names, got " +
                              std::to_string(c.class_names.size()));
  c.image_size = r.get_int("image_size", c.image_size, 1, 4096);
  c.channels = r.get_int("channels", c.channels, 1, 3);
  if (c.channels == 2) r.fail("channels", "expected 1 (gray) or 3 (RGB), got 2");
  {
    auto crop = r.sub("random_resized_crop");
    c.random_resized_crop = crop.get_bool("enabled", c.random_resized_crop);
    read_range(crop, "scale", 1.0, c.crop_scale_min, c.crop_scale_max);
    read_range(crop, "ratio", 1e300, c.crop_ratio_min, c.crop_ratio_max);
  }
  c.pad_crop = r.get_int("pad_crop", c.pad_crop, 0, 1024);
  if (c.pad_crop > 0 && c.random_resized_crop)
    r.fail("pad_crop", "is for random_resized_crop.enabled: false (the two crops exclude each other)");
  c.hflip = r.get_double("hflip", c.hflip, 0.0, 1.0);
  const std::vector<double> halves(static_cast<size_t>(c.channels), 0.5);
  c.mean = r.get_double_list("mean", halves);
  c.std = r.get_double_list("std", halves);
  if (c.mean.size() != static_cast<size_t>(c.channels))
    r.fail("mean", "expected " + std::to_string(c.channels) + " entries (one per channel), got " + std::to_string(c.mean.size()));
  if (c.std.size() != static_cast<size_t>(c.channels))
    r.fail("std", "expected " + std::to_string(c.channels) + " entries (one per channel), got " + std::to_string(c.std.size()));
  for (double s : c.std)
    if (!(s > 0)) r.fail("std", "entries must be > 0");
  c.eval_center_crop = r.get_bool("eval_center_crop", c.eval_center_crop);
  c.eval_crop_fraction = r.get_double("eval_crop_fraction", c.eval_crop_fraction, 0.01, 1.0);
  c.mixup_alpha = r.get_double("mixup_alpha", c.mixup_alpha, 0.0, 1e6);
  c.cutmix_alpha = r.get_double("cutmix_alpha", c.cutmix_alpha, 0.0, 1e6);
  c.mix_prob = r.get_double("mix_prob", c.mix_prob, 0.0, 1.0);
  c.mix_switch_prob = r.get_double("mix_switch_prob", c.mix_switch_prob, 0.0, 1.0);
  c.workers = r.get_int("workers", c.workers, 1, 256);
  c.prefetch_batches = r.get_int("prefetch_batches", c.prefetch_batches, 1, 1024);
  return c;
}

}  // namespace sigtrain::vision
