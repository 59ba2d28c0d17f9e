// Preprocessing numbers, gene statistics, highly variable genes, and the gene vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/singlecell/gene_stats.h"
#include "data/singlecell/gene_vocab.h"
#include "data/singlecell/normalize.h"
#include "data/singlecell/open_cell_matrix.h"
#include "fixture_path.h"

namespace sc = sigtrain::singlecell;

namespace {

sc::CsrMatrix make(int64_t cols, const std::vector<std::vector<std::pair<int32_t, float>>>& rows) {
  sc::CsrMatrix m;
  m.n_cols = cols;
  for (const auto& r : rows) {
    for (const auto& [c, v] : r) {
      m.indices.push_back(c);
      m.data.push_back(v);
    }
    m.indptr.push_back(m.nnz());
    ++m.n_rows;
  }
  return m;
}

}  // namespace

TEST(Normalize, TotalCountThenLog1p) {
  auto m = make(3, {{{0, 1.0f}, {2, 3.0f}}, {}, {{1, 5.0f}}});
  sc::normalize_total(m, 10.0);
  EXPECT_FLOAT_EQ(m.data[0], 2.5f);
  EXPECT_FLOAT_EQ(m.data[1], 7.5f);
  EXPECT_FLOAT_EQ(m.data[2], 10.0f);  // the empty cell stays empty, the single-gene cell gets the target sum
  sc::log1p_inplace(m);
  EXPECT_FLOAT_EQ(m.data[0], std::log(3.5f));
  EXPECT_FLOAT_EQ(m.data[1], std::log(8.5f));
  auto off = make(2, {{{0, 2.0f}}});
  sc::preprocess_rows(off, {false, 1e4, false});
  EXPECT_EQ(off.data[0], 2.0f);
}

TEST(Normalize, PbmcSmallCellZeroMatchesNumpy) {
  // numpy: np.log1p(x / x.sum() * 1e4) for cell 0 of pbmc_small (70 counts): columns 1, 5, 8 hold 1, 1, 3.
  auto r = sc::open_cell_matrix(fixture("pbmc_small.h5ad"));
  auto m = r->read_rows(0, 1);
  sc::preprocess_rows(m, {});
  EXPECT_NEAR(m.data[0], 4.968820571899414, 1e-5);
  EXPECT_NEAR(m.data[1], 4.968820571899414, 1e-5);
  EXPECT_NEAR(m.data[2], 6.062788009643555, 1e-5);
}

TEST(GeneStats, MeanVarianceAndNonzeroMedianOverSlices) {
  // gene 0: 1, 2, 3 -> mean 2, var 1, median 2; gene 1: 0, 4, 0 -> mean 4/3, var 16/3, non-zero median 4;
  // gene 2: never expressed.
  sc::GeneStatsAccumulator acc(3, 16, 7);
  acc.add(make(3, {{{0, 1.0f}}, {{0, 2.0f}, {1, 4.0f}}}));
  acc.add(make(3, {{{0, 3.0f}}}));
  EXPECT_EQ(acc.n_cells(), 3);
  const auto mean = acc.mean(), var = acc.variance();
  EXPECT_DOUBLE_EQ(mean[0], 2.0);
  EXPECT_DOUBLE_EQ(var[0], 1.0);
  EXPECT_NEAR(mean[1], 4.0 / 3.0, 1e-12);
  EXPECT_NEAR(var[1], 16.0 / 3.0, 1e-12);
  EXPECT_EQ(var[2], 0.0);
  const auto med = acc.nonzero_median();
  EXPECT_EQ(med[0], 2.0f);
  EXPECT_EQ(med[1], 4.0f);
  EXPECT_EQ(med[2], 0.0f);
  EXPECT_EQ(acc.nonzero_cells(), (std::vector<int64_t>{3, 1, 0}));
}

