#include "data/singlecell/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "data/singlecell/gene_vocab.h"
#include "common/splitmix64.h"

namespace sigtrain::singlecell {
TokenizationKind parse_tokenization_kind(const std::string& name) {
  if (name == "scgpt") return TokenizationKind::kScGPT;
  if (name == "geneformer") return TokenizationKind::kGeneformer;
  throw std::invalid_argument("unknown tokenization '" + name + "' (expected scgpt or geneformer)");
}

std::string to_string(TokenizationKind kind) { return kind == TokenizationKind::kScGPT ? "scgpt" : "geneformer"; }

std::vector<double> quantile_bin_edges(std::vector<float> values, int n_bins) {
  std::sort(values.begin(), values.end());
  const int n_edges = n_bins - 1;
  std::vector<double> edges(static_cast<size_t>(n_edges));
  const double n = static_cast<double>(values.size());
  for (int i = 0; i < n_edges; ++i) {
    const double q = n_edges == 1 ? 0.0 : static_cast<double>(i) / (n_edges - 1);
    const double pos = q * (n - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    edges[i] = values[lo] + (static_cast<double>(values[hi]) - values[lo]) * frac;
  }
  return edges;
}

int digitize_upper(double value, const std::vector<double>& edges) {
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), value) - edges.begin());
}

CellTokenizer::CellTokenizer(TokenizerOptions options, std::vector<int32_t> token_of_column,
                             std::vector<float> gene_median)
    : options_(options), token_of_column_(std::move(token_of_column)), gene_median_(std::move(gene_median)) {
  if (options_.n_bins < 3) throw std::invalid_argument("CellTokenizer: n_bins must be >= 3");
  if (options_.max_len < 2) throw std::invalid_argument("CellTokenizer: max_len must be >= 2");
  if (!gene_median_.empty() && gene_median_.size() != token_of_column_.size()) {
    throw std::invalid_argument("CellTokenizer: gene_median must have one entry per gene column");
  }
}

int64_t CellTokenizer::length_of_row(const CsrMatrix& m, int64_t r) const {
  int64_t n = 0;
  for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
    if (m.data[p] != 0.0f && token_of_column_[m.indices[p]] >= 0) ++n;
  }
  return 1 + std::min(n, options_.max_len - 1);
}

TokenizedCell CellTokenizer::tokenize_row(const CsrMatrix& m, int64_t r, int64_t cell_index) const {
  if (m.n_cols != static_cast<int64_t>(token_of_column_.size())) {
    throw std::invalid_argument("CellTokenizer: matrix has " + std::to_string(m.n_cols) + " gene columns, mapping has " +
                                std::to_string(token_of_column_.size()));
  }
  std::vector<int32_t> cols;
  std::vector<float> vals;
  for (int64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
    if (m.data[p] != 0.0f && token_of_column_[m.indices[p]] >= 0) {
      cols.push_back(m.indices[p]);
      vals.push_back(m.data[p]);
    }
  }
  const size_t keep = static_cast<size_t>(options_.max_len - 1);
  TokenizedCell out;
  out.cell = cell_index;
  out.genes.push_back(GeneVocab::kCls);
  out.values.push_back(0.0f);
  if (cols.empty()) return out;

  if (options_.kind == TokenizationKind::kScGPT) {
    const auto edges = quantile_bin_edges(vals, options_.n_bins);
    std::vector<float> bins(vals.size());
    for (size_t i = 0; i < vals.size(); ++i) bins[i] = static_cast<float>(digitize_upper(vals[i], edges));
    std::vector<size_t> pick(cols.size());
    std::iota(pick.begin(), pick.end(), 0);
    if (pick.size() > keep) {
      // partial Fisher-Yates: the first `keep` positions become a uniform sample without replacement. The
      // generator is spelled out (not std::uniform_int_distribution) so samples are the same on every platform.
      uint64_t state = splitmix64(options_.seed ^ splitmix64(static_cast<uint64_t>(cell_index)));
      for (size_t i = 0; i < keep; ++i) {
        state = splitmix64(state);
        const size_t j = i + static_cast<size_t>(state % static_cast<uint64_t>(pick.size() - i));
        std::swap(pick[i], pick[j]);
      }
      pick.resize(keep);
      std::sort(pick.begin(), pick.end());
    }
    for (size_t i : pick) {
      out.genes.push_back(token_of_column_[cols[i]]);
      out.values.push_back(bins[i]);
    }
    return out;
  }
  // Geneformer rank-value encoding.
  std::vector<double> score(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    const float med = gene_median_.empty() ? 0.0f : gene_median_[cols[i]];
    score[i] = med > 0.0f ? static_cast<double>(vals[i]) / med : vals[i];
  }
  std::vector<size_t> order(cols.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  if (order.size() > keep) order.resize(keep);
  for (size_t i : order) {
    out.genes.push_back(token_of_column_[cols[i]]);
    out.values.push_back(static_cast<float>(score[i]));
  }
  return out;
}

std::vector<TokenizedCell> CellTokenizer::tokenize_rows(const CsrMatrix& m, int64_t first_cell_index) const {
  std::vector<TokenizedCell> out;
  out.reserve(static_cast<size_t>(m.n_rows));
  for (int64_t r = 0; r < m.n_rows; ++r) out.push_back(tokenize_row(m, r, first_cell_index + r));
  return out;
}

}  // namespace sigtrain::singlecell
