// SingleCellDataConfig through the config API, and the file -> tokens -> batches pipeline on the fixtures.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/config.h"
#include "data/singlecell/embedding_metrics.h"
#include "data/singlecell/singlecell_config.h"
#include "data/singlecell/singlecell_dataset.h"
#include "fixture_path.h"

namespace sc = sigtrain::singlecell;
namespace cfg = sigtrain::config;

namespace {

sc::SingleCellDataConfig parse(const std::string& yaml) {
  auto tree = cfg::ConfigTree::from_string(yaml, "test.yaml");
  cfg::SectionReader r(tree, "singlecell");
  auto c = sc::parse_singlecell_config(r);
  tree.check_all_consumed();
  return c;
}

}  // namespace

TEST(SingleCellConfig, ReadsEveryKey) {
  const auto c = parse("singlecell:\n  path: " + fixture("pbmc_small.h5ad") +
                       "\n  format: h5ad\n  label_column: cluster\n  hvg_top_k: 100\n  tokenization: geneformer\n"
                       "  n_bins: 11\n  max_len: 64\n  bucket_boundaries: [16, 32, 48]\n  batch_size: 8\n"
                       "  log1p: false\n  target_sum: 1000\n  val_fraction: 0.25\n  seed: 9\n");
  EXPECT_EQ(c.format, "h5ad");
  EXPECT_EQ(c.label_column, "cluster");
  EXPECT_EQ(c.hvg_top_k, 100);
  EXPECT_EQ(c.tokenization, "geneformer");
  EXPECT_EQ(c.n_bins, 11);
  EXPECT_EQ(c.max_len, 64);
  EXPECT_EQ(c.bucket_boundaries, (std::vector<int64_t>{16, 32, 48}));
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_FALSE(c.log1p);
  EXPECT_DOUBLE_EQ(c.target_sum, 1000.0);
  EXPECT_EQ(c.seed, 9u);
}

TEST(SingleCellConfig, RejectsUnknownKeysAndBadValues) {
  const std::string path = "singlecell:\n  path: " + fixture("pbmc_small.h5ad") + "\n";
  EXPECT_THROW(parse(path + "  tokenisation: scgpt\n"), cfg::ConfigError);  // misspelt key
  EXPECT_THROW(parse(path + "  tokenization: bpe\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  bucket_boundaries: [64, 32]\n"), cfg::ConfigError);
  EXPECT_THROW(parse(path + "  n_bins: 2\n"), cfg::ConfigError);
  EXPECT_THROW(parse("singlecell:\n  label_column: x\n"), cfg::ConfigError);  // path missing
}

TEST(SingleCellDataset, PbmcSmallScGPTPipeline) {
  sc::SingleCellDataConfig c;
  c.path = fixture("pbmc_small.h5ad");
  c.label_column = "cluster";
  c.hvg_top_k = 100;
  c.n_bins = 11;
  c.max_len = 40;
  c.bucket_boundaries = {16, 24, 32};
  c.batch_size = 8;
  c.read_chunk_cells = 16;
  auto ds = sc::SingleCellDataset::prepare(c);
  const auto& s = ds->summary();
  EXPECT_EQ(s.n_cells, 80);
  EXPECT_EQ(s.n_genes_in_file, 230);
  EXPECT_EQ(s.n_genes_selected, 100);
  EXPECT_EQ(s.n_genes_mapped, 100);
  EXPECT_EQ(ds->vocab().size(), 103);
  EXPECT_EQ(ds->label_names(), (std::vector<std::string>{"0", "1", "2"}));
  std::map<int32_t, int> per_label;
  for (int32_t l : ds->labels()) per_label[l]++;
  EXPECT_EQ(per_label, (std::map<int32_t, int>{{0, 36}, {1, 25}, {2, 19}}));

  const auto all = ds->tokenize_all();
  ASSERT_EQ(all.size(), 80u);
  int64_t total = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].length(), ds->lengths()[i]);
    EXPECT_LE(all[i].length(), 40);
    EXPECT_EQ(all[i].genes[0], sc::GeneVocab::kCls);
    for (size_t t = 1; t < all[i].values.size(); ++t) {
      EXPECT_GE(all[i].values[t], 1.0f);
      EXPECT_LE(all[i].values[t], 10.0f);
    }
    total += all[i].length();
  }
  EXPECT_EQ(total, s.total_tokens);
  // on-demand tokenisation of scattered cells equals the full pass
  const std::vector<int64_t> pick{77, 3, 4, 5, 40, 3};
  const auto some = ds->tokenize_cells(pick);
  for (size_t i = 0; i < pick.size(); ++i) {
    EXPECT_EQ(some[i].cell, pick[i]);
    EXPECT_EQ(some[i].genes, all[pick[i]].genes);
    EXPECT_EQ(some[i].values, all[pick[i]].values);
  }
  const auto split = ds->split();
  EXPECT_EQ(split.val.size(), 8u);
  EXPECT_EQ(split.train.size(), 72u);
  const auto plan = ds->plan_batches(split.train, 0);
  int64_t cells = 0;
  for (const auto& b : plan.batches) cells += static_cast<int64_t>(b.cells.size());
  EXPECT_EQ(cells, 72);
  sc::BucketOptions none;
  none.batch_size = 8;
  EXPECT_LE(plan.padding_fraction(), sc::plan_length_buckets(ds->lengths(), split.train, none).padding_fraction());
}

