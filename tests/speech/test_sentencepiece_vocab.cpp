// The SentencePiece CTC vocabulary (data/speech/sentencepiece_vocab.h): id layout (blank 0 reserved, no byte or
// special pieces), encode/decode round trips of transcripts, unknown characters dropped or fatal, vocab.json +
// vocab.model round trip through load_ctc_vocab, the cache entry (reused, rebuilt when damaged), and the config keys.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/speech/char_vocab.h"
#include "data/speech/sentencepiece_vocab.h"
#include "data/speech/speech_config.h"
#include "data/speech/speech_dataset.h"
#include "data/speech/speech_error.h"
#include "parse_speech_config.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
namespace cfg = sigtrain::config;
namespace fs = std::filesystem;
using speech_test::fixture;

namespace {

// Normalised transcripts (lower case, no punctuation but the apostrophe), no digits and no accents.
const std::vector<std::string> kTexts = {
    "please enter your password followed by the pound key",
    "the person at extension is on the phone",
    "thank you for calling please hold",
    "your call is important to us",
    "i'm sorry that's not a valid extension",
    "to leave a message press one",
    "the number you have dialed is not in service",
    "please wait while i try to connect you",
    "you have new messages in your mailbox",
    "there is no answer at the extension you dialed",
    "goodbye and thank you for calling",
    "the weather today will be sunny with a light wind",
    "she sells sea shells by the sea shore",
    "the quick brown fox jumps over the lazy dog",
    "we'll meet again at the station tomorrow morning",
    "they didn't know where the river would lead them",
    "a journey of a thousand miles begins with a single step",
    "the children played in the garden until it was dark",
    "he opened the window and listened to the rain",
    "it was the best of times it was the worst of times",
    "call me when you reach the other side of town",
    "the library closes early on sundays and holidays",
    "she wrote a long letter to her brother in the north",
    "the train to the city leaves every hour on the hour",
    "seven people were waiting for the bus in the cold",
    "please speak after the tone and then hang up",
    "the meeting has been moved to the large conference room",
    "remember to bring your ticket and a warm jacket",
    "the old man told stories about the sea",
    "our office hours are monday through friday",
};

sp::SentencePieceVocab train(const std::string& type = "unigram", int64_t size = 96) {
  sp::SentencePieceVocabOptions o;
  o.model_type = type;
  o.vocab_size = size;
  return sp::SentencePieceVocab::train(kTexts, o);
}

sp::SpeechDataConfig parse(const std::string& yaml) { return speech_test::parse_speech_config(yaml); }

}  // namespace

TEST(SentencePieceVocab, IdLayoutAndRoundTrip) {
  for (const std::string type : {"unigram", "bpe"}) {
    const auto v = train(type, 96);
    EXPECT_EQ(v.kind(), "sentencepiece_ctc");
    // Blank first; no byte-fallback or special piece is a CTC output; the soft limit is not exceeded.
    EXPECT_EQ(v.symbols()[0], "<blank>");
    EXPECT_EQ(v.id("<blank>"), sp::CtcVocab::kBlank);
    EXPECT_LE(v.size(), 96);
    EXPECT_GT(v.size(), 29) << type;  // more than the letters: some subwords
    EXPECT_EQ(v.size() + sp::SentencePieceVocab::kNonCtcPieces - 1, v.tokenizer().vocab_size());
    std::set<std::string> seen;
    for (int64_t i = 1; i < v.size(); ++i) {
      const std::string& s = v.symbols()[static_cast<size_t>(i)];
      EXPECT_TRUE(seen.insert(s).second) << s;
      EXPECT_NE(s.rfind("<0x", 0), 0u) << "byte piece " << s;
      EXPECT_NE(s, "<unk>");
      EXPECT_NE(s, "<|endoftext|>");
      EXPECT_EQ(v.id(s), i);
    }
    EXPECT_EQ(v.id("no such piece"), -1);
    // Every transcript round trips; ids are never the blank; words start with the boundary marker "▁".
    for (const auto& t : kTexts) {
      const auto ids = v.encode(t, sp::UnknownCharPolicy::kError);
      ASSERT_FALSE(ids.empty());
      for (const int32_t id : ids) {
        EXPECT_GT(id, sp::CtcVocab::kBlank);
        EXPECT_LT(id, v.size());
      }
      EXPECT_LT(ids.size(), t.size()) << type << ": subwords are fewer than characters: " << t;
      EXPECT_EQ(v.symbols()[static_cast<size_t>(ids.front())].rfind("\xE2\x96\x81", 0), 0u);
      EXPECT_EQ(v.decode(ids), t) << type;
    }
    // New sentences of known characters round trip too; the blank and out-of-range ids are skipped by decode.
    const std::string unseen = "the extension you dialed is sunny";
    auto ids = v.encode(unseen, sp::UnknownCharPolicy::kError);
    EXPECT_EQ(v.decode(ids), unseen);
    ids.insert(ids.begin(), sp::CtcVocab::kBlank);
    ids.push_back(static_cast<int32_t>(v.size()) + 7);
    EXPECT_EQ(v.decode(ids), unseen);
    EXPECT_TRUE(v.encode("", sp::UnknownCharPolicy::kError).empty());
    EXPECT_EQ(v.decode({}), "");
  }
  // The same transcripts and options give the same model.
  EXPECT_EQ(train().identity(), train().identity());
  EXPECT_NE(train("unigram", 96).identity(), train("unigram", 64).identity());
}

