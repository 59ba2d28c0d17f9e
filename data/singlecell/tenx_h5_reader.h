#pragma once
// 10x Genomics HDF5 feature-barcode matrix (Cell Ranger >= 3 / Space Ranger: /matrix with features/{id,name,
// feature_type,genome}; Cell Ranger 2: one group per genome with genes + gene_names). The stored CSC matrix
// (features x barcodes) is read as CSR cells x genes: a cell range is one hyperslab, no transpose. Any integer or
// float storage type is converted by HDF5; strings may be variable or fixed length.
#include <string>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/hdf5_file.h"
#include "data/singlecell/hdf5_matrix_slicer.h"

namespace sigtrain::singlecell {

class TenxH5Reader : public CellMatrixReader {
 public:
  explicit TenxH5Reader(const std::string& path);

  const CellMatrixInfo& info() const override { return info_; }
  CsrMatrix read_rows(int64_t begin, int64_t end) override { return matrix_.read_rows(begin, end); }
  std::vector<std::string> gene_names() override;
  std::vector<std::string> gene_ids() override;
  std::vector<std::string> cell_ids() override { return checked_strings(group_ + "/barcodes", info_.n_cells); }
  std::vector<std::string> obs_column(const std::string& name) override;
  std::vector<std::string> var_column(const std::string& name) override;

 private:
  std::vector<std::string> checked_strings(const std::string& dset, int64_t n) const;
  h5::File file_;
  CellMatrixInfo info_;
  Hdf5MatrixSlicer matrix_;
  std::string group_;  // "/matrix" (v3) or "/<genome>" (v2)
  bool v3_ = true;
};

}  // namespace sigtrain::singlecell
