#include "data/singlecell/singlecell_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "data/singlecell/gene_stats.h"
#include "data/singlecell/label_order.h"
#include "data/singlecell/open_cell_matrix.h"

namespace sigtrain::singlecell {

std::string PrepareSummary::to_text() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%lld cells; genes: %lld in file, %lld selected, %lld in vocabulary (%lld unknown, %lld duplicate "
                "names dropped); tokens: %lld total, mean length %.1f, max %lld; %lld cells without genes",
                static_cast<long long>(n_cells), static_cast<long long>(n_genes_in_file),
                static_cast<long long>(n_genes_selected), static_cast<long long>(n_genes_mapped),
                static_cast<long long>(n_genes_unknown), static_cast<long long>(n_genes_duplicate),
                static_cast<long long>(total_tokens), mean_length, static_cast<long long>(max_length),
                static_cast<long long>(n_cells_empty));
  return buf;
}

CsrMatrix SingleCellDataset::read_raw(int64_t begin, int64_t end) const {
  return cache_ ? cache_->rows(begin, end) : reader_->read_rows(begin, end);
}

CsrMatrix SingleCellDataset::read_preprocessed(int64_t begin, int64_t end) const {
  CsrMatrix m = read_raw(begin, end);
  NormalizeOptions o;
  o.normalize = config_.normalize;
  o.target_sum = config_.target_sum;
  // Geneformer ranks normalised counts; log1p would change the ratio to the gene median.
  o.log1p = config_.log1p && config_.tokenization == "scgpt";
  preprocess_rows(m, o);
  return m;
}

std::unique_ptr<SingleCellDataset> SingleCellDataset::prepare(const SingleCellDataConfig& config) {
  std::unique_ptr<SingleCellDataset> ds(new SingleCellDataset());
  ds->config_ = config;
  OpenOptions oo;
  oo.format = config.format;
  oo.layer = config.layer;
  oo.gene_name_column = config.gene_name_column;
  ds->reader_ = open_cell_matrix(config.path, oo);
  const auto& info = ds->reader_->info();
  const int64_t n = info.n_cells, g = info.n_genes, chunk = config.read_chunk_cells;
  const bool geneformer = config.tokenization == "geneformer";
  if (info.encoding != "csr" && info.nnz <= kMaxCachedEntries) {
    ds->cache_ = std::make_unique<CsrMatrix>(ds->reader_->read_rows(0, n));  // one pass, then slices from memory
  }

  // Pass 1: statistics of the total-count-normalised values.
  const bool need_stats = config.hvg_top_k > 0 || geneformer;
  std::vector<float> medians;
  ds->selected_.assign(static_cast<size_t>(g), true);
  if (need_stats) {
    GeneStatsAccumulator acc(g, geneformer ? config.median_sample_cap : 0, config.seed);
    for (int64_t b = 0; b < n; b += chunk) {
      CsrMatrix m = ds->read_raw(b, std::min(n, b + chunk));
      if (config.normalize) normalize_total(m, config.target_sum);
      acc.add(m);
    }
    if (config.hvg_top_k > 0 && config.hvg_top_k < g) {
      std::fill(ds->selected_.begin(), ds->selected_.end(), false);
      for (int32_t c : select_highly_variable_genes(acc.mean(), acc.variance(), config.hvg_top_k)) ds->selected_[c] = true;
    }
    if (geneformer) medians = acc.nonzero_median();
  }

  // Vocabulary: loaded (apply a trained model to new data) or built from the selected genes in file order.
  const auto names = ds->reader_->gene_names();
  if (!config.vocab_path.empty()) {
    ds->vocab_ = GeneVocab::load(config.vocab_path);
  } else {
    std::vector<std::string> sel;
    for (int64_t c = 0; c < g; ++c) {
      if (ds->selected_[c]) sel.push_back(names[c]);
    }
    ds->vocab_ = GeneVocab::from_genes(sel);
  }
  const auto mapping = ds->vocab_.map_columns(names, &ds->selected_);
  TokenizerOptions to;
  to.kind = parse_tokenization_kind(config.tokenization);
  to.n_bins = static_cast<int>(config.n_bins);
  to.max_len = config.max_len;
  to.seed = config.seed;
  ds->tokenizer_ = std::make_unique<CellTokenizer>(to, mapping.token_of_column, medians);

  auto& s = ds->summary_;
  s.n_cells = n;
  s.n_genes_in_file = g;
  s.n_genes_selected = std::count(ds->selected_.begin(), ds->selected_.end(), true);
  s.n_genes_mapped = mapping.n_mapped;
  s.n_genes_unknown = mapping.n_unknown;
  s.n_genes_duplicate = mapping.n_duplicate;

  // Pass 2: sequence lengths.
  ds->lengths_.resize(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; b += chunk) {
    const CsrMatrix m = ds->read_raw(b, std::min(n, b + chunk));
    for (int64_t r = 0; r < m.n_rows; ++r) ds->lengths_[b + r] = ds->tokenizer_->length_of_row(m, r);
  }
  for (int64_t len : ds->lengths_) {
    s.total_tokens += len;
    s.max_length = std::max(s.max_length, len);
    if (len == 1) ++s.n_cells_empty;
  }
  s.mean_length = n ? static_cast<double>(s.total_tokens) / static_cast<double>(n) : 0.0;

  // Labels.
  ds->labels_.assign(static_cast<size_t>(n), -1);
  if (!config.label_column.empty()) {
    const auto col = ds->reader_->obs_column(config.label_column);
    std::map<std::string, int32_t> ids;
    for (const auto& v : col) {
      if (!v.empty()) ids.emplace(v, 0);
    }
    for (const auto& [name, id] : ids) ds->label_names_.push_back(name);
    sort_label_names(ds->label_names_);
    for (size_t k = 0; k < ds->label_names_.size(); ++k) ids[ds->label_names_[k]] = static_cast<int32_t>(k);
    for (int64_t i = 0; i < n; ++i) {
      if (!col[i].empty()) ds->labels_[i] = ids[col[i]];
    }
  }
  return ds;
}

