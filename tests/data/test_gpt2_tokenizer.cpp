#include <gtest/gtest.h>

#include <cstdlib>

#include "data/gpt2_tokenizer.h"
#include "temp_dir.h"

namespace sigtrain::data {
namespace {

// scripts/fetch_data.sh gpt2 puts OpenAI's files here (SIGTRAIN_GPT2_DIR overrides).
std::filesystem::path gpt2_dir() {
  if (const char* env = std::getenv("SIGTRAIN_GPT2_DIR")) return env;
  return std::filesystem::path(SIGTRAIN_SOURCE_DIR) / ".cache/sigtrain/tokenizers/gpt2";
}

class Gpt2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::filesystem::exists(gpt2_dir() / "encoder.json")) tok_ = Gpt2Tokenizer::load(gpt2_dir()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "GPT-2 files not found in " << gpt2_dir() << "; run scripts/fetch_data.sh gpt2";
  }
  static Gpt2Tokenizer* tok_;
};
Gpt2Tokenizer* Gpt2Test::tok_ = nullptr;

// Reference ids from OpenAI's encoder (gpt-3-encoder and js-tiktoken gpt2 agree; ../shared/docs/datasets.md §1.2).
TEST_F(Gpt2Test, ReproducesReferenceIds) {
  const std::vector<std::pair<std::string, std::vector<int32_t>>> cases = {
      {"Hello world", {15496, 995}},
      {"Call me Ishmael.", {14134, 502, 1148, 21720, 417, 13}},
      {" the quick brown fox", {262, 2068, 7586, 21831}},
      {"I'm here\n\n  ok", {40, 1101, 994, 628, 220, 12876}},
      {"naïve café 日本", {2616, 38776, 40304, 10545, 245, 98, 17312, 105}},
  };
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ(tok_->encode(text), ids) << "text: " << text;
    EXPECT_EQ(tok_->decode(ids), text);
  }
}

TEST_F(Gpt2Test, RoundTripsTheFixtureAndOddInput) {
  const std::string text = testing::hamlet_text();
  const std::vector<int32_t> ids = tok_->encode(text);
  EXPECT_LT(ids.size(), text.size() / 3);
  EXPECT_EQ(tok_->decode(ids), text);
  const std::string odd = std::string("tabs\tand  spaces   \n\r\n 123 4567 ¼ x²") + std::string("\xff\xfe", 2);
  EXPECT_EQ(tok_->decode(tok_->encode(odd)), odd);
}

TEST_F(Gpt2Test, EndOfTextIsOnlyAnId) {
  EXPECT_EQ(tok_->vocab_size(), 50257);
  EXPECT_EQ(tok_->eot_id(), 50256);
  const std::vector<int32_t> literal = tok_->encode("<|endoftext|>");
  EXPECT_GT(literal.size(), 1u);
  for (int32_t id : literal) EXPECT_NE(id, 50256);
  const std::vector<int32_t> eot = {50256};
  EXPECT_EQ(tok_->decode(eot), "<|endoftext|>");
}

TEST_F(Gpt2Test, PretokenizerMatchesTheRegex) {
  const std::vector<std::string_view> got = Gpt2Tokenizer::pretokenize("I'm here\n\n  ok, it's 42!!  ");
  const std::vector<std::string_view> want = {"I", "'m", " here", "\n\n ", " ok", ",", " it", "'s", " 42", "!!", "  "};
  EXPECT_EQ(got, want);
}

TEST_F(Gpt2Test, SaveAndLoad) {
  testing::TempDir dir;
  tok_->save(dir.path());
  const auto loaded = load_tokenizer(dir.path());
  EXPECT_EQ(loaded->identity(), tok_->identity());
  EXPECT_EQ(loaded->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
}

}  // namespace
}  // namespace sigtrain::data
