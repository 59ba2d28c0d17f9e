#pragma once
// AnnData obs/var data frames in all three on-disk encodings:
//   * modern (anndata >= 0.8): a group, attrs _index and column-order; categorical columns are groups with
//     codes + categories (encoding-type "categorical"); nullable columns are groups with values + mask;
//   * legacy (anndata 0.7): a group; categorical columns are integer code datasets whose attribute `categories` is
//     an HDF5 object reference to <df>/__categories/<col>;
//   * ancient (anndata < 0.7, e.g. scanpy's pbmc68k_reduced): one compound dataset whose field "index" is the
//     index; categorical fields are integer codes with categories in /uns/<col>_categories.
#include <string>
#include <vector>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/hdf5_file.h"

namespace sigtrain::singlecell {

class AnnDataFrame {
 public:
  AnnDataFrame() = default;
  // `path` is the group or compound dataset ("/obs", "/raw/var", "/raw.var").
  AnnDataFrame(const h5::File* file, std::string path);

  const std::string& path() const { return path_; }
  int64_t n_rows() const;
  std::vector<std::string> index() const;
  const std::vector<std::string>& column_names() const { return columns_; }
  bool has_column(const std::string& name) const;
  ColumnInfo column_info(const std::string& name) const;
  std::vector<ColumnInfo> columns_info() const;
  // One string per row (see CellMatrixReader::obs_column).
  std::vector<std::string> column_strings(const std::string& name) const;

 private:
  std::string column_path(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> categorical_strings(const std::vector<double>& codes, const std::string& categories_path,
                                               const std::string& where) const;
  std::vector<std::string> dataset_strings(const std::string& dset) const;
  [[noreturn]] void missing_column(const std::string& name) const;

  const h5::File* file_ = nullptr;
  std::string path_;
  bool compound_ = false;
  std::string index_name_;
  std::vector<std::string> columns_;
};

// Text of a number as a label: integers without decimals, others with up to 9 significant digits.
std::string number_to_label(double v);

}  // namespace sigtrain::singlecell
