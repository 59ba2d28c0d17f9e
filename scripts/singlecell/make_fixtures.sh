#!/usr/bin/env bash
# Rebuilds tests/fixtures/singlecell from Debian packages and the scanpy wheel (provenance of every committed
# fixture; CI does not run this). Needs root for apt-get install of the one-off converters:
#   r-base-core (R 4.2, to read .rda / lazy-load data), python3-anndata (Debian anndata 0.8.0 writes .h5ad).
# Usage: scripts/singlecell/make_fixtures.sh [CACHE_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/scripts/singlecell"
CACHE="${1:-$ROOT/.cache/singlecell}"
OUT="$ROOT/tests/fixtures/singlecell"
if ! command -v Rscript >/dev/null || ! command -v h5repack >/dev/null || ! /usr/bin/python3 -c 'import anndata' 2>/dev/null; then
  apt-get install -y --no-install-recommends r-base-core python3-anndata hdf5-tools
fi
"$HERE/fetch_packages.sh" "$CACHE"
U="$CACHE/unpacked"
TD="$U/usr/share/doc/r-cran-seurat/tests/testdata"
mkdir -p "$OUT"

# 10x MEX v2 (Cell Ranger 2 layout): the 80 PBMCs x 240 genes, copied byte for byte, plus obs.csv with the
# pbmc_small cluster labels (barcode order checked against barcodes.tsv; barcodes carry a "-1" suffix there).
Rscript "$HERE/pbmc_small_labels.R" "$U" "$CACHE/pbmc_small_meta.csv"
mkdir -p "$OUT/pbmc_small_mex_v2"
cp "$TD/matrix.mtx.gz" "$TD/genes.tsv.gz" "$TD/barcodes.tsv" "$OUT/pbmc_small_mex_v2/"
/usr/bin/python3 - "$CACHE/pbmc_small_meta.csv" "$OUT/pbmc_small_mex_v2" <<'PY'
import sys, pandas as pd
meta = pd.read_csv(sys.argv[1], index_col=0)
bc = [l.strip() for l in open(sys.argv[2] + "/barcodes.tsv")]
assert [b.rsplit("-", 1)[0] for b in bc] == list(meta.index), "barcode order differs from pbmc_small"
pd.DataFrame({"cluster": meta["RNA_snn_res.1"].astype(str).values,
              "groups": meta["groups"].values}, index=pd.Index(bc, name="barcode")).to_csv(
    sys.argv[2] + "/obs.csv")
PY
# 10x MEX v3 toy (5 features incl. Antibody Capture, %metadata_json comment)
mkdir -p "$OUT/cr3_mex_v3"
cp "$TD/cr3.0/matrix.mtx.gz" "$TD/cr3.0/features.tsv.gz" "$TD/cr3.0/barcodes.tsv.gz" "$OUT/cr3_mex_v3/"
# 10x HDF5 (Space Ranger, mouse Visium, 100 genes x 2,695 spots)
gunzip -c "$TD/visium/filtered_feature_bc_matrix.h5.gz" > "$OUT/visium_filtered_feature_bc_matrix.h5"
# legacy anndata 0.7 archives (synthetic 30 x 20, BSD-3). They are LZF-compressed, which plain libhdf5 cannot
# decode: v0.7.0 is kept as it is (tests the "filter not available" error, or the read when an LZF plugin is on
# HDF5_PLUGIN_PATH); v0.7.8 is rewritten with gzip (tests the legacy layout everywhere).
A="$U/usr/lib/python3/dist-packages/anndata/tests/data/archives"
cp "$A/v0.7.0/adata.h5ad" "$OUT/anndata_v0.7.0_lzf.h5ad"
/usr/bin/python3 "$HERE/repack_lzf_to_gzip.py" "$A/v0.7.8/adata.h5ad" "$CACHE/v0.7.8_gzip.h5ad"
h5repack "$CACHE/v0.7.8_gzip.h5ad" "$OUT/anndata_v0.7.8_gzip.h5ad"   # drops the space freed by the rewrite
# scanpy's pbmc68k_reduced (anndata 0.6 layout: compound obs/var, dense X, raw.X), BSD-3, byte for byte
cp "$CACHE/whl/scanpy/datasets/10x_pbmc68k_reduced.h5ad" "$OUT/pbmc68k_reduced.h5ad"
# HSMM -> MEX (cache only, 13.6 MB) -> top-1000-variable-gene .h5ad; pbmc_small .h5ad variants
Rscript "$HERE/hsmm_to_mex.R" "$U" "$CACHE/hsmm_mex"
/usr/bin/python3 "$HERE/make_h5ad_fixtures.py" "$U" "$CACHE/pbmc_small_meta.csv" "$CACHE/hsmm_mex" "$OUT" 1000
# scanpy-equivalent highly variable genes, the reference of the HVG test
mkdir -p "$OUT/expected"
/usr/bin/python3 "$HERE/scanpy_hvg_reference.py" "$OUT/pbmc_small.h5ad" 50 > "$OUT/expected/pbmc_small_hvg50_scanpy.txt"
/usr/bin/python3 "$HERE/scanpy_hvg_reference.py" "$OUT/hsmm_top1000.h5ad" 200 > "$OUT/expected/hsmm_top1000_hvg200_scanpy.txt"
du -sh "$OUT"
