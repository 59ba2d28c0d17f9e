#!/usr/bin/env bash
# Softmax vs sigmoid attention on single cells (docs/singlecell.md, docs/results/singlecell_pbmc68k/): masked-
# expression pretraining of a 4 x 256 encoder on scanpy's pbmc68k_reduced (700 cells, committed under
# tests/fixtures/singlecell), softmax through sdpa vs sigmoid through the fused kernel
# (configs/singlecell/pbmc68k_{softmax,sigmoid}.yaml); the report adds the embedding metrics (kNN accuracy, ASW).
# One H200: 20-45 s per run (1200 steps).
#
#   scripts/reproduce/singlecell_pair.sh              # seeds 1337 1338 1339 -> runs/reproduce/singlecell_pair/
#   SMOKE=1 scripts/reproduce/singlecell_pair.sh      # a tiny CPU version (2 x 32 encoder, math backend)
# scripts/device/singlecell_pair.sh runs this on the GPU machine within a time budget and adds its table of the
# last evaluation records. Every setting: scripts/reproduce/lib.sh (--help).
source "$(dirname "$0")/lib.sh"
EXPERIMENT=singlecell_pair
DEFAULT_SEEDS="1337 1338 1339"
repro_arm softmax configs/singlecell/pbmc68k_softmax.yaml
repro_arm sigmoid configs/singlecell/pbmc68k_sigmoid.yaml
DEFAULT_CKPT_SETS="checkpoint.every=300 checkpoint.keep_last=1 checkpoint.save_final=true"
SMOKE_SETS=("${REPRO_SMOKE_SETS[@]}" model.n_layer=2 model.d_model=32 model.n_head=2 model.dropout=0
            train.global_batch_tokens=4096 train.micro_batch_size=8 eval.batch_size=32)
repro_main "$@"
