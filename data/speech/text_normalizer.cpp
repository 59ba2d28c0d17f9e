#include "data/speech/text_normalizer.h"

#include <stdexcept>

namespace sigtrain::speech {
namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ascii_punctuation(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

}  // namespace

LetterCase parse_letter_case(const std::string& name) {
  if (name == "lower") return LetterCase::kLower;
  if (name == "upper") return LetterCase::kUpper;
  if (name == "keep") return LetterCase::kKeep;
  throw std::invalid_argument("unknown letter case '" + name + "' (expected lower, upper or keep)");
}

std::string normalize_text(const std::string& text, const TextNormalizerOptions& o) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (o.strip_punctuation && c != '\'' && is_ascii_punctuation(c)) c = ' ';
    if (o.collapse_spaces && is_ascii_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (o.letter_case == LetterCase::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (o.letter_case == LetterCase::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

}  // namespace sigtrain::speech
