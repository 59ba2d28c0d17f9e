#pragma once
// The output vocabulary of a CTC model: id 0 is the CTC blank, ids 1 .. size()-1 are symbols. Two kinds:
//   CharVocab          (char_vocab.h):         one id per character ("char_ctc");
//   SentencePieceVocab (sentencepiece_vocab.h): one id per SentencePiece subword piece ("sentencepiece_ctc").
// Both encode a normalised transcript (text_normalizer.h) into ids, decode ids back into text, and are saved with a
// run as a vocab.json that load_ctc_vocab() reads back, so a resumed or evaluated model reads the ids it was
// trained with.
//
// Unknown characters (those the vocabulary cannot spell) are counted with examples (UnknownCharReport) and either
// dropped or an error, per UnknownCharPolicy.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

// The error for an unknown character under UnknownCharPolicy::kError (`context` names the utterance and its line).
[[noreturn]] void throw_unknown_char(const std::string& ch, const std::string& context);

class CtcVocab {
 public:
  static constexpr int32_t kBlank = 0;
  static constexpr const char* kBlankSymbol = "<blank>";

  virtual ~CtcVocab() = default;

  // "char_ctc" | "sentencepiece_ctc": the `kind` of the saved vocab.json.
  virtual std::string kind() const = 0;
  // Ids, the blank included: every id is in [0, size()).
  virtual int64_t size() const = 0;
  // symbols()[id]: "<blank>", then the characters or the pieces (SentencePiece's "▁the" for " the").
  virtual const std::vector<std::string>& symbols() const = 0;
  // The id of a symbol, -1 when it is none.
  virtual int32_t id(const std::string& symbol) const = 0;
  // Ids of `text` (normalised); never the blank. Unknown characters are added to `report` (when given) and
  // dropped; with kError the first one throws std::runtime_error naming it and `context`.
  virtual std::vector<int32_t> encode(const std::string& text, UnknownCharPolicy policy,
                                      UnknownCharReport* report = nullptr, const std::string& context = "") const = 0;
  // The text of `ids` (no CTC collapse: see ctc_greedy.h); the blank and out-of-range ids are skipped.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // Changes whenever the mapping text <-> ids could change (checkpoints compare it).
  virtual std::string identity() const = 0;
  // vocab.json at `path` (atomic); SentencePiece also writes its model beside it (<stem>.model).
  virtual void save(const std::string& path) const = 0;
  virtual std::shared_ptr<const CtcVocab> clone() const = 0;
};

// A vocabulary saved by CtcVocab::save (either kind). Errors name the file.
std::shared_ptr<const CtcVocab> load_ctc_vocab(const std::string& path);

}  // namespace sigtrain::speech
