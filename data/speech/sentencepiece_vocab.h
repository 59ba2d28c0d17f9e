#pragma once
// A subword CTC vocabulary: SentencePiece pieces (data/sentencepiece_tokenizer.h, the LM's tokenizer: same trainer,
// same settings, same cache discipline) trained on the normalised training transcripts.
//
// Ids: 0 = the CTC blank, then every ordinary piece of the model in the model's order. The model's special pieces
// (<unk>, <|endoftext|>) and its 256 byte-fallback pieces are not CTC outputs, so
//     size() = 1 + pieces = the model's vocabulary − 258 + 1.
// `vocab_size` asks for size() (blank included); SentencePiece treats it as a soft limit, so a small corpus may give
// fewer ids (the log and speech.json say how many).
//
// Word boundaries: like SentencePiece's usual dummy prefix, each transcript is encoded as " " + text, so every
// word, the first included, starts with "▁" ("the cat" → "▁the", "▁cat"); decode() drops that leading space again.
// decode(encode(t)) == t for every transcript the pieces can spell.
//
// Unknown characters: a character no piece covers (it was not in the training transcripts, or too rare for the
// trainer's character coverage) comes out of SentencePiece as byte pieces; those characters are unknown here,
// reported and dropped, or an error, as with CharVocab.
//
// Saved with a run as vocab.json {"kind": "sentencepiece_ctc", "model": "vocab.model", "symbols": [...], ...} and
// the SentencePiece model beside it (vocab.model); load() checks that both still agree.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/speech/ctc_vocab.h"

namespace sigtrain::data {
class SentencePieceTokenizer;
}

namespace sigtrain::speech {

struct SentencePieceVocabOptions {
  std::string model_type = "unigram";  // "unigram" | "bpe"
  int64_t vocab_size = 256;            // CTC ids wanted, blank included (soft limit)
};

class SentencePieceVocab final : public CtcVocab {
 public:
  static constexpr const char* kKind = "sentencepiece_ctc";
  // Bytes and specials of a sigtrain SentencePiece model that are not CTC outputs (<unk>, <|endoftext|>, 256 bytes).
  static constexpr int64_t kNonCtcPieces = 258;

  // Trains on `texts` (normalised transcripts). std::runtime_error with the library's message on failure (e.g. a
  // vocab_size smaller than the transcripts' alphabet).
  static SentencePieceVocab train(const std::vector<std::string>& texts, const SentencePieceVocabOptions& options);
  // train() through a cache entry <cache_dir>/speech/vocab/sp-<model_type><vocab_size>-<key>/ (key: FNV-1a of the
  // options and the texts in order), built in a temporary folder and renamed into place as the LM's token cache
  // (data/lm_corpus.h), so concurrent ranks or runs never see a partial entry; a damaged entry is rebuilt.
  // `from_cache` (when given) says whether an existing entry was reused. Logs through sigtrain::log.
  static SentencePieceVocab prepare(const std::vector<std::string>& texts, const SentencePieceVocabOptions& options,
                                    const std::string& cache_dir, bool* from_cache = nullptr);
  // From a trained model (see the id layout above).
  static SentencePieceVocab from_tokenizer(std::shared_ptr<const data::SentencePieceTokenizer> tokenizer);
  // A vocab.json written by save(); errors name the file.
  static SentencePieceVocab load(const std::string& path);

  std::string kind() const override { return kKind; }
  int64_t size() const override { return static_cast<int64_t>(symbols_.size()); }
  const std::vector<std::string>& symbols() const override { return symbols_; }
  int32_t id(const std::string& piece) const override;
  std::vector<int32_t> encode(const std::string& text, UnknownCharPolicy policy, UnknownCharReport* report = nullptr,
                              const std::string& context = "") const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  // "sentencepiece_ctc/" + the tokenizer's identity (its name and the hash of the model bytes).
  std::string identity() const override;
  void save(const std::string& path) const override;
  std::shared_ptr<const CtcVocab> clone() const override { return std::make_shared<SentencePieceVocab>(*this); }

  const data::SentencePieceTokenizer& tokenizer() const { return *tokenizer_; }

 private:
  SentencePieceVocab() = default;
  std::shared_ptr<const data::SentencePieceTokenizer> tokenizer_;  // shared by copies
  std::vector<int32_t> ctc_to_piece_;  // [size()]: the model's id of each CTC id (entry 0, the blank: -1)
  std::vector<int32_t> piece_to_ctc_;  // [model vocab]: the CTC id, kBytePiece or kSpecialPiece
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int32_t> ids_;
  static constexpr int32_t kBytePiece = -1, kSpecialPiece = -2;
};

}  // namespace sigtrain::speech
