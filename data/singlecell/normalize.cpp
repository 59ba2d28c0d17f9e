#include "data/singlecell/normalize.h"

#include <cmath>

namespace sigtrain::singlecell {

void normalize_total(CsrMatrix& m, double target_sum) {
  for (int64_t r = 0; r < m.n_rows; ++r) {
    double total = 0.0;
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) total += m.data[p];
    if (total <= 0.0) continue;
    const double scale = target_sum / total;
    for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) m.data[p] = static_cast<float>(m.data[p] * scale);
  }
}

void log1p_inplace(CsrMatrix& m) {
  for (float& v : m.data) v = static_cast<float>(std::log1p(static_cast<double>(v)));
}

void preprocess_rows(CsrMatrix& m, const NormalizeOptions& options) {
  if (options.normalize) normalize_total(m, options.target_sum);
  if (options.log1p) log1p_inplace(m);
}

}  // namespace sigtrain::singlecell
