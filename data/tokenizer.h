#pragma once
// Text <-> token ids. Torch-free; the trainer turns the int32 ids into tensors.
//
// Every tokenizer has one special id, end-of-text (`<|endoftext|>`), which prepare_lm_data() puts between
// documents. encode() never produces it from text: a literal "<|endoftext|>" in the input is encoded as ordinary
// text, so the corpus cannot forge document boundaries.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sigtrain::data {

inline constexpr std::string_view kEndOfTextText = "<|endoftext|>";

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // The end-of-text id decodes to the text "<|endoftext|>"; ids outside [0, vocab_size) throw std::runtime_error.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;

  // Number of ids, specials included: every id is in [0, vocab_size()).
  virtual int32_t vocab_size() const = 0;
  virtual int32_t eot_id() const = 0;

  // Short human name, e.g. "byte" or "sentencepiece-bpe-4096".
  virtual std::string name() const = 0;
  // A string that changes whenever the id mapping could change (kind, settings, hash of model bytes). Checkpoints
  // store it; resuming with a different identity is an error.
  virtual std::string identity() const = 0;

  // Writes what load_tokenizer() needs into `dir` (created if missing): always `tokenizer.json`, plus
  // `tokenizer.model` for SentencePiece. Files are written atomically (temporary file, then rename).
  virtual void save(const std::filesystem::path& dir) const = 0;
};

// Rebuilds a tokenizer saved by Tokenizer::save(). Throws std::runtime_error naming the file on any problem.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir);

}  // namespace sigtrain::data