CellSplit SingleCellDataset::split() const {
  const int64_t n = n_cells();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = config_.seed ^ 0x5EEDC0FFEEULL;
  for (size_t i = order.size(); i > 1; --i) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    std::swap(order[i - 1], order[z % i]);
  }
  const auto n_val = static_cast<size_t>(std::llround(static_cast<double>(n) * config_.val_fraction));
  CellSplit s;
  s.val.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  s.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

BatchPlan SingleCellDataset::plan_batches(const std::vector<int64_t>& cells, uint64_t epoch) const {
  BucketOptions o;
  o.boundaries = config_.bucket_boundaries;
  o.batch_size = config_.batch_size;
  o.max_tokens_per_batch = config_.max_tokens_per_batch;
  o.seed = config_.seed;
  return plan_length_buckets(lengths_, cells, o, epoch);
}

std::vector<TokenizedCell> SingleCellDataset::tokenize_cells(const std::vector<int64_t>& cells) const {
  std::vector<int64_t> sorted = cells;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::map<int64_t, TokenizedCell> done;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i + 1;
    while (j < sorted.size() && sorted[j] == sorted[j - 1] + 1 &&
           sorted[j] - sorted[i] < config_.read_chunk_cells) {
      ++j;
    }
    const CsrMatrix m = read_preprocessed(sorted[i], sorted[j - 1] + 1);
    for (int64_t r = 0; r < m.n_rows; ++r) done.emplace(sorted[i] + r, tokenizer_->tokenize_row(m, r, sorted[i] + r));
    i = j;
  }
  std::vector<TokenizedCell> out;
  out.reserve(cells.size());
  for (int64_t c : cells) out.push_back(done.at(c));
  return out;
}

std::vector<TokenizedCell> SingleCellDataset::tokenize_all() const {
  std::vector<TokenizedCell> out;
  out.reserve(static_cast<size_t>(n_cells()));
  for (int64_t b = 0; b < n_cells(); b += config_.read_chunk_cells) {
    const CsrMatrix m = read_preprocessed(b, std::min(n_cells(), b + config_.read_chunk_cells));
    auto part = tokenizer_->tokenize_rows(m, b);
    for (auto& t : part) out.push_back(std::move(t));
  }
  return out;
}

PaddedBatch SingleCellDataset::make_batch(const CellBatch& batch, uint64_t epoch) const {
  return make_padded_batch(tokenize_cells(batch.cells), labels_, config_.mask_fraction, config_.seed, epoch);
}

}  // namespace sigtrain::singlecell
