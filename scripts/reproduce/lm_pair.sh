#!/usr/bin/env bash
# Softmax vs sigmoid attention language modelling (first seed paper: sigmoid with b = -log n matches softmax):
# GPT-2-small shape, T 1024, on the Gutenberg-type corpus from Debian packages (configs/lm/pair*.yaml), softmax
# through sdpa vs sigmoid through our fused kernels; optional arms with QK-norm and hybrid norm (the papers'
# stabilisers for sigmoid): ARMS="softmax sigmoid sigmoid_qknorm sigmoid_hybrid".
# One H200: ~3.7 min per run (3000 steps x 32K tokens at the measured 440K tokens/s), ~15 min for 2 seeds x 2 arms.
#
#   scripts/lm/build_gutenberg_corpus.sh             # the corpus, once (into .cache/sigtrain/corpora/gutenberg/)
#   scripts/reproduce/lm_pair.sh                      # seeds 1337 1338 -> runs/reproduce/lm_pair/
#   RUN_TIMEOUT_S=540 BUDGET_S=560 scripts/reproduce/lm_pair.sh   # bounded device calls; re-run to continue
#   SMOKE=1 scripts/reproduce/lm_pair.sh              # a tiny CPU version (Hamlet, both through math)
# Every setting: scripts/reproduce/lib.sh (--help).
source "$(dirname "$0")/lib.sh"
EXPERIMENT=lm_pair
DEFAULT_SEEDS="1337 1338"
repro_arm softmax configs/lm/pair_softmax.yaml
repro_arm sigmoid configs/lm/pair_sigmoid.yaml
repro_arm sigmoid_qknorm configs/lm/pair_sigmoid.yaml model.qk_norm=true
repro_arm sigmoid_hybrid configs/lm/pair_sigmoid.yaml model.qk_norm=true model.norm_placement=hybrid
DEFAULT_ARMS="softmax sigmoid"
DEFAULT_CKPT_SETS="checkpoint.every=500 checkpoint.keep_last=1 checkpoint.save_final=true"
SMOKE_SETS=("${REPRO_SMOKE_TEXT_SETS[@]}" model.vocab_size=0 model.n_layer=2
            model.d_model=64 model.n_head=4 model.max_seq_len=64 data.seq_len=64 train.global_batch_tokens=512
            train.micro_batch_size=4 eval.tokens=1024 eval.batch_size=8)
repro_main "$@"
