#include "data/vision/vision_dataset.h"

#include <filesystem>

#include "data/vision/cifar_reader.h"
#include "data/vision/idx_reader.h"
#include "data/vision/image_folder.h"
#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {

namespace fs = std::filesystem;

// `stem` with .gz if that exists, else without; VisionError naming both when neither does.
std::string idx_file(const std::string& folder, const std::string& stem) {
  const fs::path gz = fs::path(folder) / (stem + ".gz");
  const fs::path raw = fs::path(folder) / stem;
  if (fs::is_regular_file(gz)) return gz.string();
  if (fs::is_regular_file(raw)) return raw.string();
  throw_vision_error(folder, "neither " + gz.filename().string() + " nor " + raw.filename().string() + " exists");
}

Normalization normalization(const VisionDataConfig& c) {
  return {std::vector<float>(c.mean.begin(), c.mean.end()), std::vector<float>(c.std.begin(), c.std.end())};
}

}  // namespace

std::shared_ptr<const ImageSource> open_vision_source(const VisionDataConfig& c, VisionSplit split) {
  if (!fs::is_directory(c.path)) {
    std::string hint = c.path == kDefaultVisionDataPath ? "; run scripts/fetch_vision_data.sh" : "";
    throw_vision_error(c.path, "vision data folder does not exist (format " + c.format + ")" + hint);
  }
  const bool train = split == VisionSplit::kTrain;
  if (c.format == "idx") {
    const std::string prefix = train ? "train" : "t10k";
    const std::string images = idx_file(c.path, prefix + "-images-idx3-ubyte");  // looked up first: errors in order
    const std::string labels = idx_file(c.path, prefix + "-labels-idx1-ubyte");
    return open_idx_source(images, labels, static_cast<int>(c.num_classes), c.class_names);
  }
  if (c.format == "cifar10" || c.format == "cifar100")
    return read_cifar(c.path, train ? "train" : "test", c.format == "cifar10" ? CifarVariant::kCifar10 : CifarVariant::kCifar100,
                      c.cifar100_labels == "fine" ? CifarLabels::kFine : CifarLabels::kCoarse);
  return std::make_shared<ImageFolderSource>(c.path, train ? c.train_split : c.test_split, static_cast<int>(c.channels));
}

TrainTransformOptions train_transform_options(const VisionDataConfig& c) {
  TrainTransformOptions t;
  t.output_size = static_cast<int>(c.image_size);
  t.channels = static_cast<int>(c.channels);
  t.random_resized_crop = {c.random_resized_crop, c.crop_scale_min, c.crop_scale_max, c.crop_ratio_min, c.crop_ratio_max};
  t.pad_crop_px = static_cast<int>(c.pad_crop);
  t.hflip_prob = c.hflip;
  t.norm = normalization(c);
  return t;
}

EvalTransformOptions eval_transform_options(const VisionDataConfig& c) {
  return {static_cast<int>(c.image_size), static_cast<int>(c.channels), c.eval_center_crop, c.eval_crop_fraction,
          normalization(c)};
}

MixOptions mix_options(const VisionDataConfig& c) { return {c.mixup_alpha, c.cutmix_alpha, c.mix_prob, c.mix_switch_prob}; }

LoaderOptions loader_options(const VisionDataConfig& c, uint64_t seed, int64_t global_batch, int64_t micro_batch,
                             int rank, int world) {
  LoaderOptions o;
  o.transform = train_transform_options(c);
  o.mix = mix_options(c);
  o.seed = seed;
  o.global_batch = global_batch;
  o.micro_batch = micro_batch;
  o.rank = rank;
  o.world = world;
  o.workers = static_cast<int>(c.workers);
  o.prefetch_batches = static_cast<int>(c.prefetch_batches);
  return o;
}

}  // namespace sigtrain::vision
