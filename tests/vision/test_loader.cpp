// The prefetching loader: synchronous order, thread-count independence, state / restore, rank slices, worker
// errors; batch mixing; the eval path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <numeric>

#include "data/lm_sampler.h"
#include "data/vision/eval_set.h"
#include "data/vision/idx_reader.h"
#include "data/vision/image_folder.h"
#include "data/vision/image_loader.h"
#include "data/vision/vision_error.h"
#include "vision_test_util.h"

namespace vi = sigtrain::vision;
namespace fs = std::filesystem;
using vision_test::error_of;
using vision_test::fixture;

namespace {

std::shared_ptr<const vi::ImageSource> fashion_train() {
  static const auto src = vi::open_idx_source(fixture("fashion-mnist/train-images-idx3-ubyte.gz"),
                                              fixture("fashion-mnist/train-labels-idx1-ubyte.gz"), 10, {});
  return src;
}

// Random resized crop + flip on the 28 px images, at 16 px: every sample's randomness shows in its pixels.
vi::LoaderOptions options(int workers, int64_t global_batch = 12, int64_t micro_batch = 0, int rank = 0, int world = 1) {
  vi::LoaderOptions o;
  o.transform.output_size = 16;
  o.transform.channels = 1;
  o.transform.random_resized_crop.enabled = true;
  o.transform.hflip_prob = 0.5;
  o.transform.norm = {{0.2860f}, {0.3530f}};
  o.seed = 1234;
  o.global_batch = global_batch;
  o.micro_batch = micro_batch;
  o.rank = rank;
  o.world = world;
  o.workers = workers;
  o.prefetch_batches = 3;
  return o;
}

void expect_same(const vi::VisionBatch& a, const vi::VisionBatch& b) {
  EXPECT_EQ(a.first_sample, b.first_sample);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.image_indices, b.image_indices);
  EXPECT_EQ(a.pixels, b.pixels);  // bit-identical
  EXPECT_EQ(a.soft_targets, b.soft_targets);
}

}  // namespace

TEST(ImageLoader, StreamEqualsSynchronousBatchesAcrossEpochs) {
  vi::ImageLoader loader(fashion_train(), options(3));
  // 12 steps of 12 samples = 144 samples: more than two epochs of 64 images.
  std::vector<int64_t> seen;
  for (int step = 0; step < 12; ++step) {
    const vi::VisionBatch b = loader.next();
    ASSERT_EQ(b.first_sample, step * 12);
    ASSERT_EQ(b.count, 12);
    EXPECT_TRUE(b.last_in_step);
    expect_same(b, loader.make_batch(step * 12, 12));
    seen.insert(seen.end(), b.image_indices.begin(), b.image_indices.end());
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(b.labels[i], fashion_train()->label(b.image_indices[i]));
  }
  // Each epoch visits every image once.
  std::vector<int64_t> epoch0(seen.begin(), seen.begin() + 64), epoch1(seen.begin() + 64, seen.begin() + 128);
  std::sort(epoch0.begin(), epoch0.end());
  std::sort(epoch1.begin(), epoch1.end());
  std::vector<int64_t> all(64);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(epoch0, all);
  EXPECT_EQ(epoch1, all);
  EXPECT_NE(std::vector<int64_t>(seen.begin(), seen.begin() + 64), std::vector<int64_t>(seen.begin() + 64, seen.begin() + 128));
  EXPECT_EQ(loader.next_sample(), 144);
}

TEST(ImageLoader, OneAndFourWorkersGiveBitIdenticalBatches) {
  vi::ImageLoader one(fashion_train(), options(1, 10, 4));
  vi::ImageLoader four(fashion_train(), options(4, 10, 4));
  for (int i = 0; i < 15; ++i) expect_same(one.next(), four.next());
}

