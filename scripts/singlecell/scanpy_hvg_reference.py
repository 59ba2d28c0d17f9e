#!/usr/bin/python3
"""Reference for the highly-variable-gene test: the gene selection of scanpy 1.9.8's
highly_variable_genes(flavor="seurat", n_top_genes=K) after normalize_total(target_sum=1e4) + log1p, computed by
the statements of scanpy's _highly_variable_genes_single_batch (copied from the 1.9.8 wheel, which cannot be
imported here without numba) with Debian's numpy/pandas/anndata.

Usage: /usr/bin/python3 scanpy_hvg_reference.py FILE.h5ad K > expected.txt   (one selected var name per line)
"""
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

path, k = sys.argv[1], int(sys.argv[2])
a = ad.read_h5ad(path)
X = sp.csr_matrix(a.X, dtype=np.float32)
tot = np.asarray(X.sum(axis=1)).ravel()
X = sp.diags((1e4 / np.where(tot > 0, tot, 1)).astype(np.float32)) @ X  # normalize_total
X.data = np.log1p(X.data)                                              # log1p
X = X.copy()
X.data = np.expm1(X.data)                                              # flavor="seurat": back to counts scale
mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
mean_sq = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel()
var = (mean_sq - mean ** 2) * (X.shape[0] / (X.shape[0] - 1))           # scanpy _get_mean_var, ddof 1
mean[mean == 0] = 1e-12
dispersion = var / mean
dispersion[dispersion == 0] = np.nan
dispersion = np.log(dispersion)
mean = np.log1p(mean)
df = pd.DataFrame({"means": mean, "dispersions": dispersion})
df["mean_bin"] = pd.cut(df["means"], bins=20)
g = df.groupby("mean_bin")["dispersions"]
disp_mean_bin, disp_std_bin = g.mean(), g.std(ddof=1)
one = disp_std_bin.isnull()
disp_std_bin[one.values] = disp_mean_bin[one.values].values
disp_mean_bin[one.values] = 0
df["dispersions_norm"] = (df["dispersions"].values - disp_mean_bin[df["mean_bin"].values].values) / \
    disp_std_bin[df["mean_bin"].values].values
dn = df["dispersions_norm"].values
d = dn[~np.isnan(dn)]
d[::-1].sort()
cut = d[k - 1]
subset = np.nan_to_num(dn) >= cut
sys.stderr.write(f"{subset.sum()} genes at cut-off {cut}\n")
for name in a.var_names[subset]:
    print(name)
