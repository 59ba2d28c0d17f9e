#pragma once
// The one exception type of the vision readers and decoders: a file or folder that is missing, malformed or of an
// unsupported kind. Messages start with the path and say what was expected and what was found, e.g.
//   "data/train-images-idx3-ubyte.gz: bad magic 0x00000801, expected 0x00000803 (IDX uint8 images)".
#include <stdexcept>
#include <string>

namespace sigtrain::vision {

class VisionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<path>: <what>".
[[noreturn]] inline void throw_vision_error(const std::string& path, const std::string& what) {
  throw VisionError(path + ": " + what);
}

}  // namespace sigtrain::vision
