# HSMMSingleCell (Trapnell et al. 2014; 47,192 genes x 271 cells, FPKM) -> 10x-style MEX (real-valued) + obs.csv.
# Recipe of ../shared/docs/datasets.md §4.4. Needs only r-base-core (no Bioconductor packages installed).
# Usage: Rscript hsmm_to_mex.R UNPACKED_DIR OUT_DIR
a <- commandArgs(trailingOnly = TRUE)
d <- file.path(a[1], "usr/lib/R/site-library/HSMMSingleCell/data")
out <- a[2]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
load(file.path(d, "HSMM_expr_matrix.rda")); load(file.path(d, "HSMM_sample_sheet.rda"))
load(file.path(d, "HSMM_gene_annotation.rda"))
x <- HSMM_expr_matrix
nz <- which(x != 0, arr.ind = TRUE)
con <- gzfile(file.path(out, "matrix.mtx.gz"), "w")
writeLines(c("%%MatrixMarket matrix coordinate real general", paste(nrow(x), ncol(x), nrow(nz))), con)
write.table(cbind(nz, signif(x[nz], 6)), con, row.names = FALSE, col.names = FALSE)
close(con)
write.table(data.frame(rownames(x), HSMM_gene_annotation[rownames(x), "gene_short_name"]),
            gzfile(file.path(out, "features.tsv.gz")), sep = "\t", quote = FALSE, row.names = FALSE,
            col.names = FALSE)
writeLines(colnames(x), gzfile(file.path(out, "barcodes.tsv.gz")))
write.csv(HSMM_sample_sheet[colnames(x), c("Hours", "Media", "State", "Pseudotime")], file.path(out, "obs.csv"))
