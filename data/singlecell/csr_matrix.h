#pragma once
// Compressed sparse rows, cells x genes: the common in-memory result of every reader (one row range at a time).
#include <cstdint>
#include <vector>

namespace sigtrain::singlecell {

struct CsrMatrix {
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  std::vector<int64_t> indptr{0};  // n_rows + 1 entries, indptr[0] == 0
  std::vector<int32_t> indices;    // column (gene) of each stored value, ascending within a row
  std::vector<float> data;         // stored values (explicit zeros are kept as read)

  int64_t nnz() const { return static_cast<int64_t>(data.size()); }
  int64_t row_nnz(int64_t r) const { return indptr[r + 1] - indptr[r]; }
  double sum() const;                    // in double precision
  CsrMatrix rows(int64_t begin, int64_t end) const;  // copy of rows [begin, end)
  void append_rows(const CsrMatrix& other);           // vertical concatenation; same n_cols
  std::vector<float> dense_row(int64_t r) const;      // length n_cols
  void sort_row_indices();                            // sorts (index, value) pairs within every row
};

}  // namespace sigtrain::singlecell
