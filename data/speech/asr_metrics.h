#pragma once
// Recognition error rates. The edit distance is Levenshtein's (unit costs) with a backtrace that splits it into
// substitutions, insertions and deletions (on ties: match/substitution first, then deletion, then insertion, as
// sclite and jiwer do), so S + I + D is always the minimum.
//   WER = (S + I + D) / reference words, words split on whitespace;
//   CER = (S + I + D) / reference characters (UTF-8 code points, spaces included, after collapsing runs of
//         whitespace into one space);
// both summed over a set of pairs (corpus-level totals, not the mean of per-utterance rates, so long utterances
// weigh more). An empty reference contributes its hypothesis as insertions.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sigtrain::speech {

struct EditCounts {
  int64_t substitutions = 0;
  int64_t insertions = 0;
  int64_t deletions = 0;
  int64_t reference_length = 0;
  int64_t errors() const { return substitutions + insertions + deletions; }
  // errors / reference_length; 0 when both are 0, +inf when only the reference is empty.
  double rate() const;
  EditCounts& operator+=(const EditCounts& o);
};

// Aligns token sequences (words or characters).
EditCounts align(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis);
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

std::vector<std::string> split_words(const std::string& text);
std::vector<std::string> split_chars(const std::string& text);  // code points of the whitespace-collapsed text

struct ErrorRates {
  EditCounts words;
  EditCounts chars;
  int64_t utterances = 0;
  double wer() const { return words.rate(); }
  double cer() const { return chars.rate(); }
};

// Over (reference, hypothesis) pairs.
ErrorRates error_rates(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace sigtrain::speech
