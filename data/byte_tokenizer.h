#pragma once
// Byte-level tokenizer: ids 0..255 are the raw bytes of the UTF-8 text (so any input round-trips exactly, including
// invalid UTF-8), id 256 is <|endoftext|>. vocab_size() = 257. Needs no files.
#include "data/tokenizer.h"

namespace sigtrain::data {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kEndOfText = 256;
  static constexpr int32_t kVocabSize = 257;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return kVocabSize; }
  int32_t eot_id() const override { return kEndOfText; }
  std::string name() const override { return "byte"; }
  std::string identity() const override { return "byte/v1"; }
  void save(const std::filesystem::path& dir) const override;
};

}  // namespace sigtrain::data
