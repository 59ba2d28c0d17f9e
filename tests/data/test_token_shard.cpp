#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>

#include "data/token_shard.h"
#include "temp_dir.h"
#include "tests/error_of.h"

namespace sigtrain::data {
namespace {

using ::testing::HasSubstr;

using sigtrain::testing::error_of;

std::vector<int32_t> ramp(int n, int32_t vocab) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<int32_t>((i * 7919LL) % vocab);
  return v;
}

void expect_round_trip(int32_t vocab, TokenDtype dtype) {
  testing::TempDir dir;
  const std::vector<int32_t> tokens = ramp(1000, vocab);
  write_token_shard(dir / "s.tok", tokens, vocab);
  const TokenShard shard = TokenShard::open(dir / "s.tok");
  EXPECT_EQ(shard.dtype(), dtype);
  EXPECT_EQ(shard.size(), 1000);
  EXPECT_EQ(shard.vocab_size(), vocab);
  EXPECT_EQ(std::filesystem::file_size(dir / "s.tok"), 64u + 1000u * static_cast<uint32_t>(dtype));
  std::vector<int32_t> back(1000);
  shard.copy(0, 1000, back.data());
  EXPECT_EQ(back, tokens);
  EXPECT_EQ(shard[999], tokens[999]);
  std::vector<int32_t> part(10);
  shard.copy(500, 10, part.data());
  EXPECT_EQ(part, std::vector<int32_t>(tokens.begin() + 500, tokens.begin() + 510));
  EXPECT_THROW(shard.copy(995, 10, part.data()), std::out_of_range);
}

TEST(TokenShard, RoundTripUint16) { expect_round_trip(50257, TokenDtype::kUint16); }
TEST(TokenShard, RoundTripUint32) { expect_round_trip(100277, TokenDtype::kUint32); }
TEST(TokenShard, DtypeBoundary) {
  EXPECT_EQ(dtype_for_vocab(65536), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab(65537), TokenDtype::kUint32);
}

TEST(TokenShard, WriterRejectsIdsOutsideVocab) {
  testing::TempDir dir;
  const std::vector<int32_t> tokens = {1, 2, 300};
  const std::string msg = error_of([&] { write_token_shard(dir / "s.tok", tokens, 257); });
  EXPECT_THAT(msg, HasSubstr("s.tok"));
  EXPECT_THAT(msg, HasSubstr("300"));
  EXPECT_FALSE(std::filesystem::exists(dir / "s.tok"));
}

TEST(TokenShard, BadMagicNamesTheFile) {
  testing::TempDir dir;
  write_token_shard(dir / "s.tok", ramp(100, 257), 257);
  {
    std::fstream f(dir / "s.tok", std::ios::in | std::ios::out | std::ios::binary);
    f.write("NOTATOKN", 8);
  }
  const std::string msg = error_of([&] { TokenShard::open(dir / "s.tok"); });
  EXPECT_THAT(msg, HasSubstr((dir / "s.tok").string()));
  EXPECT_THAT(msg, HasSubstr("bad magic"));
}

TEST(TokenShard, TruncatedFileNamesTheFile) {
  testing::TempDir dir;
  write_token_shard(dir / "s.tok", ramp(100, 257), 257);
  std::filesystem::resize_file(dir / "s.tok", 64 + 150);
  std::string msg = error_of([&] { TokenShard::open(dir / "s.tok"); });
  EXPECT_THAT(msg, HasSubstr((dir / "s.tok").string()));
  EXPECT_THAT(msg, HasSubstr("truncated"));
  std::filesystem::resize_file(dir / "s.tok", 10);
  msg = error_of([&] { TokenShard::open(dir / "s.tok"); });
  EXPECT_THAT(msg, HasSubstr("truncated"));
  EXPECT_THAT(msg, HasSubstr("s.tok"));
}

TEST(TokenShard, VersionAndChecksumErrors) {
  testing::TempDir dir;
  write_token_shard(dir / "s.tok", ramp(100, 257), 257);
  {
    std::fstream f(dir / "s.tok", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64 + 20);
    f.put('\x7f');  // flip a payload byte
  }
  EXPECT_THAT(error_of([&] { TokenShard::open(dir / "s.tok"); }), HasSubstr("checksum"));
  EXPECT_NO_THROW(TokenShard::open(dir / "s.tok", /*verify_checksum=*/false));
  {
    std::fstream f(dir / "s.tok", std::ios::in | std::ios::out | std::ios::binary);
    const uint32_t version = 9;
    f.seekp(8);
    f.write(reinterpret_cast<const char*>(&version), 4);
  }
  EXPECT_THAT(error_of([&] { TokenShard::open(dir / "s.tok"); }), HasSubstr("version 9"));
}

TEST(TokenShard, MissingFileNamesTheFile) {
  testing::TempDir dir;
  EXPECT_THAT(error_of([&] { TokenShard::open(dir / "nope.tok"); }), HasSubstr("nope.tok"));
}

TEST(TokenShard, ReadsNanoGptRawUint16) {
  testing::TempDir dir;
  // Written by hand exactly as numpy's uint16 tofile() would: little-endian, no header.
  const std::vector<uint16_t> raw = {15496, 995, 50256, 0, 65535};
  {
    std::ofstream f(dir / "train.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size() * 2));
  }
  const TokenShard shard = TokenShard::open_raw_uint16(dir / "train.bin");
  ASSERT_EQ(shard.size(), 5);
  EXPECT_EQ(shard[0], 15496);
  EXPECT_EQ(shard[4], 65535);
  EXPECT_THAT(error_of([&] { TokenShard::open_raw_uint16(dir / "train.bin", 50257); }), HasSubstr("65535"));
  // Our writer for the same format.
  const std::vector<int32_t> ids = {15496, 995, 50256};
  write_raw_uint16_tokens(dir / "w.bin", ids);
  EXPECT_EQ(std::filesystem::file_size(dir / "w.bin"), 6u);
  const TokenShard w = TokenShard::open_raw_uint16(dir / "w.bin", 50257);
  std::vector<int32_t> back(3);
  w.copy(0, 3, back.data());
  EXPECT_EQ(back, ids);
  std::filesystem::resize_file(dir / "w.bin", 5);
  EXPECT_THAT(error_of([&] { TokenShard::open_raw_uint16(dir / "w.bin"); }), HasSubstr("w.bin"));
}

}  // namespace
}  // namespace sigtrain::data
