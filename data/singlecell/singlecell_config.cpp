#include "data/singlecell/singlecell_config.h"

#include <cmath>

namespace sigtrain::singlecell {

SingleCellDataConfig parse_singlecell_config(config::SectionReader& r) {
  SingleCellDataConfig c;
  c.path = r.get_path("path", "");
  if (c.path.empty()) r.fail("path", "required: a .h5ad, a 10x .h5 or a 10x MEX folder");
  c.format = r.get_enum("format", c.format, {"auto", "h5ad", "10x_h5", "mex"});
  c.layer = r.get_string("layer", c.layer);
  c.gene_name_column = r.get_string("gene_name_column", c.gene_name_column);
  c.label_column = r.get_string("label_column", c.label_column);
  c.normalize = r.get_bool("normalize", c.normalize);
  c.target_sum = r.get_double("target_sum", c.target_sum, 1e-9, 1e12);
  c.log1p = r.get_bool("log1p", c.log1p);
  c.hvg_top_k = r.get_int("hvg_top_k", c.hvg_top_k, 0);
  c.vocab_path = r.get_path("vocab_path", c.vocab_path);
  c.tokenization = r.get_enum("tokenization", c.tokenization, {"scgpt", "geneformer"});
  c.n_bins = r.get_int("n_bins", c.n_bins, 3, 1 << 20);
  c.max_len = r.get_int("max_len", c.max_len, 2);
  c.mask_fraction = r.get_double("mask_fraction", c.mask_fraction, 0.0, 1.0);
  const auto bounds = r.get_double_list("bucket_boundaries", {});
  for (size_t i = 0; i < bounds.size(); ++i) {
    const double b = bounds[i];
    if (b != std::floor(b) || b < 1) r.fail("bucket_boundaries", "expected positive integers");
    if (i > 0 && b <= bounds[i - 1]) r.fail("bucket_boundaries", "expected strictly ascending lengths");
    c.bucket_boundaries.push_back(static_cast<int64_t>(b));
  }
  c.batch_size = r.get_int("batch_size", c.batch_size, 1);
  c.max_tokens_per_batch = r.get_int("max_tokens_per_batch", c.max_tokens_per_batch, 0);
  c.pad_to_multiple = r.get_int("pad_to_multiple", c.pad_to_multiple, 1, 1 << 16);
  c.val_fraction = r.get_double("val_fraction", c.val_fraction, 0.0, 0.9);
  c.seed = static_cast<uint64_t>(r.get_int("seed", 0, 0));
  c.read_chunk_cells = r.get_int("read_chunk_cells", c.read_chunk_cells, 1);
  c.median_sample_cap = r.get_int("median_sample_cap", c.median_sample_cap, 0);
  c.knn_k = r.get_int("knn_k", c.knn_k, 1, 1000);
  return c;
}

}  // namespace sigtrain::singlecell
