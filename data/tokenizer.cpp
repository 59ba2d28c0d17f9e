#include "data/tokenizer.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "common/atomic_file.h"
#include "data/byte_tokenizer.h"
#include "data/gpt2_tokenizer.h"
#include "data/sentencepiece_tokenizer.h"

namespace sigtrain::data {
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& dir) {
  const fs::path json_path = dir / "tokenizer.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(sigtrain::read_file(json_path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_path.string() + ": not valid JSON: " + e.what());
  }
  const std::string kind = j.value("kind", "");
  std::unique_ptr<Tokenizer> tok;
  if (kind == "byte") {
    tok = std::make_unique<ByteTokenizer>();
  } else if (kind == "sentencepiece") {
    const fs::path model = dir / j.value("model", "tokenizer.model");
    tok = SentencePieceTokenizer::load(model, j.value("model_type", "bpe"));
  } else if (kind == "gpt2") {
    tok = Gpt2Tokenizer::load(dir);
  } else {
    throw std::runtime_error(json_path.string() + ": unknown tokenizer kind '" + kind +
                             "' (expected byte, sentencepiece or gpt2)");
  }
  const std::string want = j.value("identity", "");
  if (!want.empty() && want != tok->identity())
    throw std::runtime_error(json_path.string() + ": tokenizer identity mismatch: file says '" + want +
                             "', the loaded tokenizer is '" + tok->identity() + "'");
  return tok;
}

}  // namespace sigtrain::data
