// Text normaliser, character vocabulary (round trip, unknown characters), UTF-8 splitting, edit distance / WER /
// CER on hand-worked examples, and greedy CTC collapse.
#include <gtest/gtest.h>

#include <cmath>

#include "data/speech/asr_metrics.h"
#include "data/speech/char_vocab.h"
#include "data/speech/ctc_greedy.h"
#include "data/speech/speech_error.h"
#include "data/speech/text_normalizer.h"
#include "data/speech/utf8.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;

TEST(SpeechText, Normalizer) {
  const sp::TextNormalizerOptions lower;
  EXPECT_EQ(sp::normalize_text("  Hello, World!  It's\tWELL-known.  ", lower), "hello world it's well known");
  sp::TextNormalizerOptions upper;
  upper.letter_case = sp::LetterCase::kUpper;
  EXPECT_EQ(sp::normalize_text("Please enter your password, followed by the pound key.", upper),
            "PLEASE ENTER YOUR PASSWORD FOLLOWED BY THE POUND KEY");
  sp::TextNormalizerOptions keep{sp::LetterCase::kKeep, false, true};
  EXPECT_EQ(sp::normalize_text("Dr.  Who?", keep), "Dr. Who?");
  EXPECT_EQ(sp::normalize_text("café déjà", lower), "café déjà");  // non-ASCII kept as written
  EXPECT_THROW(sp::parse_letter_case("title"), std::invalid_argument);
}

TEST(SpeechText, Utf8Characters) {
  EXPECT_EQ(sp::utf8_chars("aé€😀"), (std::vector<std::string>{"a", "é", "€", "😀"}));
  EXPECT_EQ(sp::utf8_chars("a\xC3"), (std::vector<std::string>{"a", "\xC3"}));      // truncated sequence
  EXPECT_EQ(sp::utf8_chars("\xE2x"), (std::vector<std::string>{"\xE2", "x"}));      // bad continuation
}

TEST(SpeechVocab, EnglishLayoutEncodeDecode) {
  const auto v = sp::CharVocab::english(sp::LetterCase::kLower);
  EXPECT_EQ(v.size(), 29);
  EXPECT_EQ(v.symbols()[0], "<blank>");
  EXPECT_EQ(v.id(" "), 1);
  EXPECT_EQ(v.id("'"), 2);
  EXPECT_EQ(v.id("a"), 3);
  EXPECT_EQ(v.id("z"), 28);
  EXPECT_EQ(v.id("A"), -1);
  const auto ids = v.encode("it's ok", sp::UnknownCharPolicy::kError);
  EXPECT_EQ(ids, (std::vector<int32_t>{11, 22, 2, 21, 1, 17, 13}));
  EXPECT_EQ(v.decode(ids), "it's ok");
  EXPECT_EQ(sp::CharVocab::english(sp::LetterCase::kUpper).id("A"), 3);
}

TEST(SpeechVocab, UnknownCharactersReportedDroppedOrFatal) {
  const auto v = sp::CharVocab::english(sp::LetterCase::kLower);
  sp::UnknownCharReport report;
  EXPECT_EQ(v.decode(v.encode("route 66 café", sp::UnknownCharPolicy::kDrop, &report)), "route  caf");
  v.encode("6 x", sp::UnknownCharPolicy::kDrop, &report);
  v.encode("fine", sp::UnknownCharPolicy::kDrop, &report);
  EXPECT_EQ(report.count, 4);
  EXPECT_EQ(report.texts, 2);
  EXPECT_EQ(report.examples.at("6"), 3);
  EXPECT_EQ(report.examples.at("é"), 1);
  EXPECT_EQ(report.str(), "4 unknown characters in 2 transcripts: '6' x3, 'é' x1");
  EXPECT_EQ(speech_test::error_of([&] { v.encode("a1", sp::UnknownCharPolicy::kError, nullptr, "utterance 'u7' (m.jsonl:7)"); }),
            "utterance 'u7' (m.jsonl:7): character '1' is not in the vocabulary (set vocabulary.unknown: drop to drop "
            "such characters)");
}

