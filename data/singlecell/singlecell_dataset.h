#pragma once
// A single-cell dataset ready for a masked-expression model: file -> preprocessing -> gene vocabulary ->
// per-cell token sequences -> length-bucketed batches. Torch-free; the trainer turns TokenizedCells into tensors.
//
// prepare() makes two streaming passes over the matrix, `read_chunk_cells` cells at a time:
//   1. total-count normalisation of each cell; per-gene mean/variance (for hvg_top_k) and non-zero medians (for
//      Geneformer) of the normalised values;
//   2. after gene selection and vocabulary: each cell's sequence length (for bucketing).
// The tokens themselves are made on demand by tokenize_cells() (reads only the rows asked for), so an atlas of
// millions of cells never sits in memory; tokenize_all() is there for small sets. A matrix stored CSC or dense
// (where a row read is a full pass or a wide read) is held in memory as CSR after pass 1 when it has at most
// kMaxCachedEntries stored entries; otherwise it is read from disk (convert such files to CSR for training).
// Call from one thread at a time (one loader thread): the readers are not synchronised, and libhdf5 (built
// thread-safe by Debian) serialises its calls behind one global lock anyway, so parallel reads gain nothing.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/gene_vocab.h"
#include "data/singlecell/length_buckets.h"
#include "data/singlecell/normalize.h"
#include "data/singlecell/padded_batch.h"
#include "data/singlecell/singlecell_config.h"
#include "data/singlecell/tokenizer.h"

namespace sigtrain::singlecell {

struct PrepareSummary {
  int64_t n_cells = 0;
  int64_t n_genes_in_file = 0;
  int64_t n_genes_selected = 0;   // after hvg_top_k (all genes when 0)
  int64_t n_genes_mapped = 0;     // selected genes with a vocabulary token
  int64_t n_genes_unknown = 0;    // selected genes the (loaded) vocabulary does not know: dropped
  int64_t n_genes_duplicate = 0;  // repeated gene names: dropped
  int64_t n_cells_empty = 0;      // cells with no mapped non-zero gene (sequence = <cls> only)
  int64_t total_tokens = 0;       // sum of sequence lengths
  double mean_length = 0.0;
  int64_t max_length = 0;
  std::string to_text() const;
};

struct CellSplit {
  std::vector<int64_t> train, val;  // ascending row indices
};

class SingleCellDataset {
 public:
  static std::unique_ptr<SingleCellDataset> prepare(const SingleCellDataConfig& config);

  const SingleCellDataConfig& config() const { return config_; }
  const CellMatrixInfo& info() const { return reader_->info(); }
  const GeneVocab& vocab() const { return vocab_; }
  const PrepareSummary& summary() const { return summary_; }
  int64_t n_cells() const { return reader_->info().n_cells; }
  const std::vector<int64_t>& lengths() const { return lengths_; }  // per cell, <cls> included
  // Cell-type labels from config.label_column: ids into label_names() (sorted: numerically when every label is a
  // number, else by text); -1 = missing / no column.
  const std::vector<int32_t>& labels() const { return labels_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<bool>& selected_genes() const { return selected_; }  // per file gene column
  const CellTokenizer& tokenizer() const { return *tokenizer_; }

  // Deterministic split by cell (seeded shuffle; the first round(n * val_fraction) cells are held out).
  CellSplit split() const;
  BatchPlan plan_batches(const std::vector<int64_t>& cells, uint64_t epoch) const;
  // Token sequences of the given rows, in the given order (contiguous runs are read in one slice).
  std::vector<TokenizedCell> tokenize_cells(const std::vector<int64_t>& cells) const;
  std::vector<TokenizedCell> tokenize_all() const;
  // One batch of a plan as padded arrays, with labels and (config.mask_fraction > 0) the masked positions.
  PaddedBatch make_batch(const CellBatch& batch, uint64_t epoch) const;

  static constexpr int64_t kMaxCachedEntries = int64_t{1} << 27;
  bool matrix_in_memory() const { return cache_ != nullptr; }

 private:
  SingleCellDataset() = default;
  CsrMatrix read_preprocessed(int64_t begin, int64_t end) const;  // normalise (+ log1p for scGPT)
  CsrMatrix read_raw(int64_t begin, int64_t end) const;           // from the cache or the reader

  SingleCellDataConfig config_;
  std::unique_ptr<CellMatrixReader> reader_;
  std::unique_ptr<CsrMatrix> cache_;
  GeneVocab vocab_;
  std::vector<bool> selected_;
  std::vector<int64_t> lengths_;
  std::vector<int32_t> labels_;
  std::vector<std::string> label_names_;
  std::unique_ptr<CellTokenizer> tokenizer_;
  PrepareSummary summary_;
};

}  // namespace sigtrain::singlecell
