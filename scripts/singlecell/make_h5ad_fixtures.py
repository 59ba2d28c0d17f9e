#!/usr/bin/python3
"""Writes the .h5ad fixtures of tests/fixtures/singlecell with Debian's anndata 0.8.0 (call /usr/bin/python3).

Usage: make_h5ad_fixtures.py UNPACKED_DIR PBMC_META_CSV HSMM_MEX_DIR OUT_DIR [HSMM_TOP_K]

  pbmc_small.h5ad        80 x 230 CSR counts (Seurat pbmc_raw.txt, MIT) + obs 'cluster' (RNA_snn_res.1: 0/1/2 =
                         36/25/19, SeuratObject pbmc_small, MIT) + obs 'n_counts'. Recipe of datasets.md §4.4.
  pbmc_small_csc.h5ad    the same matrix stored as csc_matrix (tests the CSC path)
  pbmc_small_dense.h5ad  X dense float32 = log1p(counts); layers/counts = CSR counts (tests dense + layers)
  hsmm_top2000.h5ad      HSMMSingleCell (Artistic-2.0) 271 cells x the HSMM_TOP_K (default 2000) genes with the
                         largest variance of log1p(FPKM) across cells (ties: lower original row first), CSR float32,
                         gzip-compressed; obs 'hours' (0/24/48/72), 'media', 'state', 'pseudotime'; var index =
                         Ensembl id, var 'gene_short_name'.
"""
import os
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

unpacked, meta_csv, hsmm_dir, out = sys.argv[1:5]
top_k = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
os.makedirs(out, exist_ok=True)

# ---- pbmc_small ------------------------------------------------------------------------------------------------
raw = pd.read_csv(os.path.join(unpacked, "usr/lib/R/site-library/Seurat/extdata/pbmc_raw.txt"), sep="\t",
                  index_col=0)  # genes x cells
meta = pd.read_csv(meta_csv, index_col=0)
assert list(meta.index) == list(raw.columns), "pbmc_small meta.data and pbmc_raw.txt cell order differ"
obs = pd.DataFrame({"cluster": pd.Categorical(meta["RNA_snn_res.1"].astype(str)),
                    "n_counts": raw.sum(0).values}, index=raw.columns)
counts = sp.csr_matrix(raw.T.values.astype(np.float32))
var = pd.DataFrame(index=raw.index)
ad.AnnData(X=counts, obs=obs, var=var).write_h5ad(os.path.join(out, "pbmc_small.h5ad"))
ad.AnnData(X=sp.csc_matrix(counts), obs=obs, var=var).write_h5ad(os.path.join(out, "pbmc_small_csc.h5ad"))
dense = np.log1p(counts.toarray()).astype(np.float32)
ad.AnnData(X=dense, obs=obs, var=var, layers={"counts": counts}).write_h5ad(
    os.path.join(out, "pbmc_small_dense.h5ad"))

# ---- HSMM -----------------------------------------------------------------------------------------------------
m = scipy.io.mmread(os.path.join(hsmm_dir, "matrix.mtx.gz")).tocsr()  # genes x cells, FPKM
feats = pd.read_csv(os.path.join(hsmm_dir, "features.tsv.gz"), sep="\t", header=None, names=["id", "name"],
                    keep_default_na=False)
cells = pd.read_csv(os.path.join(hsmm_dir, "barcodes.tsv.gz"), header=None)[0].tolist()
hobs = pd.read_csv(os.path.join(hsmm_dir, "obs.csv"), index_col=0)
assert list(hobs.index) == cells
logm = m.copy()
logm.data = np.log1p(logm.data)
mean = np.asarray(logm.mean(axis=1)).ravel()
sq = logm.multiply(logm)
var_ = np.asarray(sq.mean(axis=1)).ravel() - mean ** 2
order = np.lexsort((np.arange(len(var_)), -var_))[:top_k]
keep = np.sort(order)  # keep the original gene order
x = sp.csr_matrix(m[keep].T.astype(np.float32))
obs_h = pd.DataFrame({
    "hours": pd.Categorical(hobs["Hours"].astype(str), categories=["0", "24", "48", "72"]),
    "media": pd.Categorical(hobs["Media"].astype(str)),
    "state": pd.Categorical(hobs["State"].astype(str)),
    "pseudotime": hobs["Pseudotime"].astype(np.float64).values,
}, index=cells)
var_h = pd.DataFrame({"gene_short_name": feats["name"].values[keep]}, index=feats["id"].values[keep])
ad.AnnData(X=x, obs=obs_h, var=var_h).write_h5ad(os.path.join(out, f"hsmm_top{top_k}.h5ad"),
                                                 compression="gzip")

for name in ["pbmc_small.h5ad", "pbmc_small_csc.h5ad", "pbmc_small_dense.h5ad", f"hsmm_top{top_k}.h5ad"]:
    a = ad.read_h5ad(os.path.join(out, name))
    X = a.X if sp.issparse(a.X) else sp.csr_matrix(a.X)
    print(name, a.shape, "nnz", X.nnz, "sum %.6f" % float(np.asarray(X.sum(), dtype=np.float64)))
