#include "data/singlecell/matrix_market.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "data/singlecell/format_error.h"
#include "data/singlecell/gzip_line_reader.h"

namespace sigtrain::singlecell {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

CooMatrix read_matrix_market(const std::string& path) {
  GzLineReader in(path);
  auto where = [&] { return "line " + std::to_string(in.line_number()); };
  std::string line;
  if (!in.next(line)) throw_format_error(path, "line 1", "empty file, expected a %%MatrixMarket banner");
  std::istringstream banner(line);
  std::string mm, object, format, field, symmetry;
  banner >> mm >> object >> format >> field >> symmetry;
  if (mm != "%%MatrixMarket" || lower(object) != "matrix") {
    throw_format_error(path, where(), "expected '%%MatrixMarket matrix coordinate <field> general', got '" + line + "'");
  }
  if (lower(format) != "coordinate") throw_format_error(path, where(), "only the coordinate format is supported, got '" + format + "'");
  CooMatrix m;
  m.field = lower(field);
  if (m.field != "integer" && m.field != "real" && m.field != "double" && m.field != "pattern") {
    throw_format_error(path, where(), "expected field integer, real, double or pattern, got '" + field + "'");
  }
  if (lower(symmetry) != "general") throw_format_error(path, where(), "only 'general' symmetry is supported, got '" + symmetry + "'");
  int64_t nnz = -1;
  while (in.next(line)) {
    if (line.empty()) continue;
    if (line[0] == '%') {
      m.comments.push_back(line.substr(1));
      continue;
    }
    std::istringstream size(line);
    if (!(size >> m.n_rows >> m.n_cols >> nnz) || m.n_rows < 0 || m.n_cols < 0 || nnz < 0) {
      throw_format_error(path, where(), "expected the size line 'rows cols nnz', got '" + line + "'");
    }
    break;
  }
  if (nnz < 0) throw_format_error(path, where(), "missing the size line 'rows cols nnz'");
  if (m.n_rows >= (int64_t{1} << 31) || m.n_cols >= (int64_t{1} << 31)) throw_format_error(path, where(), "dimensions >= 2^31");
  m.row.reserve(static_cast<size_t>(nnz));
  m.col.reserve(static_cast<size_t>(nnz));
  m.value.reserve(static_cast<size_t>(nnz));
  const bool pattern = m.field == "pattern";
  while (in.next(line)) {
    if (line.empty() || line[0] == '%') continue;
    if (static_cast<int64_t>(m.row.size()) == nnz) {
      throw_format_error(path, where(), "more entries than the " + std::to_string(nnz) + " the size line announced");
    }
    const char* p = line.c_str();
    char* end = nullptr;
    errno = 0;
    const long long r = std::strtoll(p, &end, 10);
    if (end == p) throw_format_error(path, where(), "expected 'row col value', got '" + line + "'");
    p = end;
    const long long c = std::strtoll(p, &end, 10);
    if (end == p) throw_format_error(path, where(), "expected 'row col value', got '" + line + "'");
    p = end;
    float v = 1.0f;
    if (!pattern) {
      v = std::strtof(p, &end);
      if (end == p) throw_format_error(path, where(), "expected 'row col value', got '" + line + "'");
    }
    if (r < 1 || r > m.n_rows || c < 1 || c > m.n_cols) {
      throw_format_error(path, where(), "entry (" + std::to_string(r) + ", " + std::to_string(c) + ") outside the 1-based " +
                                            std::to_string(m.n_rows) + " x " + std::to_string(m.n_cols) + " matrix");
    }
    m.row.push_back(static_cast<int32_t>(r - 1));
    m.col.push_back(static_cast<int32_t>(c - 1));
    m.value.push_back(v);
  }
  if (static_cast<int64_t>(m.row.size()) != nnz) {
    throw_format_error(path, where(), "expected " + std::to_string(nnz) + " entries (size line), got " +
                                          std::to_string(m.row.size()) + " (truncated file?)");
  }
  return m;
}

}  // namespace sigtrain::singlecell
