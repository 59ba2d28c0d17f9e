#include "data/singlecell/tenx_h5_reader.h"

namespace sigtrain::singlecell {

TenxH5Reader::TenxH5Reader(const std::string& path) : file_(path) {
  info_.path = path;
  if (file_.is_group("/matrix")) {
    group_ = "/matrix";
    info_.format = "10x_h5 (Cell Ranger v3)";
  } else {
    for (const auto& c : file_.children("/")) {
      if (file_.is_group("/" + c) && file_.is_dataset("/" + c + "/indptr") && file_.is_dataset("/" + c + "/barcodes")) {
        group_ = "/" + c;
        v3_ = false;
        info_.format = "10x_h5 (Cell Ranger v2, genome " + c + ")";
        break;
      }
    }
    if (group_.empty()) {
      file_.fail("/matrix", "expected a 10x feature-barcode matrix group (/matrix, or /<genome> for Cell Ranger 2)");
    }
  }
  const std::string shape_path = group_ + "/shape";
  if (!file_.is_dataset(shape_path)) file_.fail(shape_path, "expected a dataset [n_features, n_barcodes]");
  const auto shape = file_.read_all<int64_t>(shape_path);
  if (shape.size() != 2) file_.fail(shape_path, "expected 2 integers [n_features, n_barcodes], got " +
                                                    std::to_string(shape.size()));
  // CSC features x barcodes == CSR barcodes x features.
  matrix_ = Hdf5MatrixSlicer::sparse(&file_, group_, Hdf5MatrixSlicer::Layout::kCellsMajor, shape[1], shape[0],
                                     "n_barcodes");
  info_.matrix_path = group_;
  info_.encoding = "csr";
  info_.n_cells = shape[1];
  info_.n_genes = shape[0];
  info_.nnz = matrix_.stored_entries();
  info_.dtype = matrix_.dtype();
  info_.index_dtype = matrix_.index_dtype();
  if (v3_) {
    for (const char* c : {"id", "name", "feature_type", "genome"}) {
      const std::string p = group_ + "/features/" + c;
      if (file_.is_dataset(p)) info_.var_columns.push_back({c, file_.dataset_info(p).type.name(), 0});
    }
  } else {
    for (const char* c : {"genes", "gene_names"}) {
      const std::string p = group_ + "/" + c;
      if (file_.is_dataset(p)) info_.var_columns.push_back({c, file_.dataset_info(p).type.name(), 0});
    }
  }
  const std::string bc = group_ + "/barcodes";
  if (!file_.is_dataset(bc) || file_.dataset_info(bc).length() != info_.n_cells) {
    file_.fail(bc, "expected a string dataset of length n_barcodes = " + std::to_string(info_.n_cells));
  }
}

std::vector<std::string> TenxH5Reader::checked_strings(const std::string& dset, int64_t n) const {
  if (!file_.is_dataset(dset)) file_.fail(dset, "expected a string dataset of length " + std::to_string(n));
  auto v = file_.read_strings(dset);
  if (static_cast<int64_t>(v.size()) != n) {
    file_.fail(dset, "expected " + std::to_string(n) + " strings, got " + std::to_string(v.size()));
  }
  return v;
}

std::vector<std::string> TenxH5Reader::gene_names() {
  return checked_strings(v3_ ? group_ + "/features/name" : group_ + "/gene_names", info_.n_genes);
}

std::vector<std::string> TenxH5Reader::gene_ids() {
  return checked_strings(v3_ ? group_ + "/features/id" : group_ + "/genes", info_.n_genes);
}

std::vector<std::string> TenxH5Reader::obs_column(const std::string& name) {
  file_.fail(group_, "10x HDF5 files carry no per-cell columns (asked for '" + name +
                         "'); convert to .h5ad with the labels in obs, or use a MEX folder with obs.csv");
}

std::vector<std::string> TenxH5Reader::var_column(const std::string& name) {
  const std::string p = v3_ ? group_ + "/features/" + name : group_ + "/" + name;
  return checked_strings(p, info_.n_genes);
}

}  // namespace sigtrain::singlecell
