#include "data/singlecell/open_cell_matrix.h"

#include <filesystem>

#include "data/singlecell/anndata_reader.h"
#include "data/singlecell/format_error.h"
#include "data/singlecell/hdf5_file.h"
#include "data/singlecell/mex_reader.h"
#include "data/singlecell/tenx_h5_reader.h"

namespace sigtrain::singlecell {

std::string detect_format(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) return "mex";
  if (!fs::exists(path)) throw_format_error(path, "", "no such file or folder");
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    throw_format_error(path, "", "a gzip-compressed file; gunzip it first (HDF5 files are read in place)");
  }
  if (!h5::File::is_hdf5(path)) {
    throw_format_error(path, "", "not an HDF5 file and not a folder: expected .h5ad, 10x .h5 or a 10x MEX folder");
  }
  h5::File f(path);
  if (f.is_group("/matrix")) return "10x_h5";
  if (f.kind("/X") == h5::ObjectKind::kNone && f.kind("/obs") == h5::ObjectKind::kNone) {
    for (const auto& c : f.children("/")) {
      if (f.is_group("/" + c) && f.is_dataset("/" + c + "/indptr") && f.is_dataset("/" + c + "/barcodes")) return "10x_h5";
    }
  }
  return "h5ad";
}

std::unique_ptr<CellMatrixReader> open_cell_matrix(const std::string& path, const OpenOptions& options) {
  const std::string fmt = options.format == "auto" || options.format.empty() ? detect_format(path) : options.format;
  if (fmt == "h5ad") return std::make_unique<AnnDataReader>(path, options);
  if (fmt == "10x_h5") {
    if (!options.layer.empty() && options.layer != "X") {
      throw_format_error(path, "", "layer '" + options.layer + "' requested, but 10x HDF5 files have one matrix");
    }
    return std::make_unique<TenxH5Reader>(path);
  }
  if (fmt == "mex") return std::make_unique<MexReader>(path);
  throw_format_error(path, "", "unknown format '" + fmt + "' (expected auto, h5ad, 10x_h5 or mex)");
}

}  // namespace sigtrain::singlecell
