#pragma once
// Reads cell ranges of a cells x genes matrix stored in HDF5, in any of the three layouts:
//   * compressed, cells major (AnnData csr_matrix, 10x CSC features x barcodes): reads indptr[begin..end] and then
//     only the hyperslab [indptr[begin], indptr[end]) of indices and data;
//   * compressed, genes major (AnnData csc_matrix): a row range needs every column, so the whole indices/data
//     arrays are streamed in chunks of `chunk_entries` and only the wanted rows are kept (memory: the slice plus
//     one chunk; time: one full pass per call; read big slices, or convert the file to CSR);
//   * dense 2-D dataset: the hyperslab of rows, zeros dropped.
// The constructor validates lengths and types and throws FormatError naming the file, the dataset and what was
// expected (e.g. "/X/indptr: expected 1-D integer dataset of length n_obs+1 = 81, got length 80").
#include <cstdint>
#include <string>
#include <vector>

#include "data/singlecell/csr_matrix.h"
#include "data/singlecell/hdf5_file.h"

namespace sigtrain::singlecell {

class Hdf5MatrixSlicer {
 public:
  enum class Layout { kCellsMajor, kGenesMajor, kDense };

  Hdf5MatrixSlicer() = default;
  // Sparse: `group` holds data, indices and indptr. `major_name` names the major axis in errors ("n_obs").
  static Hdf5MatrixSlicer sparse(const h5::File* file, const std::string& group, Layout layout, int64_t n_cells,
                                 int64_t n_genes, const std::string& major_name);
  // Dense: `dataset` is 2-D [n_cells, n_genes].
  static Hdf5MatrixSlicer dense(const h5::File* file, const std::string& dataset);

  int64_t n_cells() const { return n_cells_; }
  int64_t n_genes() const { return n_genes_; }
  Layout layout() const { return layout_; }
  std::string dtype() const { return dtype_; }
  std::string index_dtype() const { return index_dtype_; }
  int64_t stored_entries() const { return stored_; }  // sparse: length of data; dense: n_cells * n_genes
  int64_t count_nonzero() const;                      // sparse: stored_entries(); dense: one streaming pass

  CsrMatrix read_rows(int64_t begin, int64_t end) const;

  int64_t chunk_entries = int64_t{1} << 22;

 private:
  CsrMatrix read_cells_major(int64_t begin, int64_t end) const;
  CsrMatrix read_genes_major(int64_t begin, int64_t end) const;
  CsrMatrix read_dense(int64_t begin, int64_t end) const;

  const h5::File* file_ = nullptr;
  std::string path_;  // group (sparse) or dataset (dense)
  Layout layout_ = Layout::kCellsMajor;
  int64_t n_cells_ = 0, n_genes_ = 0, stored_ = 0;
  std::string dtype_, index_dtype_;
};

}  // namespace sigtrain::singlecell
