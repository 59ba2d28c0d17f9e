# Writes the meta.data of SeuratObject's pbmc_small (80 PBMCs; clusters RNA_snn_res.1 = 0/1/2 with 36/25/19 cells)
# to CSV without installing Seurat/SeuratObject: lazyLoad reads the unpacked package data directly.
# Usage: Rscript pbmc_small_labels.R UNPACKED_DIR OUT.csv
a <- commandArgs(trailingOnly = TRUE)
e <- new.env()
lazyLoad(file.path(a[1], "usr/lib/R/site-library/SeuratObject/data/Rdata"), envir = e)
write.csv(attr(e$pbmc_small, "meta.data"), a[2])