TEST(SentencePieceVocab, UnknownCharactersDroppedOrFatal) {
  const auto v = train();
  sp::UnknownCharReport report;
  // Digits and 'é' never occur in the training transcripts: byte fallback inside SentencePiece, unknown here.
  const auto ids = v.encode("route 66 to the café", sp::UnknownCharPolicy::kDrop, &report);
  EXPECT_EQ(v.decode(ids), "route  to the caf");
  v.encode("the dog", sp::UnknownCharPolicy::kDrop, &report);
  EXPECT_EQ(report.count, 3);
  EXPECT_EQ(report.texts, 1);
  EXPECT_EQ(report.examples.at("6"), 2);
  EXPECT_EQ(report.examples.at("é"), 1);
  EXPECT_EQ(speech_test::error_of(
                [&] { v.encode("room 7", sp::UnknownCharPolicy::kError, nullptr, "utterance 'u3' (m.jsonl:3)"); }),
            "utterance 'u3' (m.jsonl:3): character '7' is not in the vocabulary (set vocabulary.unknown: drop to drop "
            "such characters)");
}

TEST(SentencePieceVocab, SavedAndLoadedWithTheRun) {
  const auto dir = speech_test::temp_dir("sp_vocab_save");
  const auto v = train("bpe", 80);
  const std::string path = (dir / "vocab.json").string();
  v.save(path);
  ASSERT_TRUE(fs::exists(dir / "vocab.model"));
  const auto loaded = sp::load_ctc_vocab(path);
  EXPECT_EQ(loaded->kind(), "sentencepiece_ctc");
  EXPECT_EQ(loaded->symbols(), v.symbols());
  EXPECT_EQ(loaded->identity(), v.identity());
  for (const auto& t : kTexts)
    EXPECT_EQ(loaded->encode(t, sp::UnknownCharPolicy::kError), v.encode(t, sp::UnknownCharPolicy::kError));

  // A character vocabulary through the same loader.
  sp::CharVocab::english(sp::LetterCase::kLower).save((dir / "chars.json").string());
  const auto chars = sp::load_ctc_vocab((dir / "chars.json").string());
  EXPECT_EQ(chars->kind(), "char_ctc");
  EXPECT_EQ(chars->size(), 29);

  // Another model beside the JSON (its identity differs): refused, naming the file.
  train("unigram", 64).tokenizer().save(dir / "other");
  fs::copy_file(dir / "other" / "tokenizer.model", dir / "vocab.model", fs::copy_options::overwrite_existing);
  const std::string msg = speech_test::error_of([&] { sp::load_ctc_vocab(path); });
  EXPECT_EQ(msg.rfind(path + ": SentencePiece CTC vocabulary: the model ", 0), 0u) << msg;
  fs::remove(dir / "vocab.model");
  EXPECT_EQ(speech_test::error_of([&] { sp::load_ctc_vocab(path); }).rfind(path + ": ", 0), 0u);
  speech_test::write_text(dir / "odd.json", "{\"kind\": \"phonemes\"}");
  EXPECT_EQ(speech_test::error_of([&] { sp::load_ctc_vocab((dir / "odd.json").string()); }),
            (dir / "odd.json").string() +
                ": unknown vocabulary kind 'phonemes' (expected char_ctc or sentencepiece_ctc)");
}

TEST(SentencePieceVocab, CachedLikeTheLmTokenizer) {
  const auto cache = speech_test::temp_dir("sp_vocab_cache");
  sp::SentencePieceVocabOptions o;
  o.vocab_size = 72;
  bool reused = true;
  const auto a = sp::SentencePieceVocab::prepare(kTexts, o, cache.string(), &reused);
  EXPECT_FALSE(reused);
  const auto b = sp::SentencePieceVocab::prepare(kTexts, o, cache.string(), &reused);
  EXPECT_TRUE(reused);
  EXPECT_EQ(a.identity(), b.identity());
  EXPECT_EQ(a.identity(), sp::SentencePieceVocab::train(kTexts, o).identity());
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(cache / "speech" / "vocab")) entries.push_back(e.path());
  ASSERT_EQ(entries.size(), 1u);  // no temporary folder left behind
  EXPECT_EQ(entries[0].filename().string().rfind("sp-unigram72-", 0), 0u) << entries[0];
  EXPECT_TRUE(fs::exists(entries[0] / "manifest.json"));
  EXPECT_TRUE(fs::exists(entries[0] / "tokenizer" / "tokenizer.model"));

  // Other transcripts: another entry. A damaged entry is rebuilt, not trusted.
  std::vector<std::string> fewer(kTexts.begin(), kTexts.begin() + 20);
  sp::SentencePieceVocab::prepare(fewer, o, cache.string(), &reused);
  EXPECT_FALSE(reused);
  std::ofstream(entries[0] / "tokenizer" / "tokenizer.model") << "garbage";
  const auto c = sp::SentencePieceVocab::prepare(kTexts, o, cache.string(), &reused);
  EXPECT_FALSE(reused);
  EXPECT_EQ(c.identity(), a.identity());
}

