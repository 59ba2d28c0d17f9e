// Image folders and the JPEG / PNG decoders: layout rules, pixels against the IDX originals (lossless PNG) and
// against what PIL decoded (JPEG, expected.json), channel conversion, malformed trees and files.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "data/vision/idx_reader.h"
#include "data/vision/image_decode.h"
#include "data/vision/image_folder.h"
#include "data/vision/vision_error.h"
#include "vision_test_util.h"

namespace vi = sigtrain::vision;
namespace fs = std::filesystem;
using vision_test::error_of;
using vision_test::fixture;

namespace {

const vi::IdxImages& train_idx() {
  static const vi::IdxImages images = vi::read_idx_images(fixture("fashion-mnist/train-images-idx3-ubyte.gz"));
  return images;
}

std::vector<uint8_t> idx_image(int index) {
  const auto& p = train_idx().pixels;
  return {p.begin() + index * 784, p.begin() + (index + 1) * 784};
}

int64_t sum(const vi::Image& img) { return std::accumulate(img.pixels.begin(), img.pixels.end(), int64_t{0}); }

// A copy of the fixture's train split to break.
fs::path copy_of_train(const std::string& name) {
  const fs::path root = vision_test::temp_dir(name);
  fs::copy(fixture("folder/train"), root / "train", fs::copy_options::recursive);
  return root;
}

}  // namespace

TEST(ImageFolder, ClassesSortedFilesSortedHiddenAndOtherFilesSkipped) {
  const vi::ImageFolderSource src(fixture("folder"), "train", 1);
  EXPECT_EQ(src.class_names(), (std::vector<std::string>{"Bag", "ankle_boot", "coat"}));  // byte order
  ASSERT_EQ(src.size(), 8);
  const std::vector<std::string> rel{"Bag/train_00023.png",     "Bag/train_00035.PNG",
                                     "Bag/train_00057.png",     "ankle_boot/sub/train_00015.jpeg",
                                     "ankle_boot/train_00000.jpg", "ankle_boot/train_00011.JPEG",
                                     "coat/train_00019.png",    "coat/train_00022.jpg"};
  const std::vector<int> labels{0, 0, 0, 1, 1, 1, 2, 2};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(src.path(i), fixture("folder/train/" + rel[static_cast<size_t>(i)]));
    EXPECT_EQ(src.label(i), labels[static_cast<size_t>(i)]);
  }
  EXPECT_NE(src.describe().find("8 images, 3 classes"), std::string::npos);
  EXPECT_EQ(vi::ImageFolderSource(fixture("folder"), "val", 3).size(), 3);
}

TEST(ImageFolder, PngVariantsDecodeToTheOriginalPixels) {
  const vi::ImageFolderSource gray(fixture("folder"), "train", 1);
  EXPECT_EQ(gray.load(0).pixels, idx_image(23));  // 8-bit gray
  EXPECT_EQ(gray.load(1).pixels, idx_image(35));  // RGBA (gray replicated): alpha dropped, luma of (v, v, v) = v
  EXPECT_EQ(gray.load(2).pixels, idx_image(57));  // 16-bit gray, v * 257: high byte
  EXPECT_EQ(gray.load(6).pixels, idx_image(19));  // palette
  const vi::Image rgba = vi::decode_image_file(fixture("folder/train/Bag/train_00035.PNG"), 3);
  ASSERT_EQ(rgba.channels, 3);
  for (int i = 0; i < 784; ++i) ASSERT_EQ(rgba.pixels[static_cast<size_t>(i) * 3 + 1], idx_image(35)[static_cast<size_t>(i)]);
  // Native decode keeps the alpha channel (255 - gray).
  const auto bytes = vision_test::read_bytes(fixture("folder/train/Bag/train_00035.PNG"));
  const vi::Image native = vi::decode_image(bytes.data(), bytes.size(), "x");
  ASSERT_EQ(native.channels, 4);
  EXPECT_EQ(native.at(14, 14, 3), 255 - idx_image(35)[14 * 28 + 14]);
}

TEST(ImageFolder, JpegsDecodeLikePil) {
  const auto& facts = vision_test::expected();
  for (const char* name : {"folder/train/ankle_boot/train_00000.jpg", "folder/train/ankle_boot/train_00011.JPEG",
                           "folder/train/ankle_boot/sub/train_00015.jpeg", "folder/train/coat/train_00022.jpg",
                           "folder/val/ankle_boot/t10k_00000.jpg", "photo/chelsea.jpg"}) {
    SCOPED_TRACE(name);
    const auto& f = facts[name];
    const auto bytes = vision_test::read_bytes(fixture(name));
    const vi::Image native = vi::decode_image(bytes.data(), bytes.size(), name);
    EXPECT_EQ(native.height, f["height"].get<int>());
    EXPECT_EQ(native.width, f["width"].get<int>());
    EXPECT_EQ(native.channels, f["mode"] == "L" ? 1 : 3);
    EXPECT_EQ(sum(native), f["sum"].get<int64_t>());
    EXPECT_EQ(std::vector<int>(native.pixels.begin(), native.pixels.begin() + 12), f["first"].get<std::vector<int>>());
    EXPECT_EQ(sum(vi::decode_image_file(fixture(name), 1)), f["sum_L"].get<int64_t>());  // PIL convert("L")
    EXPECT_EQ(sum(vi::decode_image_file(fixture(name), 3)), f["sum_RGB"].get<int64_t>());
  }
}

