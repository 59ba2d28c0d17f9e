#pragma once
// SentencePiece tokenizer (Debian's libsentencepiece), trained on the training split of the corpus.
//
// Training settings chosen so that decode(encode(text)) == text for every input and training is reproducible:
//   * normalization `identity`, no extra-whitespace removal, no dummy prefix: the text is not rewritten;
//   * byte_fallback: characters outside the learned vocabulary become byte pieces <0x00>..<0xFF> (never <unk>);
//   * newlines: SentencePiece works on single lines, so encode() splits at '\n', encodes each line and puts the
//     byte piece <0x0A> between them (decode turns it back into '\n');
//   * ids: 0 = <unk> (unused thanks to byte fallback), 1 = <|endoftext|> (eot_id), no BOS/PAD;
//   * determinism: num_threads = 1, no input shuffling (the first `input_sentence_size` non-empty lines are used),
//     and a fixed library random seed. The same lines and options give a byte-identical model.
#include <memory>

#include "data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace sigtrain::data {

struct SentencePieceOptions {
  std::string model_type = "bpe";           // "bpe" or "unigram"
  int32_t vocab_size = 4096;                // requested; unigram may end up slightly smaller on small corpora
  int64_t input_sentence_size = 2'000'000;  // cap on the number of training lines
  int32_t max_sentence_length = 16384;      // bytes; longer lines are skipped by the trainer
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Trains on `lines` (one sentence each; empty ones are skipped). Throws std::runtime_error with the library's
  // message (e.g. vocab_size too small or too large for the text).
  static std::unique_ptr<SentencePieceTokenizer> train(const std::vector<std::string_view>& lines,
                                                       const SentencePieceOptions& options);
  // From the bytes of a `.model` file; `origin` names them in errors. `model_type` ("bpe"/"unigram") is only
  // used for name()/identity(): Debian ships no ModelProto header to read it back from the model itself.
  static std::unique_ptr<SentencePieceTokenizer> from_model_bytes(std::string model_bytes, std::string model_type,
                                                                  const std::string& origin);
  static std::unique_ptr<SentencePieceTokenizer> load(const std::filesystem::path& model_file, std::string model_type);

  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  int32_t eot_id() const override { return eot_id_; }
  std::string name() const override;
  std::string identity() const override;
  void save(const std::filesystem::path& dir) const override;

  const std::string& model_bytes() const { return model_bytes_; }
  const std::string& model_type() const { return model_type_; }

  // One piece of the model, for vocabularies built on top of it (the speech CTC vocabulary,
  // data/speech/sentencepiece_vocab.h): its text ("▁the", "<0x41>"), whether it is a
  // byte-fallback piece, and whether it is special (<unk> or a control piece such as <|endoftext|>).
  // `id` in [0, vocab_size()), else std::out_of_range.
  std::string piece(int32_t id) const;
  bool is_byte(int32_t id) const;
  bool is_special(int32_t id) const;

 private:
  SentencePieceTokenizer() = default;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string model_bytes_;
  std::string model_type_;
  int32_t vocab_size_ = 0;
  int32_t eot_id_ = -1;
  int32_t newline_id_ = -1;
  void check_id(int32_t id) const;
};

}  // namespace sigtrain::data
