#pragma once
// Per-cell preprocessing, applied to each slice as it is read (it needs no dataset-wide state):
//   normalize_total: x_ij <- x_ij / sum_j x_ij * target_sum  (cells whose total is 0 are left as they are);
//                    the total runs over ALL genes of the file, before any gene selection (like scanpy's
//                    normalize_total + highly_variable_genes on the full matrix).
//   log1p:           x_ij <- ln(1 + x_ij).
#include "data/singlecell/csr_matrix.h"

namespace sigtrain::singlecell {

struct NormalizeOptions {
  bool normalize = true;
  double target_sum = 1e4;
  bool log1p = true;
};

void normalize_total(CsrMatrix& m, double target_sum);
void log1p_inplace(CsrMatrix& m);
void preprocess_rows(CsrMatrix& m, const NormalizeOptions& options);  // normalize_total (if on), then log1p (if on)

}  // namespace sigtrain::singlecell