TEST(SingleCellDataset, VocabularyCarriesToAnotherDatasetByGeneName) {
  sc::SingleCellDataConfig c;
  c.path = fixture("pbmc_small.h5ad");
  c.hvg_top_k = 50;
  auto a = sc::SingleCellDataset::prepare(c);
  const auto vocab = (std::filesystem::temp_directory_path() / "sigtrain_sc_pbmc_vocab.json").string();
  a->vocab().save(vocab);
  // the MEX v2 folder holds the same cells with 240 genes (a superset of the h5ad's 230)
  sc::SingleCellDataConfig d;
  d.path = fixture("pbmc_small_mex_v2");
  d.vocab_path = vocab;
  d.label_column = "cluster";
  auto b = sc::SingleCellDataset::prepare(d);
  EXPECT_EQ(b->vocab().genes(), a->vocab().genes());
  EXPECT_EQ(b->summary().n_genes_in_file, 240);
  EXPECT_EQ(b->summary().n_genes_mapped + b->summary().n_genes_unknown + b->summary().n_genes_duplicate, 240);
  EXPECT_EQ(b->summary().n_genes_mapped, 50);
  // the same gene of the same cell gets the same token id in both datasets
  const auto ta = a->tokenize_cells({0}), tb = b->tokenize_cells({0});
  EXPECT_EQ(ta[0].genes.size(), tb[0].genes.size());
}

TEST(SingleCellDataset, GeneformerOnVisiumAndHsmmLabels) {
  sc::SingleCellDataConfig c;
  c.path = fixture("visium_filtered_feature_bc_matrix.h5");
  c.tokenization = "geneformer";
  c.max_len = 32;
  c.read_chunk_cells = 1000;
  auto ds = sc::SingleCellDataset::prepare(c);
  EXPECT_EQ(ds->summary().n_cells, 2695);
  EXPECT_EQ(ds->vocab().n_genes(), 100);
  const auto t = ds->tokenize_cells({0, 2694});
  for (const auto& cell : t) {
    EXPECT_LE(cell.length(), 32);
    for (size_t i = 2; i < cell.values.size(); ++i) EXPECT_GE(cell.values[i - 1], cell.values[i]);  // ranked
  }
  sc::SingleCellDataConfig h;
  h.path = fixture("hsmm_top1000.h5ad");
  h.label_column = "hours";
  h.gene_name_column = "gene_short_name";
  h.max_len = 512;
  auto hs = sc::SingleCellDataset::prepare(h);
  EXPECT_EQ(hs->label_names(), (std::vector<std::string>{"0", "24", "48", "72"}));
  EXPECT_GT(hs->summary().n_genes_duplicate + hs->summary().n_genes_mapped, 990);
}

TEST(SingleCellDataset, CscFileIsCachedAndTokenisesLikeCsr) {
  sc::SingleCellDataConfig c;
  c.path = fixture("pbmc_small.h5ad");
  c.hvg_top_k = 60;
  c.max_len = 30;
  c.mask_fraction = 0.2;
  c.label_column = "cluster";
  auto csr = sc::SingleCellDataset::prepare(c);
  c.path = fixture("pbmc_small_csc.h5ad");
  auto csc = sc::SingleCellDataset::prepare(c);
  EXPECT_FALSE(csr->matrix_in_memory());
  EXPECT_TRUE(csc->matrix_in_memory());
  EXPECT_EQ(csr->lengths(), csc->lengths());
  EXPECT_EQ(csr->vocab().genes(), csc->vocab().genes());
  const auto a = csr->tokenize_all(), b = csc->tokenize_all();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].genes, b[i].genes);
    EXPECT_EQ(a[i].values, b[i].values);
  }
  const auto plan = csr->plan_batches(csr->split().train, 2);
  const auto pa = csr->make_batch(plan.batches[0], 2), pb = csc->make_batch(plan.batches[0], 2);
  EXPECT_EQ(pa.genes, pb.genes);
  EXPECT_EQ(pa.mask, pb.mask);
  EXPECT_EQ(static_cast<int64_t>(pa.lengths.size()), pa.batch);
  EXPECT_EQ(pa.tokens(), plan.batches[0].tokens);
  EXPECT_EQ(pa.max_len, plan.batches[0].max_len);
  for (size_t i = 0; i < pa.cells.size(); ++i) EXPECT_EQ(pa.labels[i], csr->labels()[pa.cells[i]]);
}

TEST(SingleCellDataset, NumericLabelsSortNumerically) {
  sc::SingleCellDataConfig c;
  c.path = fixture("pbmc68k_reduced.h5ad");
  c.layer = "raw";
  c.normalize = false;  // raw.X of pbmc68k_reduced is already log-normalised
  c.log1p = false;
  c.label_column = "louvain";
  auto ds = sc::SingleCellDataset::prepare(c);
  EXPECT_EQ(ds->label_names(),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}));
  EXPECT_EQ(ds->summary().n_genes_in_file, 765);
  c.label_column = "bulk_labels";
  c.layer = "";
  auto dense = sc::SingleCellDataset::prepare(c);
  EXPECT_TRUE(dense->matrix_in_memory());
  EXPECT_EQ(dense->label_names().front(), "CD14+ Monocyte");
  EXPECT_EQ(dense->label_names().size(), 10u);
}
