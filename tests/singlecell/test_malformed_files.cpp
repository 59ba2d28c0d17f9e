// Malformed files: errors name the file, the HDF5 path (or line) and what was expected.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

#include "data/singlecell/open_cell_matrix.h"
#include "fixture_path.h"
#include "h5_writer.h"
#include "tests/error_of.h"

namespace sc = sigtrain::singlecell;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("sigtrain_sc_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Writes a small valid-looking AnnData file: 4 cells x 3 genes, CSR; `mutate` can break it before closing.
std::string write_h5ad(const std::string& name, const std::function<void(sc_test::H5Writer&)>& mutate,
                       std::vector<int64_t> indptr = {0, 1, 3, 3, 4}, std::vector<int64_t> indices = {0, 1, 2, 2}) {
  const std::string path = (temp_dir() / name).string();
  sc_test::H5Writer w(path);
  w.attr("/", "encoding-type", "anndata");
  w.attr("/", "encoding-version", "0.1.0");
  w.group("/X");
  w.attr("/X", "encoding-type", "csr_matrix");
  w.attr_ints("/X", "shape", {4, 3});
  w.floats("/X/data", std::vector<float>(indices.size(), 1.0f));
  w.ints("/X/indices", indices);
  w.ints("/X/indptr", indptr);
  w.group("/obs");
  w.attr("/obs", "encoding-type", "dataframe");
  w.attr("/obs", "_index", "_index");
  w.strings("/obs/_index", {"c0", "c1", "c2", "c3"});
  w.group("/obs/cell_type");
  w.attr("/obs/cell_type", "encoding-type", "categorical");
  w.ints("/obs/cell_type/codes", {0, 1, 1, -1});
  w.strings("/obs/cell_type/categories", {"B", "T"});
  w.group("/var");
  w.attr("/var", "encoding-type", "dataframe");
  w.attr("/var", "_index", "_index");
  w.strings("/var/_index", {"g0", "g1", "g2"});
  mutate(w);
  return path;
}

std::string error_of(const std::function<void()>& f) { return sigtrain::testing::error_of<sc::FormatError>(f); }

}  // namespace

TEST(MalformedFiles, HandMadeValidFileReads) {
  const auto path = write_h5ad("ok.h5ad", [](sc_test::H5Writer&) {});
  auto r = sc::open_cell_matrix(path);
  EXPECT_EQ(r->info().n_cells, 4);
  EXPECT_EQ(r->info().nnz, 4);
  EXPECT_EQ(r->info().index_dtype, "int64");
  EXPECT_EQ(r->obs_column("cell_type"), (std::vector<std::string>{"B", "T", "T", ""}));
}

TEST(MalformedFiles, IndptrOfWrongLength) {
  const auto path = write_h5ad("short_indptr.h5ad", [](sc_test::H5Writer&) {}, {0, 1, 3, 4});
  const auto msg = error_of([&] { sc::open_cell_matrix(path); });
  EXPECT_NE(msg.find(path + ": /X/indptr: expected 1-D integer dataset of length n_obs+1 = 5, got int64 length 4"),
            std::string::npos)
      << msg;
}

TEST(MalformedFiles, IndptrNotEndingAtNnz) {
  const auto path = write_h5ad("bad_end.h5ad", [](sc_test::H5Writer&) {}, {0, 1, 3, 3, 3});
  const auto msg = error_of([&] { sc::open_cell_matrix(path); });
  EXPECT_NE(msg.find("/X/indptr: expected indptr[0] = 0 and indptr[n_obs] = nnz = 4"), std::string::npos) << msg;
}

TEST(MalformedFiles, ColumnIndexOutOfRange) {
  const auto path = write_h5ad("bad_index.h5ad", [](sc_test::H5Writer&) {}, {0, 1, 3, 3, 4}, {0, 1, 7, 2});
  auto r = sc::open_cell_matrix(path);  // metadata is fine; the slice that holds the bad entry is not
  EXPECT_NO_THROW(r->read_rows(0, 1));
  const auto msg = error_of([&] { r->read_rows(0, 4); });
  EXPECT_NE(msg.find(path + ": /X/indices: entry 2 = 7 is outside [0, 3)"), std::string::npos) << msg;
}

