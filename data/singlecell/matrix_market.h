#pragma once
// MatrixMarket coordinate format (the matrix of 10x MEX folders): "%%MatrixMarket matrix coordinate
// integer|real|double|pattern general", '%' comment lines (10x v3 adds "%metadata_json: {...}"), a size line
// "rows cols nnz", then nnz 1-based "row col [value]" lines. Plain or gzip-compressed.
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain::singlecell {

struct CooMatrix {
  int64_t n_rows = 0, n_cols = 0;
  std::vector<int32_t> row, col;  // 0-based
  std::vector<float> value;
  std::string field;              // "integer", "real", "double" or "pattern"
  std::vector<std::string> comments;  // comment lines after the banner, without the leading '%'
};

// Throws FormatError naming the file, the line and what was expected.
CooMatrix read_matrix_market(const std::string& path);

}  // namespace sigtrain::singlecell
