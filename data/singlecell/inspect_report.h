#pragma once
// `sigtrain data inspect FILE [--label COL]`: what a single-cell file holds, without loading its matrix.
// Example (tests/fixtures/singlecell/pbmc_small.h5ad, label cluster):
//   file:     tests/fixtures/singlecell/pbmc_small.h5ad
//   format:   h5ad
//   matrix:   /X  csr  float32  (indices int32)
//   shape:    80 cells x 230 genes
//   nnz:      4456 (24.22% of entries)
//   layers:   none
//   obs (2):  cluster (categorical, 3 categories), n_counts (int64)
//   var (0):  none
//   label 'cluster': 3 categories
//     0   36
//     1   25
//     2   19
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/open_cell_matrix.h"

namespace sigtrain::singlecell {

struct InspectReport {
  CellMatrixInfo info;
  std::string label_column;                                   // empty: none asked for
  std::vector<std::pair<std::string, int64_t>> label_counts;  // category -> cells, sorted like label ids
                                                              // (sort_label_names); "(missing)" last
  std::string to_text() const;
};

// Opens the file (format auto-detected unless options say otherwise) and counts the label column's categories.
// FormatError when the file is malformed or the label column does not exist.
InspectReport inspect_file(const std::string& path, const std::string& label_column = "",
                           const OpenOptions& options = {});
inline std::string inspect_report(const std::string& path, const std::string& label_column = "") {
  return inspect_file(path, label_column).to_text();
}

}  // namespace sigtrain::singlecell
