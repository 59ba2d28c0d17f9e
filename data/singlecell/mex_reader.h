#pragma once
// 10x MEX folder reader. v3 (Cell Ranger >= 3): matrix.mtx.gz, features.tsv.gz (id, name, feature_type),
// barcodes.tsv.gz. v2 (Cell Ranger 2): matrix.mtx, genes.tsv (id, name), barcodes.tsv. Each file may be plain or
// gzip'd. The matrix is features x barcodes; it is returned as cells x genes. An optional obs.csv[.gz] in the same
// folder (header "barcode,col1,...") supplies per-cell columns; its rows are matched to the barcodes by name.
// MatrixMarket text has no random access, so the folder is parsed once at open and held in memory as CSR (convert
// large MEX data to .h5ad to stream it).
#include <string>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/obs_csv.h"

namespace sigtrain::singlecell {

class MexReader : public CellMatrixReader {
 public:
  explicit MexReader(const std::string& folder);

  const CellMatrixInfo& info() const override { return info_; }
  CsrMatrix read_rows(int64_t begin, int64_t end) override;
  std::vector<std::string> gene_names() override { return gene_names_; }
  std::vector<std::string> gene_ids() override { return gene_ids_; }
  std::vector<std::string> cell_ids() override { return barcodes_; }
  std::vector<std::string> obs_column(const std::string& name) override;
  std::vector<std::string> var_column(const std::string& name) override;

 private:
  std::string folder_;
  CellMatrixInfo info_;
  CsrMatrix matrix_;
  std::vector<std::string> gene_ids_, gene_names_, feature_types_, barcodes_;
  CsvTable obs_;
  std::string obs_path_;
};

}  // namespace sigtrain::singlecell
