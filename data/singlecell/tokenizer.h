#pragma once
// Cell -> token sequence, in the two conventions of the field. A sequence is [<cls>, gene tokens...]; its length
// is the cell's own (no padding here), at most max_len (the <cls> included).
//
// scGPT ("scgpt"): the cell's non-zero genes that the vocabulary knows become gene tokens in gene-column order;
//   their values (the preprocessed expression, normally log1p of total-normalised counts) are binned per cell:
//   edges = quantiles of the cell's non-zero values at linspace(0, 1, n_bins - 1) (numpy's default linear
//   quantile), bin = number of edges <= value (numpy.digitize, right=False), so bins run 1 .. n_bins-1 and 0 is
//   left for <cls>/padding/zero. scGPT breaks ties between the left and right digitize results at random; we
//   take the upper one, deterministically. The bins are computed over all the cell's mapped non-zero genes; when
//   more than max_len-1 remain, max_len-1 of them are sampled uniformly without replacement (as scGPT's collator
//   does) by a generator seeded with (seed, cell index), and kept in gene-column order.
// Geneformer ("geneformer"): rank-value encoding. score = normalised expression / the gene's median non-zero
//   normalised expression over the dataset (a gene with median 0 is not divided); genes are ordered by score,
//   descending (ties: lower gene column first), and the first max_len-1 are kept. `values` carry the scores.
#include <cstdint>
#include <string>
#include <vector>

#include "data/singlecell/csr_matrix.h"

namespace sigtrain::singlecell {

enum class TokenizationKind { kScGPT, kGeneformer };
TokenizationKind parse_tokenization_kind(const std::string& name);  // "scgpt" | "geneformer"
std::string to_string(TokenizationKind kind);

struct TokenizerOptions {
  TokenizationKind kind = TokenizationKind::kScGPT;
  int n_bins = 51;        // scGPT: value bins 0 .. n_bins-1 (0 = <cls>/pad/zero); >= 3
  int64_t max_len = 2048;  // tokens per cell including <cls>; >= 2
  uint64_t seed = 0;
};

struct TokenizedCell {
  int64_t cell = -1;            // row index in the dataset
  std::vector<int32_t> genes;   // token ids; genes[0] = GeneVocab::kCls
  std::vector<float> values;    // scGPT: bin id (0 for <cls>); Geneformer: score (0 for <cls>)
  int64_t length() const { return static_cast<int64_t>(genes.size()); }
};

// Bin edges and digitisation of one cell's non-zero values (exposed for tests).
std::vector<double> quantile_bin_edges(std::vector<float> values, int n_bins);
int digitize_upper(double value, const std::vector<double>& edges);

class CellTokenizer {
 public:
  // token_of_column: per gene column of the matrix, its token id or -1 (dropped). gene_median: per column, the
  // non-zero median of normalised expression (Geneformer only; empty = no division).
  CellTokenizer(TokenizerOptions options, std::vector<int32_t> token_of_column, std::vector<float> gene_median = {});

  const TokenizerOptions& options() const { return options_; }
  // Row `r` of `m` (values already preprocessed: scGPT expects log1p(normalised), Geneformer normalised counts).
  TokenizedCell tokenize_row(const CsrMatrix& m, int64_t r, int64_t cell_index) const;
  std::vector<TokenizedCell> tokenize_rows(const CsrMatrix& m, int64_t first_cell_index) const;
  // The sequence length tokenize_row would produce, without building it.
  int64_t length_of_row(const CsrMatrix& m, int64_t r) const;

 private:
  TokenizerOptions options_;
  std::vector<int32_t> token_of_column_;
  std::vector<float> gene_median_;
};

}  // namespace sigtrain::singlecell
