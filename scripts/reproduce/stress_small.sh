#!/usr/bin/env bash
# The small no-clipping stress pair (docs/stability.md §5, docs/results/stress_small/): a 4 x 256 encoder on
# 2048-token masked-token windows of KJV + three books, lr 1e-1, no clipping, softmax vs sigmoid (b = -log n), both
# through the math backend. Claim: softmax's gradient norm blows up (measured: 419x its early median), sigmoid's
# stays within a few x. One H200: well under a minute per run.
#
#   scripts/reproduce/stress_small.sh                  # seeds 1337 1338 -> runs/reproduce/stress_small/
#   SEEDS=1337 scripts/reproduce/stress_small.sh       # one seed
#   SMOKE=1 scripts/reproduce/stress_small.sh          # a tiny CPU version (seconds; the test of this pipeline)
# Needs the corpora: scripts/fetch_data.sh --all. Every setting: scripts/reproduce/lib.sh (--help).
# The learning-rate search that chose lr 1e-1 is scripts/device/stress_pair.sh (STRESS_LRS).
source "$(dirname "$0")/lib.sh"
EXPERIMENT=stress_small
DEFAULT_SEEDS="1337 1338"
# logging.every=1: every step's grad norm in metrics.jsonl too (the blow-up can be a single-step spike).
repro_arm softmax configs/stress/small_softmax.yaml logging.every=1
repro_arm sigmoid configs/stress/small_sigmoid.yaml logging.every=1
DEFAULT_CKPT_SETS="checkpoint.every=100 checkpoint.keep_last=1 checkpoint.save_final=true"
SMOKE_SETS=("${REPRO_SMOKE_TEXT_SETS[@]}" model.n_layer=2 model.d_model=64 model.n_head=4 model.max_seq_len=64
            data.seq_len=64 train.global_batch_tokens=512 train.micro_batch_size=4 eval.tokens=1024 eval.batch_size=8)
repro_main "$@"