TEST(SentencePieceVocab, DatasetTargetsAreSubwords) {
  // The five fixture transcripts through make_vocab, as a training run builds them.
  const auto cache = speech_test::temp_dir("sp_vocab_dataset");
  auto c = parse("speech:\n  format: manifest\n  path: " + fixture("manifest.jsonl") +
                 "\n  vocabulary: {kind: sentencepiece, vocab_size: 40, model_type: bpe, cache_dir: " +
                 cache.string() + "}\n");
  EXPECT_EQ(c.vocab_kind, "sentencepiece");
  EXPECT_EQ(c.sentencepiece.vocab_size, 40);
  EXPECT_EQ(c.sentencepiece.model_type, "bpe");
  EXPECT_EQ(c.vocab_cache_dir, cache.string());
  const auto train_set = sp::read_speech_corpus(c, false);
  const auto vocab = sp::make_vocab(c, train_set);
  EXPECT_EQ(vocab->kind(), "sentencepiece_ctc");
  EXPECT_LE(vocab->size(), 40);
  const sp::SpeechDataset ds(train_set, vocab, c.pipeline);
  EXPECT_EQ(&ds.vocab(), vocab.get());  // shared, not copied
  EXPECT_EQ(ds.unknown_chars().count, 0);
  for (int64_t i = 0; i < ds.size(); ++i) {
    const std::string text = sp::normalize_text(ds.corpus()[static_cast<size_t>(i)].text, c.pipeline.text);
    EXPECT_EQ(ds.vocab().decode(ds.targets(i)), text);
    EXPECT_LE(ds.targets(i).size(), text.size());
  }
}

TEST(SentencePieceVocab, ConfigKeysAndErrors) {
  const std::string base = "speech:\n  path: " + fixture("librispeech") + "\n";
  const auto d = parse(base + "  vocabulary: {kind: sentencepiece}\n");
  EXPECT_EQ(d.sentencepiece.vocab_size, 256);
  EXPECT_EQ(d.sentencepiece.model_type, "unigram");
  EXPECT_EQ(d.vocab_cache_dir, ".cache/sigtrain");
  EXPECT_EQ(d.section, "speech");
  auto msg = [&](const std::string& vocab) {
    return speech_test::error_of<cfg::ConfigError>([&] { parse(base + "  vocabulary: " + vocab + "\n"); });
  };
  auto has = [](const std::string& what, const std::string& part) {
    return what.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                : ::testing::AssertionFailure() << what;
  };
  EXPECT_TRUE(has(msg("{kind: fixed, vocab_size: 100}"),
                  "speech.vocabulary.vocab_size: only used with vocabulary.kind: sentencepiece"));
  EXPECT_TRUE(has(msg("{kind: build, model_type: bpe}"), "speech.vocabulary.model_type: only used with"));
  EXPECT_TRUE(
      has(msg("{kind: sentencepiece, model_type: wordpiece}"), "speech.vocabulary.model_type: expected one of"));
  EXPECT_TRUE(has(msg("{kind: sentencepiece, vocab_size: 1}"), "speech.vocabulary.vocab_size"));
  EXPECT_TRUE(has(msg("{kind: sentencepiece, cache_dir: ''}"), "speech.vocabulary.cache_dir: expected a directory"));
  EXPECT_TRUE(has(msg("{kind: subword}"), "speech.vocabulary.kind: expected one of"));

  // Too few ids for the transcripts' alphabet: SentencePiece refuses; the error names the section and the values.
  const auto cache = speech_test::temp_dir("sp_vocab_small");
  auto c = parse("speech:\n  format: manifest\n  path: " + fixture("manifest.jsonl") +
                 "\n  vocabulary: {kind: sentencepiece, vocab_size: 5, cache_dir: " + cache.string() + "}\n");
  const std::string what =
      speech_test::error_of<cfg::ConfigError>([&] { sp::make_vocab(c, sp::read_speech_corpus(c, false)); });
  EXPECT_TRUE(has(what, "speech.vocabulary: cannot build a SentencePiece unigram vocabulary of vocab_size 5 (CTC ids, "
                        "blank included) from 5 training transcripts of "));
  EXPECT_TRUE(has(what, "Vocabulary size is smaller than required_chars"));  // SentencePiece's reason
}
