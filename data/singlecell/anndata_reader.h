#pragma once
// AnnData .h5ad reader (modern >= 0.8 encoding, the anndata 0.7 legacy one, and the < 0.7 compound layout).
// X (or a layer) as csr_matrix, csc_matrix or a dense 2-D dataset; obs/var through AnnDataFrame.
#include <string>

#include "data/singlecell/anndata_dataframe.h"
#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/hdf5_file.h"
#include "data/singlecell/hdf5_matrix_slicer.h"
#include "data/singlecell/open_cell_matrix.h"

namespace sigtrain::singlecell {

class AnnDataReader : public CellMatrixReader {
 public:
  AnnDataReader(const std::string& path, const OpenOptions& options);

  const CellMatrixInfo& info() const override { return info_; }
  CsrMatrix read_rows(int64_t begin, int64_t end) override { return matrix_.read_rows(begin, end); }
  std::vector<std::string> gene_names() override;
  std::vector<std::string> gene_ids() override { return var_.index(); }
  std::vector<std::string> cell_ids() override { return obs_.index(); }
  std::vector<std::string> obs_column(const std::string& name) override { return obs_.column_strings(name); }
  std::vector<std::string> var_column(const std::string& name) override { return var_.column_strings(name); }

 private:
  std::string resolve_matrix_path(const std::string& layer);
  void open_matrix(const std::string& mpath);

  h5::File file_;
  CellMatrixInfo info_;
  AnnDataFrame obs_, var_;
  Hdf5MatrixSlicer matrix_;
  std::string gene_name_column_;
};

}  // namespace sigtrain::singlecell
