#pragma once
// The reader interface every single-cell format implements: metadata up front, the matrix by row (cell) ranges.
//
// A reader is opened once (cheap: shape, encoding, names of columns), then `read_rows(begin, end)` returns cells
// [begin, end) as a cells x genes CSR matrix. HDF5 readers read only that slice from disk (hyperslabs of
// indptr/indices/data for CSR storage, of rows for dense storage); see each reader for its costs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/singlecell/csr_matrix.h"

namespace sigtrain::singlecell {

// One column of an obs (per-cell) or var (per-gene) table.
struct ColumnInfo {
  std::string name;
  std::string type;          // "categorical", "string", "float32", "int64", "bool", "nullable-integer", ...
  int64_t n_categories = 0;  // categorical only
};

struct CellMatrixInfo {
  std::string path;
  std::string format;         // "h5ad", "h5ad (anndata 0.7 legacy)", "h5ad (anndata < 0.7, compound obs/var)",
                              // "10x_h5 (Cell Ranger v3)", "10x_h5 (Cell Ranger v2, genome hg19)", "mex (v2)", "mex (v3)"
  int64_t n_cells = 0;
  int64_t n_genes = 0;
  int64_t nnz = 0;            // stored entries (dense storage: counted non-zeros, computed by a streaming pass)
  std::string matrix_path;    // "/X", "/layers/counts", "/raw/X", "/matrix", "matrix.mtx.gz", ...
  std::string encoding;       // on-disk encoding as seen from cells x genes: "csr", "csc", "dense"
  std::string dtype;          // on-disk value type, e.g. "float32", "int32"
  std::string index_dtype;    // on-disk indices/indptr type for sparse storage ("int32", "int64"); empty for dense
  std::vector<ColumnInfo> obs_columns;
  std::vector<ColumnInfo> var_columns;
  std::vector<std::string> layers;  // names under /layers (h5ad), plus "raw" when raw.X exists
};

class CellMatrixReader {
 public:
  virtual ~CellMatrixReader() = default;
  virtual const CellMatrixInfo& info() const = 0;
  // Cells [begin, end) as CSR (n_cols = n_genes, column indices ascending within a row).
  virtual CsrMatrix read_rows(int64_t begin, int64_t end) = 0;
  // Gene names (the var index, or the column chosen with OpenOptions::gene_name_column; 10x: feature names).
  virtual std::vector<std::string> gene_names() = 0;
  // Gene ids (10x feature ids; h5ad: the var index).
  virtual std::vector<std::string> gene_ids() = 0;
  virtual std::vector<std::string> cell_ids() = 0;  // obs index / barcodes
  // One obs column as one string per cell: categorical -> its category ("" for missing, code -1), numbers ->
  // shortest text ("24", "0.5"), bool -> "true"/"false". FormatError naming the available columns when absent.
  virtual std::vector<std::string> obs_column(const std::string& name) = 0;
  // One var column likewise (10x: "feature_type", "genome").
  virtual std::vector<std::string> var_column(const std::string& name) = 0;
};

}  // namespace sigtrain::singlecell
