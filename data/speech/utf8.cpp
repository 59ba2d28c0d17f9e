#include "data/speech/utf8.h"

namespace sigtrain::speech {
namespace {

// Length of the sequence starting with lead byte c (1 for ASCII and for invalid lead bytes).
size_t sequence_length(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF4) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC2) return 2;
  return 1;
}

}  // namespace

std::vector<std::string> utf8_chars(std::string_view text) {
  std::vector<std::string> chars;
  for (size_t i = 0; i < text.size();) {
    size_t n = sequence_length(static_cast<unsigned char>(text[i]));
    if (i + n > text.size()) n = 1;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) n = 1;  // not a continuation byte
    chars.emplace_back(text.substr(i, n));
    i += n;
  }
  return chars;
}

}  // namespace sigtrain::speech
