#include "data/singlecell/hdf5_matrix_slicer.h"

#include <algorithm>

namespace sigtrain::singlecell {
namespace {

std::string len_text(const h5::DatasetInfo& info) {
  if (info.dims.size() != 1) return "rank " + std::to_string(info.dims.size());
  return "length " + std::to_string(info.dims[0]);
}

}  // namespace

Hdf5MatrixSlicer Hdf5MatrixSlicer::sparse(const h5::File* file, const std::string& group, Layout layout,
                                          int64_t n_cells, int64_t n_genes, const std::string& major_name) {
  Hdf5MatrixSlicer s;
  s.file_ = file;
  s.path_ = group;
  s.layout_ = layout;
  s.n_cells_ = n_cells;
  s.n_genes_ = n_genes;
  if (n_cells < 0 || n_genes < 0) file->fail(group, "negative shape");
  if (n_genes >= (int64_t{1} << 31) && layout == Layout::kCellsMajor) file->fail(group, "more than 2^31 genes");
  for (const char* name : {"data", "indices", "indptr"}) {
    if (!file->is_dataset(group + "/" + name)) {
      file->fail(group + "/" + name, "expected a 1-D dataset (sparse matrix component), found none");
    }
  }
  const auto data = file->dataset_info(group + "/data");
  const auto indices = file->dataset_info(group + "/indices");
  const auto indptr = file->dataset_info(group + "/indptr");
  if (data.dims.size() != 1 || !data.type.is_numeric()) {
    file->fail(group + "/data", "expected 1-D numeric dataset, got " + data.type.name() + " " + len_text(data));
  }
  const int64_t major = layout == Layout::kCellsMajor ? n_cells : n_genes;
  if (indptr.dims.size() != 1 || indptr.type.type_class != H5T_INTEGER || indptr.dims[0] != major + 1) {
    file->fail(group + "/indptr", "expected 1-D integer dataset of length " + major_name + "+1 = " +
                                      std::to_string(major + 1) + ", got " + indptr.type.name() + " " +
                                      len_text(indptr));
  }
  if (indices.dims.size() != 1 || indices.type.type_class != H5T_INTEGER || indices.dims[0] != data.dims[0]) {
    file->fail(group + "/indices", "expected 1-D integer dataset of the length of data = " +
                                       std::to_string(data.dims[0]) + ", got " + indices.type.name() + " " +
                                       len_text(indices));
  }
  s.stored_ = data.dims[0];
  const auto first = file->read<int64_t>(group + "/indptr", 0, 1);
  const auto last = file->read<int64_t>(group + "/indptr", major, 1);
  if (first[0] != 0 || last[0] != s.stored_) {
    file->fail(group + "/indptr", "expected indptr[0] = 0 and indptr[" + major_name + "] = nnz = " +
                                      std::to_string(s.stored_) + ", got " + std::to_string(first[0]) + " and " +
                                      std::to_string(last[0]));
  }
  s.dtype_ = data.type.name();
  s.index_dtype_ = indices.type.name();
  return s;
}

Hdf5MatrixSlicer Hdf5MatrixSlicer::dense(const h5::File* file, const std::string& dataset) {
  Hdf5MatrixSlicer s;
  s.file_ = file;
  s.path_ = dataset;
  s.layout_ = Layout::kDense;
  const auto info = file->dataset_info(dataset);
  if (info.dims.size() != 2 || !info.type.is_numeric()) {
    file->fail(dataset, "expected a 2-D numeric dataset [n_obs, n_var], got " + info.type.name() + " of rank " +
                            std::to_string(info.dims.size()));
  }
  s.n_cells_ = info.dims[0];
  s.n_genes_ = info.dims[1];
  s.stored_ = s.n_cells_ * s.n_genes_;
  s.dtype_ = info.type.name();
  return s;
}

int64_t Hdf5MatrixSlicer::count_nonzero() const {
  if (layout_ != Layout::kDense) return stored_;
  int64_t nnz = 0;
  const int64_t step = std::max<int64_t>(1, chunk_entries / std::max<int64_t>(1, n_genes_));
  for (int64_t r = 0; r < n_cells_; r += step) {
    const auto rows = file_->read_rows_2d(path_, r, std::min(n_cells_, r + step));
    nnz += std::count_if(rows.begin(), rows.end(), [](float v) { return v != 0.0f; });
  }
  return nnz;
}

CsrMatrix Hdf5MatrixSlicer::read_rows(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > n_cells_) {
    file_->fail(path_, "cell range [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside the " +
                           std::to_string(n_cells_) + " cells");
  }
  switch (layout_) {
    case Layout::kCellsMajor: return read_cells_major(begin, end);
    case Layout::kGenesMajor: return read_genes_major(begin, end);
    default: return read_dense(begin, end);
  }
}

