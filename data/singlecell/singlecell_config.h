#pragma once
// The single-cell data section of a run config, read key by key through config::SectionReader (so unknown keys
// are errors and every resolved value is recorded). Which section it lives in is the caller's choice (e.g. `data`
// with `data.kind: singlecell`, or `data.singlecell`); the reader passed in is that section.
//
//   path: data/pbmc.h5ad          # .h5ad, 10x .h5, or a MEX folder (resolved against the config file's folder)
//   format: auto                  # auto | h5ad | 10x_h5 | mex
//   layer: ""                     # h5ad: "" = X, "raw" = raw/X, else layers/<name> (e.g. counts)
//   gene_name_column: ""          # h5ad var column with gene names ("" = var index)
//   label_column: cluster         # obs column with cell-type labels for ASW/cohesion/kNN ("" = none)
//   normalize: true               # total-count normalisation ...
//   target_sum: 10000             # ... to this many counts per cell
//   log1p: true                   # then ln(1 + x) (scGPT values; Geneformer ranks normalised counts)
//   hvg_top_k: 0                  # keep the top-k highly variable genes (Seurat flavour); 0 = all genes
//   vocab_path: ""                # load this gene vocabulary instead of building one (apply to a new dataset)
//   tokenization: scgpt           # scgpt | geneformer
//   n_bins: 51                    # scGPT value bins (0 = cls/pad)
//   max_len: 2048                 # tokens per cell incl. <cls>
//   mask_fraction: 0.15           # masked-expression objective: fraction of gene tokens masked
//   bucket_boundaries: [256, 512, 1024]   # length buckets (inclusive upper bounds); [] = no bucketing
//   batch_size: 32
//   max_tokens_per_batch: 0       # > 0: batch size per bucket = max_tokens / bucket's longest cell
//   pad_to_multiple: 1            # a batch's padded width rounded up to a multiple of this (at most max_len), so
//                                 # that few shapes recur (train.cuda_graphs replays one graph per shape)
//   val_fraction: 0.1             # held-out cells for evaluation
//   seed: 0                       # split, bucket order, scGPT gene sampling
//   read_chunk_cells: 4096        # cells per slice read from disk during preparation
//   median_sample_cap: 1024       # per-gene values kept for Geneformer medians (exact up to this many cells)
//   knn_k: 5                      # k of the kNN label accuracy
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace sigtrain::singlecell {

struct SingleCellDataConfig {
  std::string path;
  std::string format = "auto";
  std::string layer;
  std::string gene_name_column;
  std::string label_column;
  bool normalize = true;
  double target_sum = 1e4;
  bool log1p = true;
  int64_t hvg_top_k = 0;
  std::string vocab_path;
  std::string tokenization = "scgpt";
  int64_t n_bins = 51;
  int64_t max_len = 2048;
  double mask_fraction = 0.15;
  std::vector<int64_t> bucket_boundaries;
  int64_t batch_size = 32;
  int64_t max_tokens_per_batch = 0;
  int64_t pad_to_multiple = 1;
  double val_fraction = 0.1;
  uint64_t seed = 0;
  int64_t read_chunk_cells = 4096;
  int64_t median_sample_cap = 1024;
  int64_t knn_k = 5;
};

// Reads every key above from `section` (defaults as shown); ConfigError on bad values. `path` is required.
SingleCellDataConfig parse_singlecell_config(config::SectionReader& section);

}  // namespace sigtrain::singlecell
