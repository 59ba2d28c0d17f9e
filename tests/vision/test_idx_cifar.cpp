// IDX (Fashion-MNIST slice) and CIFAR binary readers: content against the facts numpy recorded, malformed files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <numeric>

#include "data/vision/cifar_reader.h"
#include "data/vision/idx_reader.h"
#include "data/vision/vision_error.h"
#include "vision_test_util.h"

namespace vi = sigtrain::vision;
using vision_test::error_of;
using vision_test::fixture;

namespace {

std::vector<unsigned char> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::vector<unsigned char> out;
  unsigned char buf[65536];
  int n = 0;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

void put_be32(std::vector<unsigned char>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + static_cast<size_t>(i)] = static_cast<unsigned char>(x >> (24 - 8 * i));
}

std::string fm(const std::string& name) { return fixture("fashion-mnist/" + name); }

}  // namespace

TEST(Idx, FashionMnistSliceMatchesNumpy) {
  const auto& facts = vision_test::expected()["fashion-mnist"];
  const auto train = vi::read_idx_images(fm("train-images-idx3-ubyte.gz"));
  EXPECT_EQ(train.count, 64);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  const auto labels = vi::read_idx_labels(fm("train-labels-idx1-ubyte.gz"));
  // datasets.md §2.3: train labels start 9, 0, 0, 3, 0, 2, 7, 2, 5, 5.
  EXPECT_EQ(std::vector<int>(labels.begin(), labels.begin() + 10), (std::vector<int>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_EQ(std::vector<int>(labels.begin(), labels.end()), facts["train_labels"].get<std::vector<int>>());
  EXPECT_EQ(std::accumulate(train.pixels.begin(), train.pixels.begin() + 784, 0), facts["train_image0_sum"].get<int>());
  EXPECT_EQ(std::vector<int>(train.pixels.begin() + 14 * 28, train.pixels.begin() + 15 * 28),
            facts["train_image0_row14"].get<std::vector<int>>());

  const auto source = vi::open_idx_source(fm("t10k-images-idx3-ubyte.gz"), fm("t10k-labels-idx1-ubyte.gz"), 10, {});
  ASSERT_EQ(source->size(), 32);
  EXPECT_EQ(source->num_classes(), 10);
  // datasets.md §2.3: t10k labels start 9, 2, 1, 1, 6, 1, 4, 6, 5, 7; t10k image 0 pixel sum 33,456.
  const std::vector<int> first10{9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(source->label(i), first10[static_cast<size_t>(i)]) << i;
  const vi::Image img = source->load(0);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(std::accumulate(img.pixels.begin(), img.pixels.end(), 0), 33456);
  for (int x = 0; x < 28; ++x) EXPECT_EQ(img.at(20, x, 0), facts["t10k_image0_row20"][static_cast<size_t>(x)].get<int>());
  EXPECT_NE(source->describe().find("32 images 28x28x1, 10 classes"), std::string::npos) << source->describe();
}

TEST(Idx, RawAndGzipReadTheSame) {
  const auto dir = vision_test::temp_dir("idx_raw");
  vision_test::write_bytes(dir / "images", gunzip(fm("train-images-idx3-ubyte.gz")));
  const auto raw = vi::read_idx_images((dir / "images").string());
  const auto gz = vi::read_idx_images(fm("train-images-idx3-ubyte.gz"));
  EXPECT_EQ(raw.pixels, gz.pixels);
}

TEST(Idx, InferredClassCountAndFingerprint) {
  const auto a = vi::open_idx_source(fm("train-images-idx3-ubyte.gz"), fm("train-labels-idx1-ubyte.gz"), 0, {});
  EXPECT_EQ(a->num_classes(), 10);  // max label 9 + 1
  EXPECT_EQ(a->class_names()[3], "3");
  const auto b = vi::open_idx_source(fm("t10k-images-idx3-ubyte.gz"), fm("t10k-labels-idx1-ubyte.gz"), 0, {});
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_EQ(a->fingerprint(),
            vi::open_idx_source(fm("train-images-idx3-ubyte.gz"), fm("train-labels-idx1-ubyte.gz"), 0, {})->fingerprint());
}

TEST(IdxErrors, BadMagicNamesFileFoundAndExpected) {
  const std::string labels = fm("train-labels-idx1-ubyte.gz");
  const auto msg = error_of<vi::VisionError>([&] { vi::read_idx_images(labels); });
  EXPECT_NE(msg.find(labels + ": bad magic 0x00000801, expected 0x00000803 (IDX uint8 images)"), std::string::npos) << msg;
}

TEST(IdxErrors, TruncatedFileGivesExpectedAndFoundBytes) {
  auto bytes = gunzip(fm("train-images-idx3-ubyte.gz"));
  bytes.resize(16 + 3 * 784 + 5);
  put_be32(bytes, 4, 10);  // header promises 10 images
  const auto path = vision_test::temp_dir("idx_trunc") / "train-images-idx3-ubyte";
  vision_test::write_bytes(path, bytes);
  const auto msg = error_of<vi::VisionError>([&] { vi::read_idx_images(path.string()); });
  EXPECT_NE(msg.find(path.string() + ": truncated: expected 16 + 10 x 28 x 28 = 7856 bytes, found 2373"),
            std::string::npos) << msg;
}

TEST(IdxErrors, TruncatedGzipStreamIsAnErrorNamingTheFile) {
  auto bytes = vision_test::read_bytes(fm("train-images-idx3-ubyte.gz"));
  bytes.resize(bytes.size() / 2);
  const auto path = vision_test::temp_dir("idx_trunc_gz") / "train-images-idx3-ubyte.gz";
  vision_test::write_bytes(path, bytes);
  const auto msg = error_of<vi::VisionError>([&] { vi::read_idx_images(path.string()); });
  EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << msg;
  EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("read error") != std::string::npos) << msg;
}

TEST(IdxErrors, TrailingDataIsRefused) {
  auto bytes = gunzip(fm("t10k-labels-idx1-ubyte.gz"));
  bytes.push_back(7);
  const auto path = vision_test::temp_dir("idx_trailing") / "labels";
  vision_test::write_bytes(path, bytes);
  const auto msg = error_of<vi::VisionError>([&] { vi::read_idx_labels(path.string()); });
  EXPECT_NE(msg.find("trailing data: expected 8 + 32 = 40 bytes, found more"), std::string::npos) << msg;
}

TEST(IdxErrors, ImageLabelCountMismatchNamesBothFiles) {
  const auto images = fm("train-images-idx3-ubyte.gz");
  const auto labels = fm("t10k-labels-idx1-ubyte.gz");
  const auto msg = error_of<vi::VisionError>([&] { vi::open_idx_source(images, labels, 10, {}); });
  EXPECT_NE(msg.find(images + " holds 64 images but " + labels + " holds 32 labels"), std::string::npos) << msg;
}

TEST(IdxErrors, LabelOutOfRangeNamesLabelsFile) {
  const auto labels = fm("train-labels-idx1-ubyte.gz");
  const auto msg = error_of<vi::VisionError>(
      [&] { vi::open_idx_source(fm("train-images-idx3-ubyte.gz"), labels, 5, {}); });
  // The first label >= 5 is item 0 (label 9).
  EXPECT_NE(msg.find(labels + ": label 9 of item 0 is out of range: expected 0..4 (5 classes)"), std::string::npos) << msg;
}

TEST(Cifar, Cifar10RecordsLabelsAndNames) {
  const auto train = vi::read_cifar(fixture("cifar10"), "train", vi::CifarVariant::kCifar10);
  ASSERT_EQ(train->size(), 10);  // 5 files x 2 records, in file order
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(train->class_names().front(), "airplane");
  EXPECT_EQ(train->class_names().back(), "truck");
  for (int r = 0; r < 10; ++r) EXPECT_EQ(train->label(r), (r * 3) % 10) << r;
  // Generator formula (scripts/vision/make_fixtures.py): planar R, G, B -> HWC.
  for (int r : {0, 7}) {
    const vi::Image img = train->load(r);
    ASSERT_EQ(img.height, 32);
    ASSERT_EQ(img.channels, 3);
    for (int c = 0; c < 3; ++c)
      for (int y : {0, 5, 31})
        for (int x : {0, 17, 31}) EXPECT_EQ(img.at(y, x, c), (31 * r + 67 * c + 5 * y + 3 * x) % 256);
  }
  const auto test = vi::read_cifar(fixture("cifar10"), "test", vi::CifarVariant::kCifar10);
  EXPECT_EQ(test->size(), 3);
  EXPECT_EQ(test->label(2), 6);
}

TEST(Cifar, Cifar100FineAndCoarse) {
  const auto fine = vi::read_cifar(fixture("cifar100"), "train", vi::CifarVariant::kCifar100, vi::CifarLabels::kFine);
  const auto coarse = vi::read_cifar(fixture("cifar100"), "train", vi::CifarVariant::kCifar100, vi::CifarLabels::kCoarse);
  ASSERT_EQ(fine->size(), 4);
  EXPECT_EQ(fine->num_classes(), 100);
  EXPECT_EQ(coarse->num_classes(), 20);
  EXPECT_EQ(fine->class_names()[10], "fine_10");  // from fine_label_names.txt
  EXPECT_EQ(coarse->class_names()[10], "10");     // no coarse_label_names.txt: numbered
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(fine->label(r), (7 * r + 3) % 100);
    EXPECT_EQ(coarse->label(r), r % 20);
  }
  EXPECT_EQ(fine->load(3).at(4, 9, 2), (31 * 3 + 67 * 2 + 5 * 4 + 3 * 9) % 256);
  EXPECT_EQ(vi::read_cifar(fixture("cifar100"), "test", vi::CifarVariant::kCifar100)->size(), 2);
}

TEST(CifarErrors, WrongFileSizeNamesFileSizeAndRecord) {
  const auto dir = vision_test::temp_dir("cifar_size");
  auto bytes = vision_test::read_bytes(fixture("cifar10/test_batch.bin"));
  bytes.pop_back();
  vision_test::write_bytes(dir / "test_batch.bin", bytes);
  const auto msg = error_of<vi::VisionError>([&] { vi::read_cifar(dir.string(), "test", vi::CifarVariant::kCifar10); });
  EXPECT_NE(msg.find((dir / "test_batch.bin").string() +
                     ": size 9218 bytes is not a positive multiple of the 3073-byte record"),
            std::string::npos) << msg;
}

TEST(CifarErrors, MissingFilesAreListed) {
  const auto dir = vision_test::temp_dir("cifar_missing");
  std::filesystem::copy_file(fixture("cifar10/data_batch_2.bin"), dir / "data_batch_2.bin");
  const auto msg = error_of<vi::VisionError>([&] { vi::read_cifar(dir.string(), "train", vi::CifarVariant::kCifar10); });
  EXPECT_NE(msg.find("cifar10 train split: missing data_batch_1.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin"),
            std::string::npos) << msg;
}

TEST(CifarErrors, LabelOutOfRange) {
  const auto dir = vision_test::temp_dir("cifar_label");
  auto bytes = vision_test::read_bytes(fixture("cifar100/test.bin"));
  bytes[3074 + 1] = 100;  // record 1's fine label
  vision_test::write_bytes(dir / "test.bin", bytes);
  const auto msg = error_of<vi::VisionError>([&] { vi::read_cifar(dir.string(), "test", vi::CifarVariant::kCifar100); });
  EXPECT_NE(msg.find((dir / "test.bin").string() + ": label 100 of item 1 is out of range: expected 0..99 (100 classes)"),
            std::string::npos) << msg;
}

TEST(CifarErrors, NamesFileWithWrongCount) {
  const auto dir = vision_test::temp_dir("cifar_names");
  std::filesystem::copy_file(fixture("cifar10/test_batch.bin"), dir / "test_batch.bin");
  vision_test::write_bytes(dir / "batches.meta.txt", {'c', 'a', 't', '\n'});
  const auto msg = error_of<vi::VisionError>([&] { vi::read_cifar(dir.string(), "test", vi::CifarVariant::kCifar10); });
  EXPECT_NE(msg.find("batches.meta.txt: expected 10 class names (one per line), found 1"), std::string::npos) << msg;
}

// The real data set, when Debian's dataset-fashion-mnist is installed (scripts/setup.sh installs it).
TEST(FashionMnistFull, CountsAndPinnedFacts) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto test = vi::open_idx_source(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz", 10, {});
  ASSERT_EQ(test->size(), 10000);
  std::vector<int> per_class(10, 0);
  double total = 0;
  for (int64_t i = 0; i < test->size(); ++i) {
    ++per_class[static_cast<size_t>(test->label(i))];
    const auto img = test->load(i);
    total += std::accumulate(img.pixels.begin(), img.pixels.end(), 0.0);
  }
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
  EXPECT_NEAR(total / (10000.0 * 784), 73.1466, 5e-5);  // datasets.md §2.3
  const auto train_labels = vi::read_idx_labels(dir + "/train-labels-idx1-ubyte.gz");
  ASSERT_EQ(train_labels.size(), 60000u);
  std::vector<int> train_counts(10, 0);
  for (auto l : train_labels) ++train_counts[l];
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
}
