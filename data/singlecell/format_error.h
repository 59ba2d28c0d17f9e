#pragma once
// The one exception type of the single-cell readers: a file that is missing, malformed or of an unsupported kind.
// Messages name the file, the object inside it (HDF5 path, or line for text files) and what was expected, e.g.
//   "pbmc.h5ad: /X/indptr: expected 1-D integer dataset of length n_obs+1 = 81, got length 80".
#include <stdexcept>
#include <string>

namespace sigtrain::singlecell {

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<file>: <where>: <what>" (where may be empty).
[[noreturn]] inline void throw_format_error(const std::string& file, const std::string& where, const std::string& what) {
  throw FormatError(where.empty() ? file + ": " + what : file + ": " + where + ": " + what);
}

}  // namespace sigtrain::singlecell