TEST(SpeechVocab, BuiltFromTranscriptsAndSavedRoundTrip) {
  const auto v = sp::CharVocab::build({"zebra crossing", "café's"});
  EXPECT_EQ(v.symbols(), (std::vector<std::string>{"<blank>", " ", "'", "a", "b", "c", "e", "f", "g", "i", "n", "o",
                                                   "r", "s", "z", "é"}));
  const std::string path = (speech_test::temp_dir("vocab") / "vocab.json").string();
  v.save(path);
  const auto loaded = sp::CharVocab::load(path);
  EXPECT_EQ(loaded.symbols(), v.symbols());
  EXPECT_EQ(loaded.encode("café", sp::UnknownCharPolicy::kError), v.encode("café", sp::UnknownCharPolicy::kError));
  speech_test::write_text(path, R"({"kind": "char_ctc", "symbols": ["a", "<blank>"]})");
  EXPECT_EQ(speech_test::error_of([&] { sp::CharVocab::load(path); }),
            path + ": character vocabulary: id 0 must be the CTC blank '<blank>'");
}

TEST(SpeechMetrics, EditDistanceHandWorked) {
  auto chars = [](const std::string& s) { return sp::utf8_chars(s); };
  EXPECT_EQ(sp::edit_distance(chars("kitten"), chars("sitting")), 3);  // k->s, e->i, +g
  const auto c = sp::align(chars("kitten"), chars("sitting"));
  EXPECT_EQ(c.substitutions, 2);
  EXPECT_EQ(c.insertions, 1);
  EXPECT_EQ(c.deletions, 0);
  EXPECT_EQ(sp::edit_distance(chars(""), chars("abc")), 3);
  EXPECT_EQ(sp::align(chars("abc"), chars("")).deletions, 3);
  EXPECT_EQ(sp::edit_distance(chars("flaw"), chars("lawn")), 2);  // -f, +n
}

TEST(SpeechMetrics, WerAndCerOverASet) {
  // Pair 1: "the cat sat on the mat" -> "the cat sit on mat": sat->sit (S), the deleted (D): 2 errors of 6 words.
  // Pair 2: "a b" -> "a x b": x inserted (I): 1 error of 2 words. WER = 3 / 8.
  const auto r = sp::error_rates({{"the cat sat on the mat", "the cat sit on mat"}, {"a b", "a  x b"}});
  EXPECT_EQ(r.utterances, 2);
  EXPECT_EQ(r.words.reference_length, 8);
  EXPECT_EQ(r.words.substitutions, 1);
  EXPECT_EQ(r.words.deletions, 1);
  EXPECT_EQ(r.words.insertions, 1);
  EXPECT_DOUBLE_EQ(r.wer(), 3.0 / 8.0);
  // Characters (spaces count, runs collapsed): pair 1 is 22 chars, "sat"->"sit" 1 S, "the " deleted 4 D;
  // pair 2 "a b" -> "a x b" 2 I. CER = 7 / 25.
  EXPECT_EQ(r.chars.reference_length, 25);
  EXPECT_EQ(r.chars.errors(), 7);
  EXPECT_DOUBLE_EQ(r.cer(), 7.0 / 25.0);
  EXPECT_DOUBLE_EQ(sp::error_rates({{"", ""}}).wer(), 0.0);
  EXPECT_TRUE(std::isinf(sp::error_rates({{"", "extra"}}).wer()));
  EXPECT_DOUBLE_EQ(sp::error_rates({{"same words", "same  words"}}).cer(), 0.0);
}

TEST(SpeechCtc, GreedyCollapse) {
  EXPECT_EQ(sp::ctc_collapse({0, 1, 1, 0, 1, 2, 2, 0, 0, 3}), (std::vector<int32_t>{1, 1, 2, 3}));
  EXPECT_EQ(sp::ctc_collapse({5, 5, 5}), (std::vector<int32_t>{5}));
  EXPECT_TRUE(sp::ctc_collapse({0, 0, 0}).empty());
  EXPECT_TRUE(sp::ctc_collapse({}).empty());
  const auto v = sp::CharVocab::english(sp::LetterCase::kLower);
  // h h _ e l l _ l o  ->  "hello"
  const std::vector<int32_t> frames{v.id("h"), v.id("h"), 0, v.id("e"), v.id("l"), v.id("l"), 0, v.id("l"), v.id("o")};
  EXPECT_EQ(sp::ctc_greedy_text(frames, v), "hello");
  const std::vector<float> logits{0.1f, 0.9f, 0.0f,   // 1
                                  0.2f, 0.8f, 0.1f,   // 1
                                  0.7f, 0.1f, 0.2f,   // 0
                                  0.0f, 0.3f, 0.3f};  // tie -> first (1)
  EXPECT_EQ(sp::argmax_ids(logits.data(), 4, 3), (std::vector<int32_t>{1, 1, 0, 1}));
}
