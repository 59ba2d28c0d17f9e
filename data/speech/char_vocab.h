#pragma once
// The character vocabulary of a CTC model. Id 0 is the CTC blank ("<blank>"), then space (1), apostrophe (2), then
// the letters (and any other characters) in code-point order. Letters have one case (the text normaliser folds
// case before encoding), so 'A' and 'a' are never two ids.
//   english(case): blank, space, apostrophe, a-z (or A-Z): 29 ids, fixed, the usual LibriSpeech vocabulary;
//   build(texts):  blank, space, apostrophe, then every other character seen in the (normalised) training
//                  transcripts, sorted - so one corpus always gives the same ids.
// Saved with the run as JSON {"kind": "char_ctc", "symbols": ["<blank>", " ", "'", "a", ...]} and loaded back, so a
// resumed or evaluated model reads the ids it was trained with.
//
// Unknown characters (not in the vocabulary) are counted with examples (UnknownCharReport) and either dropped or
// an error, per UnknownCharPolicy.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/speech/text_normalizer.h"

namespace sigtrain::speech {

enum class UnknownCharPolicy { kDrop, kError };
UnknownCharPolicy parse_unknown_char_policy(const std::string& name);  // "drop" | "error"

struct UnknownCharReport {
  int64_t count = 0;                      // unknown characters seen
  int64_t texts = 0;                      // texts with at least one
  std::map<std::string, int64_t> examples;  // up to kMaxExamples distinct characters with their counts
  static constexpr size_t kMaxExamples = 10;
  void add(const std::string& ch);
  // "3 unknown characters in 2 transcripts: '1' x2, 'é' x1" ("" when count == 0).
  std::string str() const;
};

class CharVocab {
 public:
  static constexpr int32_t kBlank = 0;
  static constexpr const char* kBlankSymbol = "<blank>";

  static CharVocab english(LetterCase letter_case);
  // `texts` should already be normalised (normalize_text); nothing in them is unknown by construction.
  static CharVocab build(const std::vector<std::string>& texts);

  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }
  const std::vector<std::string>& symbols() const { return symbols_; }
  // -1 when unknown.
  int32_t id(const std::string& ch) const;

  // Ids of `text` (normalised). Unknown characters are added to `report` (when given) and dropped; with kError the
  // first one throws std::runtime_error naming it and `context` (e.g. the utterance id and file:line).
  std::vector<int32_t> encode(const std::string& text, UnknownCharPolicy policy, UnknownCharReport* report = nullptr,
                              const std::string& context = "") const;
  // Concatenated symbols; the blank and out-of-range ids are skipped (no CTC collapse: see ctc_greedy.h).
  std::string decode(const std::vector<int32_t>& ids) const;

  nlohmann::json to_json() const;
  static CharVocab from_json(const nlohmann::json& j);  // throws std::runtime_error
  void save(const std::string& path) const;             // atomic write
  static CharVocab load(const std::string& path);       // errors name the file

 private:
  explicit CharVocab(std::vector<std::string> symbols);
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace sigtrain::speech
