#pragma once
// The one exception type of the speech readers: a file that is missing, unreadable or malformed. Messages name the
// file, the line (for text files) and what was expected, e.g.
//   "train.jsonl:12: missing field 'duration' (expected {"path": ..., "duration": ..., "text": ...})".
#include <cstdint>
#include <stdexcept>
#include <string>

namespace sigtrain::speech {

class SpeechDataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<file>:<line>: <what>" (line 0 = no line: "<file>: <what>").
[[noreturn]] inline void throw_data_error(const std::string& file, int64_t line, const std::string& what) {
  throw SpeechDataError(line > 0 ? file + ":" + std::to_string(line) + ": " + what : file + ": " + what);
}

}  // namespace sigtrain::speech
