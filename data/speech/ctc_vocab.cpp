#include "data/speech/ctc_vocab.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "common/atomic_file.h"
#include "data/speech/char_vocab.h"
#include "data/speech/sentencepiece_vocab.h"
#include "data/speech/speech_error.h"

namespace sigtrain::speech {

UnknownCharPolicy parse_unknown_char_policy(const std::string& name) {
  if (name == "drop") return UnknownCharPolicy::kDrop;
  if (name == "error") return UnknownCharPolicy::kError;
  throw std::invalid_argument("unknown policy '" + name + "' for unknown characters (expected drop or error)");
}

void UnknownCharReport::add(const std::string& ch) {
  ++count;
  auto it = examples.find(ch);
  if (it != examples.end()) ++it->second;
  else if (examples.size() < kMaxExamples) examples.emplace(ch, 1);
}

std::string UnknownCharReport::str() const {
  if (count == 0) return "";
  std::string s = std::to_string(count) + " unknown character" + (count == 1 ? "" : "s") + " in " +
                  std::to_string(texts) + " transcript" + (texts == 1 ? "" : "s") + ":";
  const char* sep = " ";
  for (const auto& [ch, n] : examples) {
    s += sep + ("'" + ch + "' x" + std::to_string(n));
    sep = ", ";
  }
  return s;
}

void throw_unknown_char(const std::string& ch, const std::string& context) {
  throw std::runtime_error((context.empty() ? "" : context + ": ") + "character '" + ch +
                           "' is not in the vocabulary (set vocabulary.unknown: drop to drop such characters)");
}

std::shared_ptr<const CtcVocab> load_ctc_vocab(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const std::exception& e) {
    throw_data_error(path, 0, std::string("not a vocabulary file: ") + e.what());
  }
  const std::string kind = j.is_object() ? j.value("kind", "") : "";
  if (kind == SentencePieceVocab::kKind) return std::make_shared<SentencePieceVocab>(SentencePieceVocab::load(path));
  if (kind == "char_ctc" || kind.empty()) return std::make_shared<CharVocab>(CharVocab::load(path));
  throw_data_error(path, 0, "unknown vocabulary kind '" + kind + "' (expected char_ctc or " +
                                SentencePieceVocab::kKind + ")");
}

}  // namespace sigtrain::speech