TEST(MalformedFiles, MissingMatrixComponentAndBadEncoding) {
  const auto no_data = (temp_dir() / "no_data.h5ad").string();
  {
    sc_test::H5Writer w(no_data);
    w.attr("/", "encoding-type", "anndata");
    w.group("/X");
    w.attr("/X", "encoding-type", "csr_matrix");
    w.attr_ints("/X", "shape", {1, 1});
    w.ints("/X/indices", {0});
    w.ints("/X/indptr", {0, 1});
    w.group("/obs");
    w.group("/var");
  }
  auto msg = error_of([&] { sc::open_cell_matrix(no_data); });
  EXPECT_NE(msg.find(no_data + ": /X/data: expected a 1-D dataset"), std::string::npos) << msg;

  const auto weird = (temp_dir() / "weird.h5ad").string();
  {
    sc_test::H5Writer w(weird);
    w.group("/X");
    w.attr("/X", "encoding-type", "coo_matrix");
    w.group("/obs");
    w.group("/var");
  }
  msg = error_of([&] { sc::open_cell_matrix(weird); });
  EXPECT_NE(msg.find(weird + ": /X: expected attribute encoding-type = csr_matrix or csc_matrix"), std::string::npos)
      << msg;
}

TEST(MalformedFiles, CategoryCodeOutOfRange) {
  const auto path = write_h5ad("bad_code.h5ad", [](sc_test::H5Writer& w) {
    w.group("/obs/batch");
    w.attr("/obs/batch", "encoding-type", "categorical");
    w.ints("/obs/batch/codes", {0, 0, 5, 0});
    w.strings("/obs/batch/categories", {"a"});
  });
  auto r = sc::open_cell_matrix(path);
  const auto msg = error_of([&] { r->obs_column("batch"); });
  EXPECT_NE(msg.find(path + ": /obs/batch/codes: category code 5 at row 2 is outside the 1 categories"),
            std::string::npos)
      << msg;
}

TEST(MalformedFiles, ObsRowsDisagreeWithMatrix) {
  const auto p2 = (temp_dir() / "short_obs2.h5ad").string();
  {
    sc_test::H5Writer w(p2);
    w.attr("/", "encoding-type", "anndata");
    w.group("/X");
    w.attr("/X", "encoding-type", "csr_matrix");
    w.attr_ints("/X", "shape", {2, 1});
    w.floats("/X/data", {1});
    w.ints("/X/indices", {0});
    w.ints("/X/indptr", {0, 1, 1});
    w.group("/obs");
    w.attr("/obs", "_index", "_index");
    w.strings("/obs/_index", {"a", "b", "c"});
    w.group("/var");
    w.attr("/var", "_index", "_index");
    w.strings("/var/_index", {"g"});
  }
  const auto msg = error_of([&] { sc::open_cell_matrix(p2); });
  EXPECT_NE(msg.find(p2 + ": /obs: expected n_obs = 2 rows (from /X), got 3"), std::string::npos) << msg;
}

TEST(MalformedFiles, TruncatedAndNonHdf5Files) {
  const auto trunc = (temp_dir() / "truncated.h5ad").string();
  fs::copy_file(fixture("pbmc_small.h5ad"), trunc, fs::copy_options::overwrite_existing);
  fs::resize_file(trunc, fs::file_size(trunc) / 2);
  auto msg = error_of([&] {
    auto r = sc::open_cell_matrix(trunc, {"h5ad", "", ""});
    r->read_rows(0, r->info().n_cells);
  });
  EXPECT_NE(msg.find(trunc + ": "), std::string::npos) << msg;

  const auto text = (temp_dir() / "text.h5ad").string();
  std::ofstream(text) << "not hdf5\n";
  msg = error_of([&] { sc::open_cell_matrix(text); });
  EXPECT_NE(msg.find(text + ": not an HDF5 file"), std::string::npos) << msg;
  msg = error_of([&] { sc::open_cell_matrix(text, {"h5ad", "", ""}); });
  EXPECT_NE(msg.find(text + ": not an HDF5 file"), std::string::npos) << msg;
}

