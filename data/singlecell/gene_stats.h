#pragma once
// Dataset-wide per-gene statistics, accumulated one slice of cells at a time (one streaming pass), and the two
// things built from them: the highly-variable-gene selection and the Geneformer per-gene medians.
#include <cstdint>
#include <vector>

#include "data/singlecell/csr_matrix.h"

namespace sigtrain::singlecell {

class GeneStatsAccumulator {
 public:
  // `median_sample_cap`: per gene, at most this many non-zero values are kept (reservoir sampling, seeded) for the
  // non-zero median; medians are exact for genes with at most that many non-zero cells. 0 disables medians.
  GeneStatsAccumulator(int64_t n_genes, int64_t median_sample_cap, uint64_t seed);

  // Adds cells; pass total-count-normalised values (NOT log1p), see select_highly_variable_genes.
  void add(const CsrMatrix& normalized);

  int64_t n_cells() const { return n_cells_; }
  int64_t n_genes() const { return static_cast<int64_t>(sum_.size()); }
  std::vector<double> mean() const;
  std::vector<double> variance() const;  // unbiased (ddof = 1), over all cells including zeros
  const std::vector<int64_t>& nonzero_cells() const { return nonzero_; }
  // Median over the cells where the gene is non-zero; 0 for genes never expressed (or medians disabled).
  std::vector<float> nonzero_median() const;

 private:
  int64_t n_cells_ = 0;
  std::vector<double> sum_, sumsq_;
  std::vector<int64_t> nonzero_;
  int64_t cap_;
  uint64_t rng_;
  std::vector<std::vector<float>> reservoir_;
};

// Seurat-flavour highly variable genes on log data, as scanpy's highly_variable_genes(flavor="seurat",
// n_top_genes=k) computes them. Inputs are the per-gene mean and variance (ddof 1) of the normalised counts
// expm1(log1p data) = total-count-normalised values:
//   mean <- mean (0 replaced by 1e-12); dispersion = var / mean (0 -> NaN); dispersion <- ln(dispersion);
//   mean_log = ln(1 + mean); genes are cut into n_bins equal-width bins of mean_log (right-closed intervals, like
//   pandas.cut); within a bin, dispersion_norm = (dispersion - bin mean) / bin std (ddof 1) over the genes with a
//   finite dispersion; a bin with fewer than 2 such genes gives dispersion_norm = 1 for its genes (scanpy's
//   one-gene-per-bin rule). The top_k genes by dispersion_norm are returned (genes with NaN dispersion last,
//   ties to the lower gene index), as ascending gene indices. top_k >= n_genes returns every gene.
std::vector<int32_t> select_highly_variable_genes(const std::vector<double>& mean, const std::vector<double>& variance,
                                                  int64_t top_k, int n_bins = 20,
                                                  std::vector<double>* dispersion_norm_out = nullptr);

}  // namespace sigtrain::singlecell
