#pragma once
// Opens any supported single-cell file or folder; `format` "auto" detects it.
//   h5ad   : AnnData HDF5 (modern >= 0.8 encoding, anndata 0.7 legacy, and the < 0.7 compound-dataframe layout)
//   10x_h5 : 10x Genomics HDF5 feature-barcode matrix (Cell Ranger >= 3 /matrix, or Cell Ranger 2 /<genome>)
//   mex    : 10x MEX folder (matrix.mtx[.gz] + features.tsv[.gz] | genes.tsv[.gz] + barcodes.tsv[.gz] [+ obs.csv])
// Detection: a directory is MEX; an HDF5 file with /matrix, or without /X but with a top-level group holding
// indptr+barcodes, is 10x; any other HDF5 file is h5ad. "*.h5.gz" is refused with a hint to gunzip it.
#include <memory>
#include <string>

#include "data/singlecell/cell_matrix_reader.h"
#include "data/singlecell/format_error.h"

namespace sigtrain::singlecell {

struct OpenOptions {
  std::string format = "auto";     // auto | h5ad | 10x_h5 | mex
  std::string layer;               // h5ad: "" or "X" -> /X; "raw" -> /raw/X (or raw.X); other -> /layers/<name>
  std::string gene_name_column;    // h5ad: var column holding gene names ("" = the var index); 10x: ignored
};

std::string detect_format(const std::string& path);  // "h5ad" | "10x_h5" | "mex"; FormatError when unknown
std::unique_ptr<CellMatrixReader> open_cell_matrix(const std::string& path, const OpenOptions& options = {});

}  // namespace sigtrain::singlecell
