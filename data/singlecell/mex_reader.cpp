#include "data/singlecell/mex_reader.h"

#include <filesystem>
#include <unordered_map>

#include "data/singlecell/format_error.h"
#include "data/singlecell/gzip_line_reader.h"
#include "data/singlecell/matrix_market.h"

namespace sigtrain::singlecell {
namespace {

namespace fs = std::filesystem;

std::string find_first(const std::string& folder, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    const fs::path p = fs::path(folder) / n;
    if (fs::exists(p)) return p.string();
  }
  return {};
}

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  GzLineReader in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (in.next(line)) {
    std::vector<std::string> f(1);
    for (char c : line) {
      if (c == '\t') f.emplace_back();
      else f.back() += c;
    }
    rows.push_back(std::move(f));
  }
  return rows;
}

}  // namespace

MexReader::MexReader(const std::string& folder) : folder_(folder) {
  info_.path = folder;
  if (!fs::is_directory(folder)) throw_format_error(folder, "", "expected a 10x MEX folder");
  const std::string mtx = find_first(folder, {"matrix.mtx.gz", "matrix.mtx"});
  const std::string features = find_first(folder, {"features.tsv.gz", "features.tsv"});
  const std::string genes = find_first(folder, {"genes.tsv.gz", "genes.tsv"});
  const std::string barcodes = find_first(folder, {"barcodes.tsv.gz", "barcodes.tsv"});
  if (mtx.empty()) throw_format_error(folder, "matrix.mtx[.gz]", "missing (expected a 10x MEX folder)");
  if (features.empty() && genes.empty()) throw_format_error(folder, "features.tsv[.gz] or genes.tsv[.gz]", "missing");
  if (barcodes.empty()) throw_format_error(folder, "barcodes.tsv[.gz]", "missing");
  const bool v3 = !features.empty();
  const std::string feat_path = v3 ? features : genes;
  info_.format = v3 ? "mex (v3)" : "mex (v2)";
  info_.matrix_path = fs::path(mtx).filename().string();

  const CooMatrix coo = read_matrix_market(mtx);
  const auto feats = read_tsv(feat_path);
  if (static_cast<int64_t>(feats.size()) != coo.n_rows) {
    throw_format_error(feat_path, "", "expected " + std::to_string(coo.n_rows) + " features (rows of " +
                                          info_.matrix_path + "), got " + std::to_string(feats.size()));
  }
  for (size_t i = 0; i < feats.size(); ++i) {
    gene_ids_.push_back(feats[i][0]);
    gene_names_.push_back(feats[i].size() > 1 ? feats[i][1] : feats[i][0]);
    feature_types_.push_back(feats[i].size() > 2 ? feats[i][2] : "Gene Expression");
  }
  for (auto& row : read_tsv(barcodes)) barcodes_.push_back(row[0]);
  if (static_cast<int64_t>(barcodes_.size()) != coo.n_cols) {
    throw_format_error(barcodes, "", "expected " + std::to_string(coo.n_cols) + " barcodes (columns of " +
                                         info_.matrix_path + "), got " + std::to_string(barcodes_.size()));
  }
  // features x barcodes COO -> cells x genes CSR (counting sort by cell, then by gene within a cell).
  matrix_.n_rows = coo.n_cols;
  matrix_.n_cols = coo.n_rows;
  matrix_.indptr.assign(static_cast<size_t>(matrix_.n_rows + 1), 0);
  for (int32_t c : coo.col) ++matrix_.indptr[c + 1];
  for (int64_t r = 0; r < matrix_.n_rows; ++r) matrix_.indptr[r + 1] += matrix_.indptr[r];
  std::vector<int64_t> fill(matrix_.indptr.begin(), matrix_.indptr.end() - 1);
  matrix_.indices.resize(coo.row.size());
  matrix_.data.resize(coo.row.size());
  for (size_t k = 0; k < coo.row.size(); ++k) {
    const int64_t p = fill[coo.col[k]]++;
    matrix_.indices[p] = coo.row[k];
    matrix_.data[p] = coo.value[k];
  }
  matrix_.sort_row_indices();

  info_.n_cells = matrix_.n_rows;
  info_.n_genes = matrix_.n_cols;
  info_.nnz = matrix_.nnz();
  info_.encoding = "coordinate (features x barcodes, text)";
  info_.dtype = coo.field;
  info_.var_columns = {{"id", "string", 0}, {"name", "string", 0}};
  if (v3) info_.var_columns.push_back({"feature_type", "string", 0});

  obs_path_ = find_first(folder, {"obs.csv", "obs.csv.gz"});
  if (!obs_path_.empty()) {
    obs_ = read_csv_table(obs_path_);
    for (const auto& h : obs_.header) info_.obs_columns.push_back({h, "string", 0});
  }
}

CsrMatrix MexReader::read_rows(int64_t begin, int64_t end) {
  if (begin < 0 || end < begin || end > info_.n_cells) {
    throw_format_error(folder_, "", "cell range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                        ") outside the " + std::to_string(info_.n_cells) + " cells");
  }
  return matrix_.rows(begin, end);
}

std::vector<std::string> MexReader::obs_column(const std::string& name) {
  if (obs_path_.empty()) {
    throw_format_error(folder_, "obs.csv", "no per-cell columns: the folder has no obs.csv (asked for '" + name + "')");
  }
  size_t j = 0;
  while (j < obs_.header.size() && obs_.header[j] != name) ++j;
  if (j == obs_.header.size()) {
    std::string list;
    for (const auto& h : obs_.header) list += (list.empty() ? "" : ", ") + h;
    throw_format_error(obs_path_, "", "no column '" + name + "' (columns: " + list + ")");
  }
  std::unordered_map<std::string, size_t> row_of;
  for (size_t i = 0; i < obs_.index.size(); ++i) row_of.emplace(obs_.index[i], i);
  std::vector<std::string> out;
  out.reserve(barcodes_.size());
  for (const auto& b : barcodes_) {
    auto it = row_of.find(b);
    if (it == row_of.end()) throw_format_error(obs_path_, "", "no row for barcode '" + b + "'");
    out.push_back(obs_.columns[j][it->second]);
  }
  return out;
}

std::vector<std::string> MexReader::var_column(const std::string& name) {
  if (name == "id") return gene_ids_;
  if (name == "name") return gene_names_;
  if (name == "feature_type") return feature_types_;
  throw_format_error(folder_, "", "no var column '" + name + "' (columns: id, name, feature_type)");
}

}  // namespace sigtrain::singlecell