TEST(MalformedFiles, TenxMissingShape) {
  const auto path = (temp_dir() / "tenx.h5").string();
  {
    sc_test::H5Writer w(path);
    w.group("/matrix");
    w.strings("/matrix/barcodes", {"A-1"});
    w.ints("/matrix/data", {1});
    w.ints("/matrix/indices", {0});
    w.ints("/matrix/indptr", {0, 1});
  }
  EXPECT_EQ(sc::detect_format(path), "10x_h5");
  const auto msg = error_of([&] { sc::open_cell_matrix(path); });
  EXPECT_NE(msg.find(path + ": /matrix/shape: expected a dataset [n_features, n_barcodes]"), std::string::npos) << msg;
}

TEST(MalformedFiles, LzfWithoutPluginNamesTheFilter) {
  // The original anndata 0.7.0 archive is LZF-compressed. Without an LZF plugin the error names the dataset and
  // the filter. (Debian's hdf5-plugin-lzf decodes its numeric datasets but not its variable-length strings, so
  // with the plugin the error comes later, at a string dataset; with a complete plugin the file reads.)
  try {
    auto r = sc::open_cell_matrix(fixture("anndata_v0.7.0_lzf.h5ad"));
    EXPECT_EQ(r->info().n_cells, 30);
    EXPECT_EQ(r->info().nnz, 228);
    EXPECT_DOUBLE_EQ(r->read_rows(0, 30).sum(), 285.0);
    EXPECT_EQ(r->obs_column("obs_cat").size(), 30u);
  } catch (const sc::FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("anndata_v0.7.0_lzf.h5ad: /"), std::string::npos) << msg;
    EXPECT_NE(msg.find("HDF5 filter 32000 (lzf)"), std::string::npos) << msg;
  }
}

TEST(MalformedFiles, MexTruncatedMatrixAndMissingFiles) {
  const fs::path d = temp_dir() / "mex_bad";
  fs::create_directories(d);
  std::ofstream(d / "matrix.mtx") << "%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 5\n3 2 1\n";
  std::ofstream(d / "genes.tsv") << "E1\tA\nE2\tB\nE3\tC\n";
  std::ofstream(d / "barcodes.tsv") << "x-1\ny-1\n";
  auto msg = error_of([&] { sc::open_cell_matrix(d.string()); });
  EXPECT_NE(msg.find((d / "matrix.mtx").string() + ": line 4: expected 3 entries (size line), got 2"),
            std::string::npos)
      << msg;
  std::ofstream(d / "matrix.mtx") << "%%MatrixMarket matrix coordinate integer general\n3 2 2\n1 1 5\n4 2 1\n";
  msg = error_of([&] { sc::open_cell_matrix(d.string()); });
  EXPECT_NE(msg.find("line 4: entry (4, 2) outside the 1-based 3 x 2 matrix"), std::string::npos) << msg;
  std::ofstream(d / "matrix.mtx") << "%%MatrixMarket matrix coordinate integer general\n3 3 1\n1 1 5\n";
  msg = error_of([&] { sc::open_cell_matrix(d.string()); });
  EXPECT_NE(msg.find("barcodes.tsv: expected 3 barcodes (columns of matrix.mtx), got 2"), std::string::npos) << msg;
  fs::remove(d / "barcodes.tsv");
  msg = error_of([&] { sc::open_cell_matrix(d.string()); });
  EXPECT_NE(msg.find("barcodes.tsv[.gz]: missing"), std::string::npos) << msg;
}
