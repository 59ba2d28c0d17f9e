#pragma once
// The character vocabulary of a CTC model. Id 0 is the CTC blank ("<blank>"), then space (1), apostrophe (2), then
// the letters (and any other characters) in code-point order. Letters have one case (the text normaliser folds
// case before encoding), so 'A' and 'a' are never two ids.
//   english(case): blank, space, apostrophe, a-z (or A-Z): 29 ids, fixed, the usual LibriSpeech vocabulary;
//   build(texts):  blank, space, apostrophe, then every other character seen in the (normalised) training
//                  transcripts, sorted - so one corpus always gives the same ids.
// Saved with the run as JSON {"kind": "char_ctc", "symbols": ["<blank>", " ", "'", "a", ...]} and loaded back, so a
// resumed or evaluated model reads the ids it was trained with (load_ctc_vocab in ctc_vocab.h reads either kind).
//
// Unknown characters (not in the vocabulary) are counted with examples (UnknownCharReport) and either dropped or
// an error, per UnknownCharPolicy.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/speech/ctc_vocab.h"
#include "data/speech/text_normalizer.h"

namespace sigtrain::speech {

class CharVocab final : public CtcVocab {
 public:
  static CharVocab english(LetterCase letter_case);
  // `texts` should already be normalised (normalize_text); nothing in them is unknown by construction.
  static CharVocab build(const std::vector<std::string>& texts);

  std::string kind() const override;  // "char_ctc"
  int64_t size() const override { return static_cast<int64_t>(symbols_.size()); }
  const std::vector<std::string>& symbols() const override { return symbols_; }
  // -1 when unknown.
  int32_t id(const std::string& ch) const override;

  // Ids of `text` (normalised). Unknown characters are added to `report` (when given) and dropped; with kError the
  // first one throws std::runtime_error naming it and `context` (e.g. the utterance id and file:line).
  std::vector<int32_t> encode(const std::string& text, UnknownCharPolicy policy, UnknownCharReport* report = nullptr,
                              const std::string& context = "") const override;
  // Concatenated symbols; the blank and out-of-range ids are skipped (no CTC collapse: see ctc_greedy.h).
  std::string decode(const std::vector<int32_t>& ids) const override;
  // "char_ctc/<FNV-1a of the symbols>".
  std::string identity() const override;
  std::shared_ptr<const CtcVocab> clone() const override { return std::make_shared<CharVocab>(*this); }

  nlohmann::json to_json() const;
  static CharVocab from_json(const nlohmann::json& j);  // throws std::runtime_error
  void save(const std::string& path) const override;    // atomic write
  static CharVocab load(const std::string& path);       // errors name the file

 private:
  explicit CharVocab(std::vector<std::string> symbols);
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace sigtrain::speech