TEST(ImageLoader, SameSeedSameBatchOtherSampleOrSeedDiffers) {
  vi::ImageLoader a(fashion_train(), options(2));
  const auto b1 = a.make_batch(0, 4);
  expect_same(b1, a.make_batch(0, 4));
  // The same image as a different stream sample (next epoch) gets a different augmentation.
  const int64_t image = b1.image_indices[0];
  int64_t later = -1;
  for (int64_t k = 64; k < 128 && later < 0; ++k)
    if (a.make_batch(k, 1).image_indices[0] == image) later = k;
  ASSERT_GE(later, 0);
  EXPECT_NE(a.make_batch(later, 1).pixels, std::vector<float>(b1.pixels.begin(), b1.pixels.begin() + 256));
  auto other = options(2);
  other.seed = 99;
  EXPECT_NE(vi::ImageLoader(fashion_train(), other).make_batch(0, 4).pixels, b1.pixels);
}

TEST(ImageLoader, MicroBatchesOfTheRankSliceInOrder) {
  // G = 10 on 1 rank in micro-batches of 4: 4 + 4 + 2 per step.
  vi::ImageLoader loader(fashion_train(), options(2, 10, 4));
  EXPECT_EQ(loader.micro_batches_per_step(), 3);
  const std::vector<std::pair<int64_t, int64_t>> want{{0, 4}, {4, 4}, {8, 2}, {10, 4}, {14, 4}, {18, 2}};
  for (size_t i = 0; i < want.size(); ++i) {
    const auto b = loader.next();
    EXPECT_EQ(b.first_sample, want[i].first);
    EXPECT_EQ(b.count, want[i].second);
    EXPECT_EQ(b.micro_index, static_cast<int64_t>(i % 3));
    EXPECT_EQ(b.last_in_step, i % 3 == 2);
  }
}

TEST(ImageLoader, TwoRankSlicesConcatenateToTheOneRankBatch) {
  for (int64_t G : {10, 11}) {
    vi::ImageLoader single(fashion_train(), options(2, G));
    vi::ImageLoader r0(fashion_train(), options(2, G, 0, 0, 2));
    vi::ImageLoader r1(fashion_train(), options(3, G, 0, 1, 2));
    for (int step = 0; step < 8; ++step) {
      const auto whole = single.next();
      const auto a = r0.next();
      const auto b = r1.next();
      EXPECT_EQ(a.count + b.count, G);
      EXPECT_EQ(b.first_sample, a.first_sample + a.count);
      std::vector<float> pixels = a.pixels;
      pixels.insert(pixels.end(), b.pixels.begin(), b.pixels.end());
      std::vector<int64_t> labels = a.labels;
      labels.insert(labels.end(), b.labels.begin(), b.labels.end());
      EXPECT_EQ(pixels, whole.pixels) << "G " << G << " step " << step;
      EXPECT_EQ(labels, whole.labels);
    }
    EXPECT_EQ(r0.next_sample(), single.next_sample());
    EXPECT_EQ(r1.next_sample(), single.next_sample());
  }
}

TEST(ImageLoader, StateRestoreContinuesTheStreamExactly) {
  vi::ImageLoader reference(fashion_train(), options(2, 10, 4));
  std::vector<vi::VisionBatch> stream;
  for (int i = 0; i < 24; ++i) stream.push_back(reference.next());  // 8 steps, crossing the epoch boundary

  vi::ImageLoader first(fashion_train(), options(3, 10, 4));
  for (int i = 0; i < 9; ++i) first.next();  // 3 steps; workers are already ahead
  first.next();
  EXPECT_THROW(first.state(), std::logic_error);  // mid-step
  first.next();
  first.next();
  const nlohmann::json saved = first.state().to_json();
  EXPECT_EQ(saved["next_sample"], 40);
  EXPECT_TRUE(saved["dataset_fingerprint"].is_string());

  vi::ImageLoader resumed(fashion_train(), options(1, 10, 4));
  resumed.restore(vi::LoaderState::from_json(saved));
  for (int i = 12; i < 24; ++i) expect_same(resumed.next(), stream[static_cast<size_t>(i)]);
  // Restoring a running loader backwards drops what its workers made ahead.
  first.restore(vi::LoaderState::from_json(saved));
  expect_same(first.next(), stream[12]);
}

