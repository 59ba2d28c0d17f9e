// Every reader against the committed fixtures: exact shapes, nnz, sums and label counts
// (numbers from ../shared/docs/datasets.md §4.5 and from anndata/scipy on the same files, see
// tests/fixtures/singlecell/README.md).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "data/singlecell/inspect_report.h"
#include "data/singlecell/open_cell_matrix.h"
#include "fixture_path.h"
#include "h5_writer.h"

namespace sc = sigtrain::singlecell;

namespace {

std::map<std::string, int64_t> count(const std::vector<std::string>& v) {
  std::map<std::string, int64_t> m;
  for (const auto& s : v) m[s]++;
  return m;
}

sc::CsrMatrix read_all(sc::CellMatrixReader& r) { return r.read_rows(0, r.info().n_cells); }

// Reading in slices of `step` cells and concatenating gives the whole read, entry for entry.
void expect_slices_equal_whole(sc::CellMatrixReader& r, int64_t step) {
  const sc::CsrMatrix whole = read_all(r);
  sc::CsrMatrix joined;
  joined.n_cols = whole.n_cols;
  for (int64_t b = 0; b < r.info().n_cells; b += step) joined.append_rows(r.read_rows(b, std::min(r.info().n_cells, b + step)));
  EXPECT_EQ(joined.n_rows, whole.n_rows);
  EXPECT_EQ(joined.indptr, whole.indptr);
  EXPECT_EQ(joined.indices, whole.indices);
  EXPECT_EQ(joined.data, whole.data);
}

}  // namespace

TEST(AnnDataReader, PbmcSmallCsr) {
  auto r = sc::open_cell_matrix(fixture("pbmc_small.h5ad"));
  const auto& info = r->info();
  EXPECT_EQ(info.format, "h5ad");
  EXPECT_EQ(info.encoding, "csr");
  EXPECT_EQ(info.dtype, "float32");
  EXPECT_EQ(info.index_dtype, "int32");
  EXPECT_EQ(info.n_cells, 80);
  EXPECT_EQ(info.n_genes, 230);
  EXPECT_EQ(info.nnz, 4456);
  const auto m = read_all(*r);
  EXPECT_EQ(m.nnz(), 4456);
  EXPECT_DOUBLE_EQ(m.sum(), 19633.0);
  EXPECT_DOUBLE_EQ(r->read_rows(0, 16).sum(), 1572.0);  // datasets.md §4.5 item 5
  const auto clusters = count(r->obs_column("cluster"));
  EXPECT_EQ(clusters, (std::map<std::string, int64_t>{{"0", 36}, {"1", 25}, {"2", 19}}));
  EXPECT_EQ(r->gene_names().front(), "MS4A1");
  EXPECT_EQ(r->cell_ids().front(), "ATGCCAGAACGACT");
  // cell 0: 47 genes, 70 counts; columns 1, 5, 8 hold 1, 1, 3
  const auto row0 = r->read_rows(0, 1);
  EXPECT_EQ(row0.nnz(), 47);
  EXPECT_DOUBLE_EQ(row0.sum(), 70.0);
  EXPECT_EQ(row0.indices[0], 1);
  EXPECT_EQ(row0.indices[2], 8);
  EXPECT_EQ(row0.data[2], 3.0f);
  // obs n_counts is the per-cell total
  EXPECT_EQ(r->obs_column("n_counts").front(), "70");
  expect_slices_equal_whole(*r, 7);
}

TEST(AnnDataReader, CscAndDenseEncodingsGiveTheSameMatrix) {
  auto csr = sc::open_cell_matrix(fixture("pbmc_small.h5ad"));
  auto csc = sc::open_cell_matrix(fixture("pbmc_small_csc.h5ad"));
  sc::OpenOptions counts;
  counts.layer = "counts";
  auto layer = sc::open_cell_matrix(fixture("pbmc_small_dense.h5ad"), counts);
  EXPECT_EQ(csc->info().encoding, "csc");
  EXPECT_EQ(layer->info().matrix_path, "/layers/counts");
  const auto a = read_all(*csr);
  for (auto* r : {csc.get(), layer.get()}) {
    const auto b = read_all(*r);
    EXPECT_EQ(a.indptr, b.indptr);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.data, b.data);
    // a slice in the middle equals the same rows of the whole read
    const auto s = r->read_rows(33, 61);
    const auto w = a.rows(33, 61);
    EXPECT_EQ(s.indptr, w.indptr);
    EXPECT_EQ(s.indices, w.indices);
    EXPECT_EQ(s.data, w.data);
  }
  expect_slices_equal_whole(*csc, 9);
  // X of the dense file is log1p(counts), stored dense
  auto dense = sc::open_cell_matrix(fixture("pbmc_small_dense.h5ad"));
  EXPECT_EQ(dense->info().encoding, "dense");
  EXPECT_EQ(dense->info().nnz, 4456);
  const auto d = read_all(*dense);
  ASSERT_EQ(d.indices, a.indices);
  for (int64_t p = 0; p < d.nnz(); ++p) ASSERT_NEAR(d.data[p], std::log1p(a.data[p]), 1e-6);
  expect_slices_equal_whole(*dense, 11);
  EXPECT_EQ(dense->info().layers, std::vector<std::string>{"counts"});
}

