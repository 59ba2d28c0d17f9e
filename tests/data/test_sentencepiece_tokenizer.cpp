#include <gtest/gtest.h>

#include <string_view>

#include "data/sentencepiece_tokenizer.h"
#include "temp_dir.h"

namespace sigtrain::data {
namespace {

std::vector<std::string_view> lines_of(const std::string& text) {
  std::vector<std::string_view> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text.data() + begin, end - begin);
    begin = end + 1;
  }
  return lines;
}

std::unique_ptr<SentencePieceTokenizer> train_on_hamlet(const std::string& text, const std::string& type,
                                                        int vocab) {
  SentencePieceOptions opt;
  opt.model_type = type;
  opt.vocab_size = vocab;
  return SentencePieceTokenizer::train(lines_of(text), opt);
}

TEST(SentencePieceTokenizer, BpeTrainsAndRoundTripsTheFixture) {
  const std::string text = testing::hamlet_text();
  const auto tok = train_on_hamlet(text, "bpe", 800);
  EXPECT_EQ(tok->vocab_size(), 800);
  EXPECT_EQ(tok->eot_id(), 1);
  EXPECT_EQ(tok->name(), "sentencepiece-bpe-800");
  const std::vector<int32_t> ids = tok->encode(text);
  // A learned vocabulary compresses: far fewer ids than bytes.
  EXPECT_LT(ids.size(), text.size() / 2);
  for (int32_t id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, tok->vocab_size());
    EXPECT_NE(id, 0) << "<unk> should never appear with byte fallback";
  }
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(SentencePieceTokenizer, RoundTripsUnseenCharactersAndWhitespace) {
  const auto tok = train_on_hamlet(testing::hamlet_text(), "bpe", 600);
  for (const std::string s : {"naïve café 日本", "  two leading spaces\n\n\ttab\r\nend  ", "\n", "", "x\n"}) {
    EXPECT_EQ(tok->decode(tok->encode(s)), s) << "input: " << s;
  }
  const std::vector<int32_t> with_eot = {tok->encode("a")[0], tok->eot_id(), tok->encode("b")[0]};
  EXPECT_EQ(tok->decode(with_eot), "a<|endoftext|>b");
}

TEST(SentencePieceTokenizer, UnigramTrainsAndRoundTrips) {
  const std::string text = testing::hamlet_text();
  const auto tok = train_on_hamlet(text, "unigram", 800);
  EXPECT_LE(tok->vocab_size(), 800);
  EXPECT_GT(tok->vocab_size(), 300);
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(SentencePieceTokenizer, TrainingIsDeterministic) {
  const std::string text = testing::hamlet_text();
  for (const std::string type : {"bpe", "unigram"}) {
    const auto a = train_on_hamlet(text, type, 700);
    const auto b = train_on_hamlet(text, type, 700);
    EXPECT_EQ(a->model_bytes(), b->model_bytes()) << type;
    EXPECT_EQ(a->identity(), b->identity()) << type;
  }
}

TEST(SentencePieceTokenizer, SaveLoadGivesTheSameIds) {
  const std::string text = testing::hamlet_text();
  const auto tok = train_on_hamlet(text, "bpe", 800);
  testing::TempDir dir;
  tok->save(dir.path());
  EXPECT_TRUE(std::filesystem::exists(dir / "tokenizer.model"));
  const auto loaded = load_tokenizer(dir.path());
  EXPECT_EQ(loaded->identity(), tok->identity());
  EXPECT_EQ(loaded->encode(text), tok->encode(text));
}

TEST(SentencePieceTokenizer, ErrorsAreClear) {
  SentencePieceOptions opt;
  opt.model_type = "wordpiece";
  const std::vector<std::string_view> lines = {"hello world"};
  EXPECT_THROW(SentencePieceTokenizer::train(lines, opt), std::runtime_error);
  testing::TempDir dir;
  sigtrain::write_file_atomic((dir / "bad.model").string(), "not a model");
  try {
    SentencePieceTokenizer::load(dir / "bad.model", "bpe");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sigtrain::data
