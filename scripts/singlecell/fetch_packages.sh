#!/usr/bin/env bash
# Downloads and unpacks (does NOT install) the Debian packages that hold the single-cell source data, and the
# scanpy wheel that ships 10x_pbmc68k_reduced.h5ad. Idempotent.  Usage: fetch_packages.sh [CACHE_DIR]
# Result: CACHE/unpacked/usr/... (dpkg -x) and CACHE/whl/scanpy/datasets/10x_pbmc68k_reduced.h5ad
# See docs/singlecell.md and ../shared/docs/datasets.md §4.
set -euo pipefail
CACHE="${1:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/singlecell}"
SCANPY_VERSION=1.9.8
mkdir -p "$CACHE/debs" "$CACHE/unpacked" "$CACHE/whl"
cd "$CACHE/debs"
if ! ls r-cran-seurat_*.deb >/dev/null 2>&1; then
  apt-get download r-cran-seurat r-cran-seuratobject r-bioc-hsmmsinglecell python3-anndata
fi
for f in *.deb; do dpkg -x "$f" "$CACHE/unpacked"; done
cd "$CACHE/whl"
if [ ! -f "scanpy/datasets/10x_pbmc68k_reduced.h5ad" ]; then
  pip download --no-deps "scanpy==${SCANPY_VERSION}" -d .
  unzip -o -q "scanpy-${SCANPY_VERSION}-py3-none-any.whl" 'scanpy/datasets/10x_pbmc68k_reduced.h5ad' \
        "scanpy-${SCANPY_VERSION}.dist-info/*"
fi
echo "unpacked into $CACHE"