TEST(AnnDataReader, MissingLayerAndColumnNameWhatExists) {
  sc::OpenOptions o;
  o.layer = "spliced";
  try {
    sc::open_cell_matrix(fixture("pbmc_small_dense.h5ad"), o);
    FAIL() << "expected FormatError";
  } catch (const sc::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/layers/spliced"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("counts"), std::string::npos) << e.what();
  }
  auto r = sc::open_cell_matrix(fixture("pbmc_small.h5ad"));
  try {
    r->obs_column("cell_type");
    FAIL() << "expected FormatError";
  } catch (const sc::FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("pbmc_small.h5ad: /obs: no column 'cell_type' (columns: cluster, n_counts)"), std::string::npos)
        << msg;
  }
}

TEST(AnnDataReader, HsmmTop1000) {
  auto r = sc::open_cell_matrix(fixture("hsmm_top1000.h5ad"));
  EXPECT_EQ(r->info().n_cells, 271);
  EXPECT_EQ(r->info().n_genes, 1000);
  EXPECT_EQ(r->info().nnz, 192426);
  EXPECT_NEAR(read_all(*r).sum(), 14911606.0, 14911606.0 * 1e-6);
  EXPECT_EQ(count(r->obs_column("hours")),
            (std::map<std::string, int64_t>{{"0", 69}, {"24", 74}, {"48", 79}, {"72", 49}}));
  EXPECT_EQ(r->gene_ids().front(), "ENSG00000000003.10");
  EXPECT_EQ(r->var_column("gene_short_name").front(), "TSPAN6");
  sc::OpenOptions o;
  o.gene_name_column = "gene_short_name";
  auto named = sc::open_cell_matrix(fixture("hsmm_top1000.h5ad"), o);
  EXPECT_EQ(named->gene_names()[1], "CFH");
  EXPECT_EQ(r->cell_ids().front(), "T0_CT_A01");
  expect_slices_equal_whole(*r, 50);
}

TEST(AnnDataReader, LegacyAnnData07ObjectReferenceCategoricals) {
  auto r = sc::open_cell_matrix(fixture("anndata_v0.7.8_gzip.h5ad"));
  EXPECT_EQ(r->info().format, "h5ad (anndata 0.7 legacy)");
  EXPECT_EQ(r->info().n_cells, 30);
  EXPECT_EQ(r->info().n_genes, 20);
  EXPECT_EQ(r->info().nnz, 239);
  EXPECT_DOUBLE_EQ(read_all(*r).sum(), 302.0);
  EXPECT_DOUBLE_EQ(r->read_rows(0, 7).sum(), 82.0);
  EXPECT_DOUBLE_EQ(r->read_rows(7, 30).sum(), 220.0);
  const auto cats = count(r->obs_column("cat_ordered"));
  EXPECT_EQ(cats.size(), 24u);
  EXPECT_EQ(cats.at("f"), 3);
  EXPECT_EQ(cats.at("J"), 2);
  ASSERT_EQ(r->info().obs_columns.front().name, "obs_cat");
  EXPECT_EQ(r->info().obs_columns.front().type, "categorical");
  EXPECT_EQ(r->info().obs_columns.front().n_categories, 21);
  EXPECT_EQ(r->cell_ids().front(), "cell0");
  EXPECT_EQ(r->gene_names().front(), "gene0");
}