TEST(ImageFolder, FingerprintFollowsTheFileList) {
  const auto root = copy_of_train("fingerprint");
  const auto before = vi::ImageFolderSource(root.string(), "train", 1).fingerprint();
  EXPECT_EQ(before, vi::ImageFolderSource(fixture("folder"), "train", 1).fingerprint());  // relative paths only
  fs::rename(root / "train/coat/train_00022.jpg", root / "train/coat/train_00023.jpg");
  EXPECT_NE(vi::ImageFolderSource(root.string(), "train", 1).fingerprint(), before);
}

TEST(ImageFolderErrors, MissingSplit) {
  const auto msg = error_of<vi::VisionError>([] { vi::ImageFolderSource(fixture("folder"), "test", 1); });
  EXPECT_NE(msg.find(fixture("folder") + "/test: split folder 'test' is missing"), std::string::npos) << msg;
}

TEST(ImageFolderErrors, NoClassFolders) {
  const auto root = vision_test::temp_dir("no_classes");
  fs::create_directories(root / "train");
  vision_test::write_bytes(root / "train/loose.png", vision_test::read_bytes(fixture("folder/val/Bag/t10k_00018.png")));
  const auto msg = error_of<vi::VisionError>([&] { vi::ImageFolderSource(root.string(), "train", 1); });
  EXPECT_NE(msg.find((root / "train").string() + ": no class folders"), std::string::npos) << msg;
}

TEST(ImageFolderErrors, ClassFolderWithoutImages) {
  const auto root = copy_of_train("empty_class");
  fs::create_directories(root / "train/dress");
  vision_test::write_bytes(root / "train/dress/readme.txt", {'x'});
  const auto msg = error_of<vi::VisionError>([&] { vi::ImageFolderSource(root.string(), "train", 1); });
  EXPECT_NE(msg.find((root / "train/dress").string() + ": class folder without images"), std::string::npos) << msg;
}

TEST(ImageFolderErrors, UndecodableImagesNameTheFile) {
  const auto root = copy_of_train("corrupt");
  const auto jpeg = vision_test::read_bytes(fixture("photo/chelsea.jpg"));
  const auto png = vision_test::read_bytes(fixture("folder/val/Bag/t10k_00018.png"));
  const fs::path dir = root / "train/coat";
  vision_test::write_bytes(dir / "a_garbage.jpg", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  vision_test::write_bytes(dir / "b_truncated.jpg", {jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)});
  vision_test::write_bytes(dir / "c_truncated.png", {png.begin(), png.begin() + static_cast<long>(png.size() / 2)});
  auto bad_crc = png;
  bad_crc[40] ^= 0xFF;  // a corrupted chunk header
  vision_test::write_bytes(dir / "d_bad_crc.png", bad_crc);
  auto header_only = jpeg;
  header_only.resize(2);
  vision_test::write_bytes(dir / "e_header_only.jpg", header_only);
  const vi::ImageFolderSource src(root.string(), "train", 3);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"a_garbage.jpg", "not a JPEG or PNG image: 12 bytes starting with '6e6f7420616e2069'"},
      {"b_truncated.jpg", "cannot decode JPEG: "},
      {"c_truncated.png", "cannot decode PNG: "},
      {"d_bad_crc.png", "cannot decode PNG: "},
      {"e_header_only.jpg", "not a JPEG or PNG image: 2 bytes"}};
  for (const auto& [file, what] : cases) {
    int64_t index = -1;
    for (int64_t i = 0; i < src.size(); ++i)
      if (src.path(i) == (dir / file).string()) index = i;
    ASSERT_GE(index, 0) << file;
    const auto msg = error_of<vi::VisionError>([&] { src.load(index); });
    EXPECT_EQ(msg.rfind((dir / file).string() + ": " + what, 0), 0u) << msg;
  }
}

TEST(ImageChannels, RgbToGrayUsesPilLuma) {
  vi::Image rgb{1, 3, 3, {255, 0, 0, 0, 255, 0, 10, 20, 30}};
  const vi::Image gray = vi::to_channels(rgb, 1);
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{76, 150, 18}));  // (19595 R + 38470 G + 7471 B + 2^15) >> 16
  EXPECT_EQ(vi::to_channels(gray, 3).pixels, (std::vector<uint8_t>{76, 76, 76, 150, 150, 150, 18, 18, 18}));
}

TEST(ImageDecode, JpegWithExtraneousBytesDecodesLikePilButTruncationFails) {
  auto bytes = vision_test::read_bytes(fixture("photo/chelsea.jpg"));
  ASSERT_EQ(bytes[bytes.size() - 2], 0xFF);
  ASSERT_EQ(bytes[bytes.size() - 1], 0xD9);
  const vi::Image original = vi::decode_image(bytes.data(), bytes.size(), "original");
  // Junk before the end-of-image marker: libjpeg warns "3 extraneous bytes before marker 0xd9" and decodes it all.
  bytes.insert(bytes.end() - 2, {0x12, 0x34, 0x56});
  EXPECT_EQ(vi::decode_image(bytes.data(), bytes.size(), "junk").pixels, original.pixels);
  bytes.resize(bytes.size() * 3 / 4);
  EXPECT_NE(error_of<vi::VisionError>([&] { vi::decode_image(bytes.data(), bytes.size(), "cut.jpg"); })
                .find("cut.jpg: cannot decode JPEG: Premature end of JPEG file"),
            std::string::npos);
}
