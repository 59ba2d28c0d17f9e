#include "data/singlecell/anndata_reader.h"

namespace sigtrain::singlecell {

AnnDataReader::AnnDataReader(const std::string& path, const OpenOptions& options)
    : file_(path), gene_name_column_(options.gene_name_column) {
  info_.path = path;
  const bool modern = file_.attr_string("/", "encoding-type").value_or("") == "anndata";
  const bool compound = file_.is_dataset("/obs");
  info_.format = modern ? "h5ad" : compound ? "h5ad (anndata < 0.7, compound obs/var)" : "h5ad (anndata 0.7 legacy)";
  if (file_.kind("/obs") == h5::ObjectKind::kNone) file_.fail("/obs", "expected the obs dataframe, found none");

  if (file_.is_group("/layers")) info_.layers = file_.children("/layers");
  if (file_.kind("/raw/X") != h5::ObjectKind::kNone || file_.kind("/raw.X") != h5::ObjectKind::kNone) {
    info_.layers.push_back("raw");
  }
  const std::string mpath = resolve_matrix_path(options.layer);
  const bool raw = mpath == "/raw/X" || mpath == "/raw.X";
  obs_ = AnnDataFrame(&file_, "/obs");
  std::string var_path = "/var";
  if (raw) var_path = file_.kind("/raw/var") != h5::ObjectKind::kNone ? "/raw/var" : "/raw.var";
  var_ = AnnDataFrame(&file_, var_path);
  open_matrix(mpath);

  if (obs_.n_rows() != info_.n_cells) {
    file_.fail(obs_.path(), "expected n_obs = " + std::to_string(info_.n_cells) + " rows (from " + mpath +
                                "), got " + std::to_string(obs_.n_rows()));
  }
  if (var_.n_rows() != info_.n_genes) {
    file_.fail(var_.path(), "expected n_var = " + std::to_string(info_.n_genes) + " rows (from " + mpath +
                                "), got " + std::to_string(var_.n_rows()));
  }
  if (!gene_name_column_.empty() && !var_.has_column(gene_name_column_)) var_.column_info(gene_name_column_);
  info_.obs_columns = obs_.columns_info();
  info_.var_columns = var_.columns_info();
}

std::string AnnDataReader::resolve_matrix_path(const std::string& layer) {
  if (layer.empty() || layer == "X") return "/X";
  if (layer == "raw") {
    if (file_.kind("/raw/X") != h5::ObjectKind::kNone) return "/raw/X";
    if (file_.kind("/raw.X") != h5::ObjectKind::kNone) return "/raw.X";
    file_.fail("/raw/X", "layer 'raw' requested but the file has no raw matrix");
  }
  const std::string p = "/layers/" + layer;
  if (file_.kind(p) == h5::ObjectKind::kNone) {
    std::string list;
    for (const auto& l : info_.layers) list += (list.empty() ? "" : ", ") + l;
    file_.fail(p, "layer '" + layer + "' not found (layers: " + (list.empty() ? "none" : list) + ")");
  }
  return p;
}

void AnnDataReader::open_matrix(const std::string& mpath) {
  info_.matrix_path = mpath;
  const auto kind = file_.kind(mpath);
  if (kind == h5::ObjectKind::kNone) file_.fail(mpath, "expected the expression matrix, found none");
  if (kind == h5::ObjectKind::kDataset) {
    matrix_ = Hdf5MatrixSlicer::dense(&file_, mpath);
    info_.encoding = "dense";
  } else {
    std::string enc = file_.attr_string(mpath, "encoding-type").value_or("");
    std::vector<int64_t> shape;
    if (enc.empty() && file_.has_attr(mpath, "h5sparse_format")) {  // anndata < 0.7
      enc = file_.attr_string(mpath, "h5sparse_format").value_or("") + "_matrix";
      if (file_.has_attr(mpath, "h5sparse_shape")) shape = file_.attr_ints(mpath, "h5sparse_shape");
    } else if (file_.has_attr(mpath, "shape")) {
      shape = file_.attr_ints(mpath, "shape");
    }
    if (enc != "csr_matrix" && enc != "csc_matrix") {
      file_.fail(mpath, "expected attribute encoding-type = csr_matrix or csc_matrix (or a dense 2-D dataset), got '" +
                            enc + "'");
    }
    if (shape.size() != 2) file_.fail(mpath, "expected attribute shape = [n_obs, n_var] (2 integers)");
    const bool csr = enc == "csr_matrix";
    matrix_ = Hdf5MatrixSlicer::sparse(&file_, mpath,
                                       csr ? Hdf5MatrixSlicer::Layout::kCellsMajor : Hdf5MatrixSlicer::Layout::kGenesMajor,
                                       shape[0], shape[1], csr ? "n_obs" : "n_var");
    info_.encoding = csr ? "csr" : "csc";
    info_.index_dtype = matrix_.index_dtype();
  }
  info_.n_cells = matrix_.n_cells();
  info_.n_genes = matrix_.n_genes();
  info_.dtype = matrix_.dtype();
  info_.nnz = matrix_.count_nonzero();
}

std::vector<std::string> AnnDataReader::gene_names() {
  if (gene_name_column_.empty()) return var_.index();
  return var_.column_strings(gene_name_column_);
}

}  // namespace sigtrain::singlecell