TEST(AnnDataReader, Pbmc68kReducedCompoundLayout) {
  auto r = sc::open_cell_matrix(fixture("pbmc68k_reduced.h5ad"));
  EXPECT_EQ(r->info().format, "h5ad (anndata < 0.7, compound obs/var)");
  EXPECT_EQ(r->info().encoding, "dense");
  EXPECT_EQ(r->info().n_cells, 700);
  EXPECT_EQ(r->info().n_genes, 765);
  EXPECT_EQ(r->info().nnz, 535433);
  EXPECT_NEAR(read_all(*r).sum(), -243.681058, 2e-3);
  EXPECT_NEAR(r->read_rows(0, 16).sum(), -73.7020058, 1e-3);
  const auto labels = count(r->obs_column("bulk_labels"));
  const std::map<std::string, int64_t> want{{"CD14+ Monocyte", 129},
                                           {"CD19+ B", 95},
                                           {"CD34+", 13},
                                           {"CD4+/CD25 T Reg", 68},
                                           {"CD4+/CD45RA+/CD25- Naive T", 8},
                                           {"CD4+/CD45RO+ Memory", 19},
                                           {"CD56+ NK", 31},
                                           {"CD8+ Cytotoxic T", 54},
                                           {"CD8+/CD45RA+ Naive Cytotoxic", 43},
                                           {"Dendritic", 240}};
  EXPECT_EQ(labels, want);
  EXPECT_EQ(r->cell_ids().front(), "AAAGCCTGGCTAAC-1");
  EXPECT_EQ(r->gene_names().front(), "HES4");
  EXPECT_EQ(r->var_column("highly_variable").front(), "true");
  sc::OpenOptions raw;
  raw.layer = "raw";
  auto rr = sc::open_cell_matrix(fixture("pbmc68k_reduced.h5ad"), raw);
  EXPECT_EQ(rr->info().matrix_path, "/raw.X");
  EXPECT_EQ(rr->info().encoding, "csr");
  EXPECT_EQ(rr->info().nnz, 174400);
  EXPECT_NEAR(read_all(*rr).sum(), 319044.238, 0.05);
  EXPECT_EQ(rr->gene_names().front(), "HES4");
  expect_slices_equal_whole(*rr, 64);
}

TEST(TenxH5Reader, VisiumCellRangerV3Layout) {
  auto r = sc::open_cell_matrix(fixture("visium_filtered_feature_bc_matrix.h5"));
  EXPECT_EQ(r->info().format, "10x_h5 (Cell Ranger v3)");
  EXPECT_EQ(r->info().dtype, "int32");
  EXPECT_EQ(r->info().n_cells, 2695);
  EXPECT_EQ(r->info().n_genes, 100);
  EXPECT_EQ(r->info().nnz, 50355);
  EXPECT_DOUBLE_EQ(read_all(*r).sum(), 132231.0);
  const auto first = r->read_rows(0, 16);
  EXPECT_EQ(first.nnz(), 348);
  EXPECT_DOUBLE_EQ(first.sum(), 1016.0);
  EXPECT_EQ(r->cell_ids().front(), "AAACAAGTATCTCCCA-1");
  EXPECT_EQ(r->gene_names().front(), "Xkr4");
  EXPECT_EQ(r->gene_ids().front(), "ENSMUSG00000051951");
  EXPECT_EQ(r->var_column("genome").front(), "mm10");
  EXPECT_EQ(count(r->var_column("feature_type")).at("Gene Expression"), 100);
  EXPECT_THROW(r->obs_column("cluster"), sc::FormatError);
  expect_slices_equal_whole(*r, 500);
}

TEST(MexReader, V2FolderWithObsCsv) {
  auto r = sc::open_cell_matrix(fixture("pbmc_small_mex_v2"));
  EXPECT_EQ(r->info().format, "mex (v2)");
  EXPECT_EQ(r->info().n_cells, 80);
  EXPECT_EQ(r->info().n_genes, 240);
  EXPECT_EQ(r->info().nnz, 4814);
  EXPECT_DOUBLE_EQ(read_all(*r).sum(), 23110.0);
  EXPECT_DOUBLE_EQ(r->read_rows(0, 16).sum(), 1864.0);
  EXPECT_DOUBLE_EQ(r->read_rows(40, 80).sum(), 15009.0);
  for (const auto& b : r->cell_ids()) EXPECT_EQ(b.substr(b.size() - 2), "-1");
  EXPECT_EQ(r->gene_names().front(), "MS4A1");
  EXPECT_EQ(r->gene_ids().front(), "ENSGXXXXXX");
  EXPECT_EQ(count(r->obs_column("cluster")), (std::map<std::string, int64_t>{{"0", 36}, {"1", 25}, {"2", 19}}));
  expect_slices_equal_whole(*r, 13);
}

TEST(MexReader, V3FeaturesWithAntibodyCapture) {
  auto r = sc::open_cell_matrix(fixture("cr3_mex_v3"));
  EXPECT_EQ(r->info().format, "mex (v3)");
  EXPECT_EQ(r->info().n_cells, 5);
  EXPECT_EQ(r->info().n_genes, 5);
  EXPECT_EQ(r->info().nnz, 8);
  EXPECT_DOUBLE_EQ(read_all(*r).sum(), 80147.0);
  const auto types = r->var_column("feature_type");
  EXPECT_EQ(types[0], "Gene Expression");
  EXPECT_EQ(types[3], "Antibody Capture");
  EXPECT_EQ(r->gene_names()[3], "CD3");
  EXPECT_EQ(r->gene_ids()[3], "CD3_GCCTGACTAGATCCA");
  const auto row0 = r->read_rows(0, 1);
  ASSERT_EQ(row0.nnz(), 1);
  EXPECT_EQ(row0.indices[0], 0);
  EXPECT_EQ(row0.data[0], 110.0f);
  EXPECT_EQ(r->cell_ids().front(), "AAAGTAGCACAGTCGC-1");
}

