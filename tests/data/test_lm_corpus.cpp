#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "common/config.h"
#include "data/byte_tokenizer.h"
#include "data/lm_corpus.h"
#include "data/lm_sampler.h"
#include "temp_dir.h"

namespace sigtrain::data {
namespace {

using ::testing::HasSubstr;

DataConfig parse_yaml(const std::string& yaml) {
  auto tree = config::ConfigTree::from_string(yaml, "test.yaml");
  config::SectionReader reader(tree, "data");
  DataConfig c = DataConfig::parse(reader);
  tree.check_all_consumed();
  return c;
}

std::string parse_error(const std::string& yaml) {
  try {
    parse_yaml(yaml);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(DataConfig, DefaultsAndValues) {
  const DataConfig d = parse_yaml("data: {}\n");
  EXPECT_EQ(d.corpus, std::vector<std::string>{"kjv"});
  EXPECT_EQ(d.cache_dir, ".cache/sigtrain");
  EXPECT_EQ(d.tokenizer.kind, "byte");
  EXPECT_EQ(d.seq_len, 256);
  const DataConfig c = parse_yaml(
      "data:\n"
      "  corpus: [a.txt, 'b/*.txt']\n"
      "  seq_len: 64\n"
      "  val_fraction: 0.1\n"
      "  tokenizer:\n"
      "    kind: sentencepiece\n"
      "    vocab_size: 1000\n"
      "    model_type: unigram\n");
  EXPECT_EQ(c.corpus, (std::vector<std::string>{"a.txt", "b/*.txt"}));
  EXPECT_EQ(c.seq_len, 64);
  EXPECT_DOUBLE_EQ(c.val_fraction, 0.1);
  EXPECT_EQ(c.tokenizer.kind, "sentencepiece");
  EXPECT_EQ(c.tokenizer.vocab_size, 1000);
  EXPECT_EQ(c.tokenizer.model_type, "unigram");
}

TEST(DataConfig, BadValuesNameKeyAndLine) {
  std::string msg = parse_error("data:\n  seq_len: 0\n");
  EXPECT_THAT(msg, HasSubstr("test.yaml:2"));
  EXPECT_THAT(msg, HasSubstr("data.seq_len"));
  msg = parse_error("data:\n  corpus: [kjv]\n  tokenizer:\n    kind: gpt3\n");
  EXPECT_THAT(msg, HasSubstr("test.yaml:4"));
  EXPECT_THAT(msg, HasSubstr("data.tokenizer.kind"));
  EXPECT_THAT(msg, HasSubstr("sentencepiece"));
  msg = parse_error("data:\n  val_fraction: 0.9\n");
  EXPECT_THAT(msg, HasSubstr("data.val_fraction"));
  msg = parse_error("data:\n  tokenizer:\n    kind: byte\n    vocab_size: 500\n");
  EXPECT_THAT(msg, HasSubstr("test.yaml:4"));
  EXPECT_THAT(msg, HasSubstr("data.tokenizer.vocab_size"));
  msg = parse_error("data:\n  corpus: []\n");
  EXPECT_THAT(msg, HasSubstr("data.corpus"));
  msg = parse_error("data:\n  seq_lenn: 12\n");
  EXPECT_THAT(msg, HasSubstr("seq_lenn"));
}

DataConfig hamlet_config(const testing::TempDir& cache) {
  DataConfig c;
  c.corpus = {testing::hamlet_path().string()};
  c.cache_dir = cache.path().string();
  c.val_fraction = 0.1;
  c.seq_len = 64;
  return c;
}

TEST(PrepareLmData, ByteCorpusIsSplitAndCached) {
  testing::TempDir cache;
  const DataConfig c = hamlet_config(cache);
  const std::string text = testing::hamlet_text();
  const LmData first = prepare_lm_data(c);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(first.tokenizer->name(), "byte");
  // Every byte lands in train or val, plus one end-of-text after each part.
  EXPECT_EQ(first.train.size() + first.val.size(), static_cast<int64_t>(text.size()) + 2);
  EXPECT_NEAR(static_cast<double>(first.val.size()) / static_cast<double>(text.size()), 0.1, 0.01);
  EXPECT_EQ(first.train[first.train.size() - 1], ByteTokenizer::kEndOfText);
  // The validation part starts at a line start.
  EXPECT_EQ(text[text.size() - static_cast<size_t>(first.val.size() - 1) - 1], '\n');
  std::vector<int32_t> head(40);
  first.train.copy(0, 40, head.data());
  EXPECT_EQ(first.tokenizer->decode(head), text.substr(0, 40));

  const LmData second = prepare_lm_data(c);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.dir, first.dir);
  EXPECT_EQ(second.train.checksum(), first.train.checksum());

  // A different split is a different entry.
  DataConfig c2 = c;
  c2.val_fraction = 0.2;
  const LmData third = prepare_lm_data(c2);
  EXPECT_FALSE(third.from_cache);
  EXPECT_NE(third.dir, first.dir);

  // Samplers work on the result and keep the shards alive after the LmData is gone.
  std::optional<LmSampler> sampler;
  std::optional<LmValidationSet> val;
  {
    const LmData scoped = prepare_lm_data(c);
    sampler.emplace(scoped.train, c.seq_len, 1);
    val.emplace(scoped.val, c.seq_len, 0);
  }
  EXPECT_GT(val->num_windows(), 10);
  std::vector<int32_t> in(64), tg(64);
  sampler->fill(0, 1, in.data(), tg.data());
  val->fill(0, 1, in.data(), tg.data());
  EXPECT_EQ(first.tokenizer->decode(in), text.substr(text.size() - static_cast<size_t>(first.val.size() - 1), 64));
}

TEST(PrepareLmData, DamagedEntryIsRebuilt) {
  testing::TempDir cache;
  const DataConfig c = hamlet_config(cache);
  const LmData first = prepare_lm_data(c);
  std::filesystem::resize_file(first.dir / "val.tok", 100);
  const LmData again = prepare_lm_data(c);
  EXPECT_FALSE(again.from_cache);
  EXPECT_EQ(again.val.size(), first.val.size());
}

TEST(PrepareLmData, SentencePieceCorpusRoundTripsAndIsCached) {
  testing::TempDir cache;
  DataConfig c = hamlet_config(cache);
  c.tokenizer.kind = "sentencepiece";
  c.tokenizer.vocab_size = 700;
  const LmData first = prepare_lm_data(c);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(first.tokenizer->vocab_size(), 700);
  EXPECT_TRUE(std::filesystem::exists(first.dir / "tokenizer" / "tokenizer.model"));
  std::vector<int32_t> val(static_cast<size_t>(first.val.size()));
  first.val.copy(0, first.val.size(), val.data());
  const std::string text = testing::hamlet_text();
  const std::string decoded = first.tokenizer->decode(val);
  EXPECT_EQ(decoded, text.substr(text.size() - (decoded.size() - 13)) + "<|endoftext|>");
  const LmData second = prepare_lm_data(c);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.tokenizer->identity(), first.tokenizer->identity());
}

TEST(PrepareLmData, Gpt2UsesTheFetchedFiles) {
  testing::TempDir cache;
  DataConfig c = hamlet_config(cache);
  c.tokenizer.kind = "gpt2";
  try {
    prepare_lm_data(c);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("fetch_data.sh gpt2"));
  }
  const std::filesystem::path fetched = std::filesystem::path(SIGTRAIN_SOURCE_DIR) / ".cache/sigtrain/tokenizers/gpt2";
  if (!std::filesystem::exists(fetched / "encoder.json")) GTEST_SKIP() << "run scripts/fetch_data.sh gpt2";
  std::filesystem::create_directories(cache / "tokenizers/gpt2");
  for (const char* f : {"encoder.json", "vocab.bpe"})
    std::filesystem::copy_file(fetched / f, cache / "tokenizers/gpt2" / f);
  const LmData d = prepare_lm_data(c);
  EXPECT_EQ(d.tokenizer->name(), "gpt2");
  EXPECT_EQ(d.train.dtype(), TokenDtype::kUint16);
  EXPECT_EQ(d.train[d.train.size() - 1], 50256);
  std::vector<int32_t> head(20);
  d.train.copy(0, 20, head.data());
  const std::string decoded = d.tokenizer->decode(head);
  EXPECT_EQ(decoded, testing::hamlet_text().substr(0, decoded.size()));
  EXPECT_GT(decoded.size(), 40u);
  EXPECT_TRUE(prepare_lm_data(c).from_cache);
}

TEST(PrepareLmData, CorpusErrorsNameTheEntry) {
  testing::TempDir cache;
  DataConfig c;
  c.cache_dir = cache.path().string();
  c.corpus = {"kjv"};
  try {
    prepare_lm_data(c);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("kjv"));
    EXPECT_THAT(e.what(), HasSubstr("fetch_data.sh"));
  }
  c.corpus = {(cache.path() / "missing.txt").string()};
  EXPECT_THROW(prepare_lm_data(c), std::runtime_error);
  c.corpus = {(cache.path() / "*.nothing").string()};
  try {
    prepare_lm_data(c);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("matches no file"));
  }
}

// A built-in name for a folder (gutenberg: scripts/lm/build_gutenberg_corpus.sh) stands for its *.txt files in
// name order; missing, it names the script that builds it.
TEST(PrepareLmData, BuiltinFolderIsItsTextFilesInOrder) {
  testing::TempDir cache;
  DataConfig c;
  c.cache_dir = cache.path().string();
  c.corpus = {"gutenberg"};
  try {
    resolve_corpus(c);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'gutenberg' is not in the cache"));
    EXPECT_THAT(e.what(), HasSubstr("scripts/lm/build_gutenberg_corpus.sh"));
  }
  const auto dir = cache.path() / "corpora" / "gutenberg";
  std::filesystem::create_directories(dir);
  for (const char* name : {"02-b.txt", "01-a.txt", "MANIFEST.tsv"}) std::ofstream(dir / name) << "text\n";
  const auto files = resolve_corpus(c);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], dir / "01-a.txt");
  EXPECT_EQ(files[1], dir / "02-b.txt");
}

}  // namespace
}  // namespace sigtrain::data