TEST(ImageLoader, RestoreRefusesOtherDataOrSeed) {
  vi::ImageLoader loader(fashion_train(), options(1));
  vi::LoaderState s = loader.state();
  s.dataset_fingerprint ^= 1;
  EXPECT_NE(error_of<std::runtime_error>([&] { loader.restore(s); })
                .find("cannot restore the image data position: the training data (idx "),
            std::string::npos);
  s = loader.state();
  s.seed = 5;
  EXPECT_NE(error_of<std::runtime_error>([&] { loader.restore(s); }).find("seed differs (checkpoint 5, this run 1234)"),
            std::string::npos);
  EXPECT_NE(error_of<std::runtime_error>([] { vi::LoaderState::from_json({{"next_sample", 3}}); })
                .find("missing field 'seed'"),
            std::string::npos);
}

TEST(ImageLoader, WorkerErrorReachesTheConsumerWithTheFileName) {
  const fs::path root = vision_test::temp_dir("loader_corrupt");
  fs::copy(fixture("folder/train"), root / "train", fs::copy_options::recursive);
  vision_test::write_bytes(root / "train/coat/broken.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0});
  const auto src = std::make_shared<vi::ImageFolderSource>(root.string(), "train", 1);
  auto o = options(3, 3);
  vi::ImageLoader loader(src, o);
  // 9 images, batches of 3: within 3 steps (one epoch) the broken image comes up.
  std::string msg;
  for (int step = 0; step < 3 && msg.empty(); ++step) {
    try {
      loader.next();
    } catch (const vi::VisionError& e) {
      msg = e.what();
    }
  }
  EXPECT_NE(msg.find((root / "train/coat/broken.png").string() + ": cannot decode PNG"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(training sample "), std::string::npos) << msg;
}  // destruction joins workers that are still running

TEST(BatchMix, MixupPixelsAndSoftTargetsFollowTheFormula) {
  auto plain_o = options(2, 8);
  auto mixed_o = plain_o;
  mixed_o.mix = {0.4, 0.0, 1.0, 0.5};
  vi::ImageLoader plain(fashion_train(), plain_o), mixed(fashion_train(), mixed_o);
  for (int64_t first : {0, 8, 56}) {
    const auto p = plain.make_batch(first, 8);
    const auto m = mixed.make_batch(first, 8);
    ASSERT_EQ(m.mix.kind, vi::MixKind::kMixup);
    const auto lam = static_cast<float>(m.mix.lambda);
    EXPECT_GT(lam, 0.0f);
    EXPECT_LT(lam, 1.0f);
    EXPECT_TRUE(p.soft_targets.empty());
    ASSERT_EQ(m.soft_targets.size(), 8u * 10u);
    const size_t per = 16 * 16;
    for (size_t i = 0; i < 8; ++i) {
      for (size_t j = 0; j < per; ++j)
        ASSERT_NEAR(m.pixels[i * per + j], lam * p.pixels[i * per + j] + (1.0f - lam) * p.pixels[(7 - i) * per + j], 1e-6f);
      const float* t = &m.soft_targets[i * 10];
      EXPECT_NEAR(std::accumulate(t, t + 10, 0.0f), 1.0f, 1e-6f);
      std::vector<float> want(10, 0.0f);
      want[static_cast<size_t>(p.labels[i])] += lam;
      want[static_cast<size_t>(p.labels[7 - i])] += 1.0f - lam;
      for (size_t c = 0; c < 10; ++c) EXPECT_FLOAT_EQ(t[c], want[c]);
    }
    EXPECT_EQ(m.labels, p.labels);
  }
}

TEST(BatchMix, CutmixPastesThePartnerBoxAndWeightsByArea) {
  auto plain_o = options(2, 6);
  auto mixed_o = plain_o;
  mixed_o.mix = {0.0, 1.0, 1.0, 0.5};
  vi::ImageLoader plain(fashion_train(), plain_o), mixed(fashion_train(), mixed_o);
  int boxes = 0;
  for (int64_t first = 0; first < 60; first += 6) {
    const auto p = plain.make_batch(first, 6);
    const auto m = mixed.make_batch(first, 6);
    ASSERT_EQ(m.mix.kind, vi::MixKind::kCutmix);
    const auto& x = m.mix;
    const int area = (x.box_bottom - x.box_top) * (x.box_right - x.box_left);
    boxes += area > 0;
    EXPECT_DOUBLE_EQ(x.lambda, 1.0 - area / 256.0);
    for (size_t i = 0; i < 6; ++i) {
      for (int y = 0; y < 16; ++y)
        for (int xx = 0; xx < 16; ++xx) {
          const bool inside = y >= x.box_top && y < x.box_bottom && xx >= x.box_left && xx < x.box_right;
          const size_t at = static_cast<size_t>(y * 16 + xx);
          ASSERT_EQ(m.pixels[i * 256 + at], p.pixels[(inside ? 5 - i : i) * 256 + at]);
        }
      const float* t = &m.soft_targets[i * 10];
      EXPECT_NEAR(std::accumulate(t, t + 10, 0.0f), 1.0f, 1e-6f);
      EXPECT_GE(t[p.labels[i]], static_cast<float>(x.lambda) - 1e-6f);
    }
  }
  EXPECT_GT(boxes, 3);
}

TEST(BatchMix, ProbabilityZeroGivesOneHotTargetsAndUnmixedPixels) {
  auto plain_o = options(1, 4);
  auto mixed_o = plain_o;
  mixed_o.mix = {0.4, 1.0, 0.0, 0.5};
  const auto p = vi::ImageLoader(fashion_train(), plain_o).make_batch(0, 4);
  const auto m = vi::ImageLoader(fashion_train(), mixed_o).make_batch(0, 4);
  EXPECT_EQ(m.mix.kind, vi::MixKind::kNone);
  EXPECT_EQ(m.pixels, p.pixels);
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 10; ++c) EXPECT_EQ(m.soft_targets[i * 10 + c], c == static_cast<size_t>(p.labels[i]) ? 1.0f : 0.0f);
}

TEST(ImageEvalSet, WholeTestSplitInOrderWithAnyWorkerCount) {
  const auto test = vi::open_idx_source(fixture("fashion-mnist/t10k-images-idx3-ubyte.gz"),
                                        fixture("fashion-mnist/t10k-labels-idx1-ubyte.gz"), 10, {});
  const vi::EvalTransformOptions o{28, 1, true, 0.875, {{0.5f}, {0.5f}}};
  const vi::ImageEvalSet one(test, o, 1), four(test, o, 4);
  ASSERT_EQ(one.size(), 32);
  const auto all = one.eval_batch(0, 32);
  const auto part = four.eval_batch(10, 12);
  EXPECT_EQ(std::vector<float>(all.pixels.begin() + 10 * 784, all.pixels.begin() + 22 * 784), part.pixels);
  EXPECT_EQ(all.labels[0], 9);
  EXPECT_EQ(all.labels[1], 2);
  const auto img0 = test->load(0);
  for (size_t i = 0; i < 784; ++i) ASSERT_FLOAT_EQ(all.pixels[i], (img0.pixels[i] / 255.0f - 0.5f) / 0.5f);
  EXPECT_THROW(one.eval_batch(30, 3), std::out_of_range);
  // Ranks split it with data::rank_slice.
  const auto s = sigtrain::data::rank_slice(32, 1, 3);
  EXPECT_EQ(one.eval_batch(s.offset, s.count).labels,
            std::vector<int64_t>(all.labels.begin() + s.offset, all.labels.begin() + s.offset + s.count));
}