TEST(FormatDetection, DetectsEachKind) {
  EXPECT_EQ(sc::detect_format(fixture("pbmc_small.h5ad")), "h5ad");
  EXPECT_EQ(sc::detect_format(fixture("pbmc68k_reduced.h5ad")), "h5ad");
  EXPECT_EQ(sc::detect_format(fixture("visium_filtered_feature_bc_matrix.h5")), "10x_h5");
  EXPECT_EQ(sc::detect_format(fixture("cr3_mex_v3")), "mex");
  EXPECT_THROW(sc::detect_format(fixture("README.md")), sc::FormatError);
  EXPECT_THROW(sc::detect_format(fixture("no_such_file.h5ad")), sc::FormatError);
}

TEST(TenxH5Reader, CellRanger2LayoutWithFixedLengthStringsAndUint32) {
  // Hand-made Cell Ranger 2 file: one group per genome, uint32 data/indices/indptr, fixed-length strings.
  // 3 genes x 2 barcodes (CSC): barcode 0 has gene 0 = 5 and gene 2 = 1; barcode 1 has gene 1 = 7.
  const std::string path = (std::filesystem::temp_directory_path() / "sigtrain_sc_cr2.h5").string();
  {
    sc_test::H5Writer w(path);
    w.group("/hg19");
    w.fixed_strings("/hg19/barcodes", {"AAACATACAAAACG-1", "AAACATTGAGCTAC-1"}, 18);
    w.fixed_strings("/hg19/genes", {"ENSG1", "ENSG2", "ENSG3"}, 15);
    w.fixed_strings("/hg19/gene_names", {"CD3E", "MS4A1", "LYZ"}, 15);
    w.uints("/hg19/data", {5, 1, 7});
    w.uints("/hg19/indices", {0, 2, 1});
    w.uints("/hg19/indptr", {0, 2, 3});
    w.uints("/hg19/shape", {3, 2});
  }
  EXPECT_EQ(sc::detect_format(path), "10x_h5");
  auto r = sc::open_cell_matrix(path);
  EXPECT_EQ(r->info().format, "10x_h5 (Cell Ranger v2, genome hg19)");
  EXPECT_EQ(r->info().dtype, "uint32");
  EXPECT_EQ(r->info().n_cells, 2);
  EXPECT_EQ(r->info().n_genes, 3);
  EXPECT_EQ(r->cell_ids(), (std::vector<std::string>{"AAACATACAAAACG-1", "AAACATTGAGCTAC-1"}));
  EXPECT_EQ(r->gene_names(), (std::vector<std::string>{"CD3E", "MS4A1", "LYZ"}));
  EXPECT_EQ(r->gene_ids()[2], "ENSG3");
  const auto m = r->read_rows(0, 2);
  EXPECT_EQ(m.indptr, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(m.indices, (std::vector<int32_t>{0, 2, 1}));
  EXPECT_EQ(m.data, (std::vector<float>{5, 1, 7}));
}

TEST(InspectReport, PbmcSmallText) {
  const std::string text = sc::inspect_report(fixture("pbmc_small.h5ad"), "cluster");
  EXPECT_NE(text.find("format:   h5ad\n"), std::string::npos) << text;
  EXPECT_NE(text.find("matrix:   /X  csr  float32  (indices int32)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("shape:    80 cells x 230 genes\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nnz:      4456 (24.22% of entries)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("obs (2):  cluster (categorical, 3 categories), n_counts (int64)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("label 'cluster': 3 categories\n  0  36\n  1  25\n  2  19\n"), std::string::npos) << text;
  const auto louvain = sc::inspect_file(fixture("pbmc68k_reduced.h5ad"), "louvain");
  ASSERT_EQ(louvain.label_counts.size(), 11u);
  EXPECT_EQ(louvain.label_counts[2], (std::pair<std::string, int64_t>{"2", 117}));
  EXPECT_EQ(louvain.label_counts[10], (std::pair<std::string, int64_t>{"10", 13}));
  EXPECT_THROW(sc::inspect_report(fixture("pbmc_small.h5ad"), "cell_type"), sc::FormatError);
}
