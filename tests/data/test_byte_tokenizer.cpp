#include <gtest/gtest.h>

#include "data/byte_tokenizer.h"
#include "temp_dir.h"

namespace sigtrain::data {
namespace {

TEST(ByteTokenizer, RoundTripsTheFixtureExactly) {
  const std::string text = testing::hamlet_text();
  ASSERT_GT(text.size(), 30000u);
  ByteTokenizer tok;
  const std::vector<int32_t> ids = tok.encode(text);
  ASSERT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(ByteTokenizer, IdsAreUtf8BytesIncludingNonAscii) {
  ByteTokenizer tok;
  const std::string text = "naïve café 日本\n";
  const std::vector<int32_t> ids = tok.encode(text);
  ASSERT_EQ(ids.size(), text.size());
  // 'ï' is C3 AF in UTF-8; '日' is E6 97 A5.
  EXPECT_EQ(ids[2], 0xC3);
  EXPECT_EQ(ids[3], 0xAF);
  for (int32_t id : ids) EXPECT_LT(id, 256);
  EXPECT_EQ(tok.decode(ids), text);
  // Invalid UTF-8 round-trips too: ids are bytes, not code points.
  const std::string junk("\xff\xfe\x80", 3);
  EXPECT_EQ(tok.decode(tok.encode(junk)), junk);
}

TEST(ByteTokenizer, SpecialsAndVocab) {
  ByteTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_EQ(tok.eot_id(), 256);
  // Text that spells the special token stays bytes; only the id decodes to it.
  EXPECT_EQ(tok.encode("<|endoftext|>").size(), 13u);
  const std::vector<int32_t> ids = {'a', 256, 'b'};
  EXPECT_EQ(tok.decode(ids), "a<|endoftext|>b");
  const std::vector<int32_t> bad = {257};
  EXPECT_THROW(tok.decode(bad), std::runtime_error);
}

TEST(ByteTokenizer, SaveAndLoad) {
  testing::TempDir dir;
  ByteTokenizer().save(dir.path());
  const auto loaded = load_tokenizer(dir.path());
  EXPECT_EQ(loaded->name(), "byte");
  EXPECT_EQ(loaded->identity(), ByteTokenizer().identity());
  EXPECT_EQ(loaded->encode("Hi"), (std::vector<int32_t>{'H', 'i'}));
}

}  // namespace
}  // namespace sigtrain::data
