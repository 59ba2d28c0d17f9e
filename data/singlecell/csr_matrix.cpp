#include "data/singlecell/csr_matrix.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace sigtrain::singlecell {

double CsrMatrix::sum() const {
  double s = 0.0;
  for (float v : data) s += v;
  return s;
}

CsrMatrix CsrMatrix::rows(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > n_rows) throw std::out_of_range("CsrMatrix::rows: bad row range");
  CsrMatrix out;
  out.n_rows = end - begin;
  out.n_cols = n_cols;
  const int64_t p0 = indptr[begin], p1 = indptr[end];
  out.indptr.resize(out.n_rows + 1);
  for (int64_t r = 0; r <= out.n_rows; ++r) out.indptr[r] = indptr[begin + r] - p0;
  out.indices.assign(indices.begin() + p0, indices.begin() + p1);
  out.data.assign(data.begin() + p0, data.begin() + p1);
  return out;
}

void CsrMatrix::append_rows(const CsrMatrix& other) {
  if (n_rows == 0 && indices.empty()) n_cols = other.n_cols;
  if (other.n_cols != n_cols) throw std::invalid_argument("CsrMatrix::append_rows: column counts differ");
  const int64_t base = nnz();
  for (int64_t r = 1; r <= other.n_rows; ++r) indptr.push_back(base + other.indptr[r]);
  indices.insert(indices.end(), other.indices.begin(), other.indices.end());
  data.insert(data.end(), other.data.begin(), other.data.end());
  n_rows += other.n_rows;
}

std::vector<float> CsrMatrix::dense_row(int64_t r) const {
  std::vector<float> out(static_cast<size_t>(n_cols), 0.0f);
  for (int64_t p = indptr[r]; p < indptr[r + 1]; ++p) out[indices[p]] += data[p];
  return out;
}

void CsrMatrix::sort_row_indices() {
  std::vector<int64_t> order;
  std::vector<int32_t> idx;
  std::vector<float> val;
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t p0 = indptr[r], p1 = indptr[r + 1];
    if (std::is_sorted(indices.begin() + p0, indices.begin() + p1)) continue;
    order.resize(p1 - p0);
    std::iota(order.begin(), order.end(), p0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return indices[a] < indices[b]; });
    idx.clear();
    val.clear();
    for (int64_t p : order) {
      idx.push_back(indices[p]);
      val.push_back(data[p]);
    }
    std::copy(idx.begin(), idx.end(), indices.begin() + p0);
    std::copy(val.begin(), val.end(), data.begin() + p0);
  }
}

}  // namespace sigtrain::singlecell
