// The vision config section: defaults, every key, errors naming the key; opening sources from it.
#include <gtest/gtest.h>

#include "common/config.h"
#include "data/vision/vision_dataset.h"
#include "data/vision/vision_error.h"
#include "vision_test_util.h"

namespace vi = sigtrain::vision;
namespace cfg = sigtrain::config;
using vision_test::error_of;
using vision_test::fixture;

namespace {

vi::VisionDataConfig parse(const std::string& yaml) {
  auto tree = cfg::ConfigTree::from_string(yaml, "test.yaml");
  cfg::SectionReader r(tree, "vision");
  auto c = vi::parse_vision_data_config(r);
  tree.check_all_consumed();
  return c;
}

std::string parse_error(const std::string& yaml) {
  return error_of<cfg::ConfigError>([&] { parse(yaml); });
}

}  // namespace

TEST(VisionConfig, DefaultsAreFashionMnistFromTheCache) {
  const auto c = parse("vision: {}\n");
  EXPECT_EQ(c.format, "idx");
  EXPECT_EQ(c.path, ".cache/sigtrain/vision/fashion-mnist");
  EXPECT_EQ(c.image_size, 28);
  EXPECT_EQ(c.channels, 1);
  EXPECT_FALSE(c.random_resized_crop);
  EXPECT_EQ(c.mean, std::vector<double>{0.5});
  EXPECT_EQ(c.std, std::vector<double>{0.5});
  EXPECT_FALSE(vi::mix_options(c).enabled());
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.prefetch_batches, 4);
}

TEST(VisionConfig, EveryKeyIsRead) {
  const auto c = parse(
      "vision:\n  format: folder\n  path: /data/imagenet\n  train_split: train\n  test_split: validation\n"
      "  image_size: 224\n  channels: 3\n"
      "  random_resized_crop: {enabled: true, scale: [0.35, 1.0], ratio: [0.8, 1.25]}\n"
      "  hflip: 0.5\n  mean: [0.485, 0.456, 0.406]\n  std: [0.229, 0.224, 0.225]\n"
      "  eval_center_crop: true\n  eval_crop_fraction: 0.95\n  mixup_alpha: 0.8\n  cutmix_alpha: 1.0\n"
      "  mix_prob: 0.9\n  mix_switch_prob: 0.4\n  workers: 6\n  prefetch_batches: 8\n");
  EXPECT_EQ(c.test_split, "validation");
  EXPECT_DOUBLE_EQ(c.crop_scale_min, 0.35);
  EXPECT_DOUBLE_EQ(c.crop_ratio_max, 1.25);
  const auto t = vi::train_transform_options(c);
  EXPECT_TRUE(t.random_resized_crop.enabled);
  EXPECT_EQ(t.output_size, 224);
  EXPECT_FLOAT_EQ(t.norm.std[2], 0.225f);
  const auto e = vi::eval_transform_options(c);
  EXPECT_DOUBLE_EQ(e.crop_fraction, 0.95);
  const auto o = vi::loader_options(c, 7, 256, 64, 1, 4);
  EXPECT_EQ(o.workers, 6);
  EXPECT_EQ(o.prefetch_batches, 8);
  EXPECT_DOUBLE_EQ(o.mix.mixup_alpha, 0.8);
  EXPECT_DOUBLE_EQ(o.mix.switch_prob, 0.4);
  EXPECT_EQ(o.seed, 7u);
  EXPECT_EQ(o.rank, 1);
}

TEST(VisionConfig, BadValuesNameTheKey) {
  EXPECT_NE(parse_error("vision: {channels: 3, mean: [0.5]}\n").find("vision.mean: expected 3 entries (one per channel), got 1"),
            std::string::npos);
  EXPECT_NE(parse_error("vision: {format: png}\n").find("vision.format"), std::string::npos);
  EXPECT_NE(parse_error("vision: {channels: 2}\n").find("vision.channels: expected 1 (gray) or 3 (RGB)"), std::string::npos);
  EXPECT_NE(parse_error("vision: {random_resized_crop: {scale: [0.5, 0.2]}}\n").find("vision.random_resized_crop.scale"),
            std::string::npos);
  EXPECT_NE(parse_error("vision: {hflip: 1.5}\n").find("vision.hflip"), std::string::npos);
  EXPECT_NE(parse_error("vision: {std: [0]}\n").find("vision.std: entries must be > 0"), std::string::npos);
  EXPECT_NE(parse_error("vision: {format: cifar10, train_split: a}\n").find("vision.train_split: only for format: folder"),
            std::string::npos);
  EXPECT_NE(parse_error("vision: {pad_crop: 4, random_resized_crop: {enabled: true}}\n").find("vision.pad_crop"),
            std::string::npos);
  EXPECT_NE(parse_error("vision: {workers: 0}\n").find("vision.workers"), std::string::npos);
  EXPECT_NE(parse_error("vision: {mixup_alhpa: 0.2}\n").find("mixup_alpha"), std::string::npos);  // did you mean
}

TEST(VisionDataset, OpensEachFormatFromTheConfig) {
  auto idx = parse("vision: {path: " + fixture("fashion-mnist") + "}\n");
  EXPECT_EQ(vi::open_vision_source(idx, vi::VisionSplit::kTrain)->size(), 64);
  EXPECT_EQ(vi::open_vision_source(idx, vi::VisionSplit::kTest)->size(), 32);
  auto cifar = parse("vision: {format: cifar100, cifar100_labels: coarse, channels: 3, path: " + fixture("cifar100") + "}\n");
  EXPECT_EQ(vi::open_vision_source(cifar, vi::VisionSplit::kTrain)->num_classes(), 20);
  auto folder = parse("vision: {format: folder, channels: 3, path: " + fixture("folder") + "}\n");
  const auto val = vi::open_vision_source(folder, vi::VisionSplit::kTest);
  EXPECT_EQ(val->size(), 3);
  EXPECT_EQ(val->load(0).channels, 3);
}

TEST(VisionDataset, MissingDataNamesTheFetchScriptOrTheFiles) {
  // The default (relative) path, from a working directory without a cache.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(vision_test::temp_dir("no_cache"));
  const auto hint = error_of<vi::VisionError>([] { vi::open_vision_source(parse("vision: {}\n"), vi::VisionSplit::kTrain); });
  std::filesystem::current_path(cwd);
  EXPECT_NE(hint.find(".cache/sigtrain/vision/fashion-mnist: vision data folder does not exist (format idx); "
                      "run scripts/fetch_vision_data.sh"),
            std::string::npos) << hint;
  auto cifar_dir = parse("vision: {path: " + fixture("cifar10") + "}\n");  // idx files missing there
  const auto msg = error_of<vi::VisionError>([&] { vi::open_vision_source(cifar_dir, vi::VisionSplit::kTrain); });
  EXPECT_NE(msg.find("neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte exists"), std::string::npos) << msg;
}