TEST(HighlyVariableGenes, OneBinIsAZScoreOfLogDispersion) {
  // mean 1 everywhere -> dispersion = var; ln(1, 4, 2, 0.5) z-scored (ddof 1) -> numpy values below.
  std::vector<double> norm;
  const auto top = sc::select_highly_variable_genes({1, 1, 1, 1}, {1, 4, 2, 0.5}, 2, 20, &norm);
  EXPECT_EQ(top, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(norm[0], -0.3872983346207416, 1e-12);
  EXPECT_NEAR(norm[1], 1.161895003862225, 1e-12);
  EXPECT_NEAR(norm[3], -1.1618950038622249, 1e-12);
}

TEST(HighlyVariableGenes, LonelyBinsScoreOneAndZeroVarianceGenesComeLast) {
  // three genes with very different means fall in three bins alone -> dispersion_norm = 1 each (scanpy's
  // one-gene-per-bin rule); the tie goes to the lower index. Gene 3 has variance 0 -> NaN -> chosen last.
  std::vector<double> norm;
  const auto top = sc::select_highly_variable_genes({1, 100, 10000, 50}, {3, 500, 1e5, 0}, 1, 20, &norm);
  EXPECT_EQ(top, (std::vector<int32_t>{0}));
  EXPECT_DOUBLE_EQ(norm[0], 1.0);
  EXPECT_DOUBLE_EQ(norm[2], 1.0);
  EXPECT_TRUE(std::isnan(norm[3]));
  EXPECT_EQ(sc::select_highly_variable_genes({1, 100, 10000, 50}, {3, 500, 1e5, 0}, 4).size(), 4u);
  EXPECT_EQ(sc::select_highly_variable_genes({1, 100, 10000, 50}, {3, 500, 1e5, 0}, 3),
            (std::vector<int32_t>{0, 1, 2}));
}

TEST(GeneVocab, SpecialTokensSaveLoadAndMapping) {
  const auto v = sc::GeneVocab::from_genes({"CD3E", "MS4A1", "CD3E", "LYZ"});
  EXPECT_EQ(v.size(), 6);  // 3 specials + 3 distinct genes
  EXPECT_EQ(v.token(sc::GeneVocab::kPad), "<pad>");
  EXPECT_EQ(v.token(sc::GeneVocab::kCls), "<cls>");
  EXPECT_EQ(v.token(sc::GeneVocab::kMask), "<mask>");
  EXPECT_EQ(v.id("CD3E"), 3);
  EXPECT_EQ(v.id("LYZ"), 5);
  EXPECT_EQ(v.id("GAPDH"), -1);

  const auto path = (std::filesystem::temp_directory_path() / "sigtrain_sc_vocab.json").string();
  v.save(path);
  const auto w = sc::GeneVocab::load(path);
  EXPECT_EQ(w.genes(), v.genes());
  EXPECT_EQ(w.id("MS4A1"), 4);

  // another dataset: LYZ and CD3E known, NKG7 unknown, CD3E repeated
  const auto m = w.map_columns({"NKG7", "LYZ", "CD3E", "CD3E"});
  EXPECT_EQ(m.token_of_column, (std::vector<int32_t>{-1, 5, 3, -1}));
  EXPECT_EQ(m.n_mapped, 2);
  EXPECT_EQ(m.n_unknown, 1);
  EXPECT_EQ(m.n_duplicate, 1);
  EXPECT_EQ(m.unknown_examples, std::vector<std::string>{"NKG7"});
  const std::vector<bool> keep{true, true, false, true};
  const auto k = w.map_columns({"NKG7", "LYZ", "CD3E", "CD3E"}, &keep);
  EXPECT_EQ(k.token_of_column, (std::vector<int32_t>{-1, 5, -1, 3}));

  std::ofstream(path) << R"({"format": "sigtrain-gene-vocab", "version": 1, "special": ["<pad>"], "genes": []})";
  try {
    sc::GeneVocab::load(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": expected special tokens"), std::string::npos) << e.what();
  }
}

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Highly variable genes of a whole file through the streaming pass (normalise -> stats -> Seurat selection).
std::vector<std::string> hvg_names(const std::string& file, int64_t k) {
  auto r = sc::open_cell_matrix(file);
  const int64_t n = r->info().n_cells;
  sc::GeneStatsAccumulator acc(r->info().n_genes, 0, 0);
  for (int64_t b = 0; b < n; b += 32) {
    auto m = r->read_rows(b, std::min(n, b + 32));
    sc::normalize_total(m, 1e4);
    acc.add(m);
  }
  const auto names = r->gene_names();
  std::vector<std::string> out;
  for (int32_t g : sc::select_highly_variable_genes(acc.mean(), acc.variance(), k)) out.push_back(names[g]);
  return out;
}

}  // namespace

TEST(HighlyVariableGenes, SameGenesAsScanpySeuratFlavour) {
  // expected/*.txt: scanpy 1.9.8's seurat-flavour selection (scripts/singlecell/scanpy_hvg_reference.py), in file
  // order; neither has ties at the cut-off, so "top k" is the same set in both implementations.
  EXPECT_EQ(hvg_names(fixture("pbmc_small.h5ad"), 50), read_lines(fixture("expected/pbmc_small_hvg50_scanpy.txt")));
  EXPECT_EQ(hvg_names(fixture("hsmm_top1000.h5ad"), 200),
            read_lines(fixture("expected/hsmm_top1000_hvg200_scanpy.txt")));
}
