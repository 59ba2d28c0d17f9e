#include "data/speech/asr_metrics.h"

#include <algorithm>
#include <limits>

#include "data/speech/text_normalizer.h"
#include "data/speech/utf8.h"

namespace sigtrain::speech {

double EditCounts::rate() const {
  if (reference_length > 0) return static_cast<double>(errors()) / static_cast<double>(reference_length);
  return errors() == 0 ? 0.0 : std::numeric_limits<double>::infinity();
}

EditCounts& EditCounts::operator+=(const EditCounts& o) {
  substitutions += o.substitutions;
  insertions += o.insertions;
  deletions += o.deletions;
  reference_length += o.reference_length;
  return *this;
}

EditCounts align(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  const size_t n = ref.size(), m = hyp.size();
  // Full (n+1) x (m+1) table: utterances are short (hundreds of characters), and the backtrace needs it.
  std::vector<int64_t> d((n + 1) * (m + 1));
  auto at = [&](size_t i, size_t j) -> int64_t& { return d[i * (m + 1) + j]; };
  for (size_t i = 0; i <= n; ++i) at(i, 0) = static_cast<int64_t>(i);
  for (size_t j = 0; j <= m; ++j) at(0, j) = static_cast<int64_t>(j);
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j)
      at(i, j) = std::min({at(i - 1, j - 1) + (ref[i - 1] == hyp[j - 1] ? 0 : 1), at(i - 1, j) + 1, at(i, j - 1) + 1});

  EditCounts c;
  c.reference_length = static_cast<int64_t>(n);
  for (size_t i = n, j = m; i > 0 || j > 0;) {
    if (i > 0 && j > 0 && at(i, j) == at(i - 1, j - 1) + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] != hyp[j - 1]) ++c.substitutions;
      --i, --j;
    } else if (i > 0 && at(i, j) == at(i - 1, j) + 1) {
      ++c.deletions;
      --i;
    } else {
      ++c.insertions;
      --j;
    }
  }
  return c;
}

int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return align(a, b).errors();
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text + " ") {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  return words;
}

std::vector<std::string> split_chars(const std::string& text) {
  return utf8_chars(normalize_text(text, {LetterCase::kKeep, false, true}));
}

ErrorRates error_rates(const std::vector<std::pair<std::string, std::string>>& pairs) {
  ErrorRates r;
  for (const auto& [reference, hypothesis] : pairs) {
    r.words += align(split_words(reference), split_words(hypothesis));
    r.chars += align(split_chars(reference), split_chars(hypothesis));
    ++r.utterances;
  }
  return r;
}

}  // namespace sigtrain::speech
