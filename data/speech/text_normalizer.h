#pragma once
// Transcript normalisation before the character vocabulary: letter case, punctuation and spaces, so
// "Hello, World!  It's" becomes "hello world it's" (lower case) or "HELLO WORLD IT'S" (LibriSpeech's style).
//   * case: lower | upper | keep, ASCII letters only (non-ASCII letters are kept as written and, unless in the
//     vocabulary, reported as unknown);
//   * strip_punctuation: every ASCII punctuation character except the apostrophe becomes a space ("well-known" ->
//     "well known", "<s>" -> "s" - strip markup before);
//   * collapse_spaces: runs of whitespace (space, tab, newline) become one space, none at either end.
#include <string>

namespace sigtrain::speech {

enum class LetterCase { kLower, kUpper, kKeep };
LetterCase parse_letter_case(const std::string& name);  // "lower" | "upper" | "keep"

struct TextNormalizerOptions {
  LetterCase letter_case = LetterCase::kLower;
  bool strip_punctuation = true;
  bool collapse_spaces = true;
};

std::string normalize_text(const std::string& text, const TextNormalizerOptions& options);

}  // namespace sigtrain::speech