CsrMatrix Hdf5MatrixSlicer::read_cells_major(int64_t begin, int64_t end) const {
  const std::string ip_path = path_ + "/indptr";
  const auto ip = file_->read<int64_t>(ip_path, begin, end - begin + 1);
  for (size_t i = 1; i < ip.size(); ++i) {
    if (ip[i] < ip[i - 1] || ip[i] > stored_) {
      file_->fail(ip_path, "expected non-decreasing offsets within [0, " + std::to_string(stored_) + "], got " +
                               std::to_string(ip[i - 1]) + " then " + std::to_string(ip[i]) + " at entry " +
                               std::to_string(begin + static_cast<int64_t>(i)));
    }
  }
  CsrMatrix m;
  m.n_rows = end - begin;
  m.n_cols = n_genes_;
  m.indptr.resize(ip.size());
  for (size_t i = 0; i < ip.size(); ++i) m.indptr[i] = ip[i] - ip[0];
  const int64_t p0 = ip.front(), n = ip.back() - ip.front();
  m.indices = file_->read<int32_t>(path_ + "/indices", p0, n);
  m.data = file_->read<float>(path_ + "/data", p0, n);
  for (int64_t p = 0; p < n; ++p) {
    if (m.indices[p] < 0 || m.indices[p] >= n_genes_) {
      file_->fail(path_ + "/indices", "entry " + std::to_string(p0 + p) + " = " + std::to_string(m.indices[p]) +
                                          " is outside [0, " + std::to_string(n_genes_) + ")");
    }
  }
  m.sort_row_indices();
  return m;
}

CsrMatrix Hdf5MatrixSlicer::read_genes_major(int64_t begin, int64_t end) const {
  const auto ip = file_->read_all<int64_t>(path_ + "/indptr");
  std::vector<std::vector<std::pair<int32_t, float>>> rows(static_cast<size_t>(end - begin));
  int64_t g = 0;
  for (int64_t p0 = 0; p0 < stored_; p0 += chunk_entries) {
    const int64_t p1 = std::min(stored_, p0 + chunk_entries);
    const auto idx = file_->read<int64_t>(path_ + "/indices", p0, p1 - p0);
    const auto val = file_->read<float>(path_ + "/data", p0, p1 - p0);
    for (int64_t p = p0; p < p1; ++p) {
      while (g < n_genes_ && ip[g + 1] <= p) ++g;
      const int64_t r = idx[p - p0];
      if (r < 0 || r >= n_cells_) {
        file_->fail(path_ + "/indices", "entry " + std::to_string(p) + " = " + std::to_string(r) +
                                            " is outside [0, " + std::to_string(n_cells_) + ")");
      }
      if (r >= begin && r < end) rows[r - begin].emplace_back(static_cast<int32_t>(g), val[p - p0]);
    }
  }
  CsrMatrix m;
  m.n_rows = end - begin;
  m.n_cols = n_genes_;
  for (auto& row : rows) {
    // genes arrive in increasing order; within a gene a row appears once
    for (const auto& [c, v] : row) {
      m.indices.push_back(c);
      m.data.push_back(v);
    }
    m.indptr.push_back(m.nnz());
  }
  return m;
}

CsrMatrix Hdf5MatrixSlicer::read_dense(int64_t begin, int64_t end) const {
  CsrMatrix m;
  m.n_rows = end - begin;
  m.n_cols = n_genes_;
  const int64_t step = std::max<int64_t>(1, chunk_entries / std::max<int64_t>(1, n_genes_));
  for (int64_t r = begin; r < end; r += step) {
    const int64_t r1 = std::min(end, r + step);
    const auto vals = file_->read_rows_2d(path_, r, r1);
    for (int64_t i = 0; i < r1 - r; ++i) {
      for (int64_t c = 0; c < n_genes_; ++c) {
        const float v = vals[i * n_genes_ + c];
        if (v != 0.0f) {
          m.indices.push_back(static_cast<int32_t>(c));
          m.data.push_back(v);
        }
      }
      m.indptr.push_back(m.nnz());
    }
  }
  return m;
}

}  // namespace sigtrain::singlecell
