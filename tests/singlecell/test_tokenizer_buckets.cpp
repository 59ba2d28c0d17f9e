// Both tokenisers on hand-made cells, and the length-bucketed batching plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/singlecell/gene_vocab.h"
#include "data/singlecell/length_buckets.h"
#include "data/singlecell/padded_batch.h"
#include "data/singlecell/tokenizer.h"

namespace sc = sigtrain::singlecell;

namespace {

// One cell, 6 gene columns: an explicit zero in column 0, values 1..5 in columns 1..5.
sc::CsrMatrix cell() {
  sc::CsrMatrix m;
  m.n_rows = 1;
  m.n_cols = 6;
  m.indices = {0, 1, 2, 3, 4, 5};
  m.data = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  m.indptr = {0, 6};
  return m;
}

// Column c -> token 3 + c, except column 2 which the vocabulary does not know.
const std::vector<int32_t> kMap{3, 4, -1, 6, 7, 8};

}  // namespace

TEST(Binning, QuantileEdgesAndUpperDigitize) {
  // numpy: np.quantile([1,2,3,4,5], np.linspace(0, 1, 4)) = [1, 2.333, 3.667, 5]; np.digitize -> 1 1 2 3 4
  const auto e = sc::quantile_bin_edges({5, 1, 3, 2, 4}, 5);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_DOUBLE_EQ(e[0], 1.0);
  EXPECT_NEAR(e[1], 7.0 / 3.0, 1e-12);
  EXPECT_NEAR(e[2], 11.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(e[3], 5.0);
  std::vector<int> bins;
  for (double v : {1, 2, 3, 4, 5}) bins.push_back(sc::digitize_upper(v, e));
  EXPECT_EQ(bins, (std::vector<int>{1, 1, 2, 3, 4}));
  // ties: equal values share the upper bin
  const auto t = sc::quantile_bin_edges({1, 1, 1, 2}, 4);  // edges 1, 1, 2
  EXPECT_EQ(sc::digitize_upper(1.0, t), 2);
  EXPECT_EQ(sc::digitize_upper(2.0, t), 3);
}

TEST(ScGPTTokenizer, NonZeroKnownGenesWithPerCellBins) {
  sc::TokenizerOptions o;
  o.kind = sc::TokenizationKind::kScGPT;
  o.n_bins = 5;
  o.max_len = 100;
  sc::CellTokenizer tok(o, kMap);
  const auto m = cell();
  const auto t = tok.tokenize_row(m, 0, 0);
  // non-zero known genes: columns 1, 3, 4, 5 with values 1, 3, 4, 5 -> edges [1, 3, 4, 5] -> bins 1, 2, 3, 4
  EXPECT_EQ(t.genes, (std::vector<int32_t>{sc::GeneVocab::kCls, 4, 6, 7, 8}));
  EXPECT_EQ(t.values, (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(tok.length_of_row(m, 0), 5);
}

TEST(ScGPTTokenizer, MaxLenSamplesGenesDeterministically) {
  sc::TokenizerOptions o;
  o.n_bins = 5;
  o.max_len = 3;
  o.seed = 11;
  sc::CellTokenizer tok(o, kMap);
  const auto m = cell();
  const auto a = tok.tokenize_row(m, 0, 42);
  const auto b = tok.tokenize_row(m, 0, 42);
  EXPECT_EQ(a.genes, b.genes);
  ASSERT_EQ(a.length(), 3);
  EXPECT_EQ(tok.length_of_row(m, 0), 3);
  EXPECT_EQ(a.genes[0], sc::GeneVocab::kCls);
  EXPECT_LT(a.genes[1], a.genes[2]);  // kept in gene order
  // bins are those of the whole cell (token 4 -> bin 1, 6 -> 2, 7 -> 3, 8 -> 4)
  for (int i = 1; i < 3; ++i) {
    const int expected = a.genes[i] == 4 ? 1 : a.genes[i] - 4;
    EXPECT_EQ(a.values[i], static_cast<float>(expected));
  }
  // over many cells, every pair of the 4 genes shows up: the sample is not a fixed prefix
  std::set<std::vector<int32_t>> seen;
  for (int c = 0; c < 200; ++c) seen.insert(tok.tokenize_row(m, 0, c).genes);
  EXPECT_EQ(seen.size(), 6u);
}

TEST(GeneformerTokenizer, RankByExpressionOverGeneMedian) {
  sc::TokenizerOptions o;
  o.kind = sc::TokenizationKind::kGeneformer;
  o.max_len = 100;
  // medians per column; scores: col1 1/0.5 = 2, col3 3/0.75 = 4, col4 4/2 = 2, col5 5/2.5 = 2
  sc::CellTokenizer tok(o, kMap, {1, 0.5f, 1, 0.75f, 2, 2.5f});
  const auto t = tok.tokenize_row(cell(), 0, 0);
  EXPECT_EQ(t.genes, (std::vector<int32_t>{sc::GeneVocab::kCls, 6, 4, 7, 8}));  // ties: lower column first
  EXPECT_EQ(t.values, (std::vector<float>{0, 4, 2, 2, 2}));
  // without medians: plain expression order (5, 4, 3, 1)
  sc::CellTokenizer plain(o, kMap);
  EXPECT_EQ(plain.tokenize_row(cell(), 0, 0).genes, (std::vector<int32_t>{sc::GeneVocab::kCls, 8, 7, 6, 4}));
  o.max_len = 3;
  sc::CellTokenizer cut(o, kMap, {1, 0.5f, 1, 0.75f, 2, 2.5f});
  EXPECT_EQ(cut.tokenize_row(cell(), 0, 0).genes, (std::vector<int32_t>{sc::GeneVocab::kCls, 6, 4}));
}

TEST(Tokenizer, EmptyCellIsClsOnly) {
  sc::CsrMatrix m;
  m.n_rows = 1;
  m.n_cols = 6;
  m.indptr = {0, 0};
  for (auto kind : {sc::TokenizationKind::kScGPT, sc::TokenizationKind::kGeneformer}) {
    sc::TokenizerOptions o;
    o.kind = kind;
    sc::CellTokenizer tok(o, kMap);
    EXPECT_EQ(tok.tokenize_row(m, 0, 0).genes, std::vector<int32_t>{sc::GeneVocab::kCls});
  }
  EXPECT_EQ(sc::parse_tokenization_kind("geneformer"), sc::TokenizationKind::kGeneformer);
  EXPECT_THROW(sc::parse_tokenization_kind("bpe"), std::invalid_argument);
}

TEST(LengthBuckets, PaddingFractionByHand) {
  const std::vector<int64_t> len{2, 3, 3, 10, 11, 12, 50, 60};
  const std::vector<int64_t> cells{0, 1, 2, 3, 4, 5, 6, 7};
  sc::BucketOptions o;
  o.boundaries = {4, 16};
  o.batch_size = 2;
  o.shuffle = false;
  const auto p = sc::plan_length_buckets(len, cells, o);
  // buckets {0,1,2} {3,4,5} {6,7}: batches {0,1} {2} {3,4} {5} {6,7} -> slots 6 + 3 + 22 + 12 + 120 = 163
  ASSERT_EQ(p.batches.size(), 5u);
  EXPECT_EQ(p.tokens, 151);
  EXPECT_EQ(p.slots, 163);
  EXPECT_DOUBLE_EQ(p.padding_fraction(), 12.0 / 163.0);
  EXPECT_EQ(p.batches[2].cells, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(p.batches[2].max_len, 11);
  // no buckets: {0,1} {2,3} {4,5} {6,7} -> 6 + 20 + 24 + 120 = 170 slots
  o.boundaries.clear();
  const auto q = sc::plan_length_buckets(len, cells, o);
  EXPECT_EQ(q.slots, 170);
  EXPECT_DOUBLE_EQ(q.padding_fraction(), 19.0 / 170.0);
  // token budget: bucket (16, inf) has longest 60 -> 120 / 60 = 2 cells per batch; first bucket 120 / 3 = 40
  o.boundaries = {4, 16};
  o.max_tokens_per_batch = 120;
  const auto r = sc::plan_length_buckets(len, cells, o);
  ASSERT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.batches[0].cells.size(), 3u);
  EXPECT_EQ(r.batches[2].cells.size(), 2u);
}

TEST(LengthBuckets, ShuffledPlansAreReproduciblePermutations) {
  std::vector<int64_t> len(1000), cells(1000);
  for (int i = 0; i < 1000; ++i) {
    len[i] = 1 + (i * 7919) % 1500;
    cells[i] = i;
  }
  sc::BucketOptions o;
  o.boundaries = {128, 256, 512, 1024};
  o.batch_size = 16;
  o.seed = 3;
  const auto a = sc::plan_length_buckets(len, cells, o, 0);
  const auto b = sc::plan_length_buckets(len, cells, o, 0);
  const auto c = sc::plan_length_buckets(len, cells, o, 1);
  std::vector<int64_t> all;
  for (const auto& batch : a.batches) all.insert(all.end(), batch.cells.begin(), batch.cells.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, cells);
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (size_t i = 0; i < a.batches.size(); ++i) EXPECT_EQ(a.batches[i].cells, b.batches[i].cells);
  EXPECT_NE(a.batches[0].cells, c.batches[0].cells);
  o.boundaries.clear();
  EXPECT_LT(a.padding_fraction(), sc::plan_length_buckets(len, cells, o, 0).padding_fraction());
}

TEST(PaddedBatch, LayoutLabelsAndMasks) {
  sc::TokenizedCell a, b;
  a.cell = 4;
  a.genes = {1, 10, 11, 12, 13, 14};
  a.values = {0, 1, 2, 3, 4, 5};
  b.cell = 1;
  b.genes = {1, 20};
  b.values = {0, 7};
  const std::vector<int32_t> labels{0, 2, 0, 0, 1};
  const auto p = sc::make_padded_batch({a, b}, labels, 0.5, 3, 0);
  EXPECT_EQ(p.batch, 2);
  EXPECT_EQ(p.max_len, 6);
  EXPECT_EQ(p.lengths, (std::vector<int32_t>{6, 2}));
  EXPECT_EQ(p.labels, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(p.cells, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(p.tokens(), 8);
  EXPECT_EQ(std::vector<int32_t>(p.genes.begin() + 6, p.genes.end()), (std::vector<int32_t>{1, 20, 0, 0, 0, 0}));
  EXPECT_EQ(p.values[7], 7.0f);
  // 5 genes * 0.5 -> round(2.5) = 3 masked in row 0; 1 gene -> at least 1 in row 1; never <cls> or padding
  int row0 = 0;
  for (int j = 0; j < 6; ++j) row0 += p.mask[j];
  EXPECT_EQ(row0, 3);
  EXPECT_EQ(p.mask[0], 0);
  EXPECT_EQ(std::vector<uint8_t>(p.mask.begin() + 6, p.mask.end()), (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  // same cell, same epoch -> same mask, whatever the batch; another epoch -> (here) another mask
  const auto q = sc::make_padded_batch({a}, {}, 0.5, 3, 0);
  EXPECT_EQ(std::vector<uint8_t>(p.mask.begin(), p.mask.begin() + 6), q.mask);
  EXPECT_TRUE(q.labels.empty());
  bool differs = false;
  for (uint64_t e = 1; e < 6; ++e) differs |= sc::make_padded_batch({a}, {}, 0.5, 3, e).mask != q.mask;
  EXPECT_TRUE(differs);
  EXPECT_TRUE(sc::make_padded_batch({a}, {}, 0.0, 3, 0).mask.empty());
}

TEST(PaddedBatch, WidthRoundedUpToTheMultipleButNotPastTheBound) {
  EXPECT_EQ(sc::padded_width(183, 1, 512), 183);
  EXPECT_EQ(sc::padded_width(183, 64, 512), 192);
  EXPECT_EQ(sc::padded_width(192, 64, 512), 192);
  EXPECT_EQ(sc::padded_width(409, 64, 0), 448);
  EXPECT_EQ(sc::padded_width(500, 64, 510), 510);  // the bound (max_len) wins over the multiple
  EXPECT_EQ(sc::padded_width(600, 64, 510), 600);  // but never cuts a cell
  sc::TokenizedCell a;
  a.cell = 2;
  a.genes = {1, 10, 11, 12, 13};
  a.values = {0, 1, 2, 3, 4};
  const auto plain = sc::make_padded_batch({a}, {}, 0.5, 3, 0);
  const auto wide = sc::make_padded_batch({a}, {}, 0.5, 3, 0, 8, 128);
  EXPECT_EQ(plain.max_len, 5);
  EXPECT_EQ(wide.max_len, 8);
  EXPECT_EQ(wide.lengths, plain.lengths);
  // The same genes, values and masked positions, then padding: padding never changes what a cell sees.
  EXPECT_EQ(std::vector<int32_t>(wide.genes.begin(), wide.genes.begin() + 5), plain.genes);
  EXPECT_EQ(std::vector<int32_t>(wide.genes.begin() + 5, wide.genes.end()), (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ(std::vector<uint8_t>(wide.mask.begin(), wide.mask.begin() + 5), plain.mask);
  EXPECT_EQ(std::vector<uint8_t>(wide.mask.begin() + 5, wide.mask.end()), (std::vector<uint8_t>{0, 0, 0}));
}

TEST(LengthBuckets, PlanCountsTheRoundedWidth) {
  std::vector<int64_t> len = {5, 7, 9, 30};
  std::vector<int64_t> cells = {0, 1, 2, 3};
  sc::BucketOptions o;
  o.boundaries = {10};
  o.batch_size = 4;
  o.shuffle = false;
  o.pad_to_multiple = 16;
  o.max_width = 40;
  const auto plan = sc::plan_length_buckets(len, cells, o, 0);
  ASSERT_EQ(plan.batches.size(), 2u);
  EXPECT_EQ(plan.batches[0].max_len, 16);  // 5, 7, 9 -> 16
  EXPECT_EQ(plan.batches[1].max_len, 32);  // 30 -> 32 (under the bound 40)
  EXPECT_EQ(plan.slots, 3 * 16 + 32);
  EXPECT_NEAR(plan.padding_fraction(), 1.0 - 51.0 / 80.0, 1e-12);
}
