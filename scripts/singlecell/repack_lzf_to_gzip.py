#!/usr/bin/python3
"""Rewrites the LZF-compressed datasets of an HDF5 file with gzip, keeping names, attributes, chunking and the
object references of legacy AnnData categoricals. h5py decodes LZF by itself (plain libhdf5 needs a plugin, and
h5repack refuses filters it cannot see), so the copy is readable by any libhdf5.

Usage: /usr/bin/python3 repack_lzf_to_gzip.py IN.h5ad OUT.h5ad
"""
import shutil
import sys

import h5py

src, dst = sys.argv[1:3]
shutil.copyfile(src, dst)
with h5py.File(dst, "r+") as f:
    lzf, refs = [], {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.compression == "lzf":
                lzf.append(name)
            for k, v in obj.attrs.items():
                if isinstance(v, h5py.Reference):
                    refs[(name, k)] = f[v].name
    f.visititems(visit)
    for name in lzf:
        ds = f[name]
        data, attrs = ds[()], [(k, v) for k, v in ds.attrs.items() if not isinstance(v, h5py.Reference)]
        dtype, chunks, maxshape = ds.dtype, ds.chunks, ds.maxshape
        del f[name]
        new = f.create_dataset(name, data=data, dtype=dtype, chunks=chunks, maxshape=maxshape,
                               compression="gzip", compression_opts=4)
        for k, v in attrs:
            new.attrs[k] = v
    for (name, key), target in refs.items():
        f[name].attrs[key] = f[target].ref
    print(f"{dst}: {len(lzf)} LZF datasets rewritten with gzip, {len(refs)} references restored")
