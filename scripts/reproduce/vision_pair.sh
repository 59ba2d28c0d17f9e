#!/usr/bin/env bash
# Softmax vs sigmoid ViT on Fashion-MNIST (docs/vision.md, docs/results/vision_fmnist/): a 6 x 192 ViT on 4 x 4
# patches, 80 epochs of 512 images, softmax through sdpa vs sigmoid (b = -log n, QK-norm) through the fused kernels
# (configs/vision/fmnist_{softmax,sigmoid}.yaml). Claim (first seed paper): sigmoid matches softmax in ViTs.
# One H200: ~7 min for all four runs with PARALLEL=4 (the model is host-bound, so the runs share the GPU well).
#
#   scripts/fetch_vision_data.sh                      # Fashion-MNIST, once
#   PARALLEL=4 scripts/reproduce/vision_pair.sh       # seeds 1337 1338 -> runs/reproduce/vision_pair/
#   SMOKE=1 scripts/reproduce/vision_pair.sh          # a tiny CPU version on the committed 64-image fixture
# scripts/device/vision_pair.sh runs this on the GPU machine and adds its own table. Every setting:
# scripts/reproduce/lib.sh (--help).
source "$(dirname "$0")/lib.sh"
EXPERIMENT=vision_pair
DEFAULT_SEEDS="1337 1338"
repro_arm softmax configs/vision/fmnist_softmax.yaml
repro_arm sigmoid configs/vision/fmnist_sigmoid.yaml
DEFAULT_CKPT_SETS="checkpoint.every=1000 checkpoint.keep_last=1 checkpoint.save_final=true"
SMOKE_SETS=("${REPRO_SMOKE_SETS[@]}" "data.path=$REPO_ROOT/tests/fixtures/vision/fashion-mnist" data.workers=1
            model.n_layer=2 model.d_model=32 model.n_head=2 model.d_ff=64 model.drop_path=0 model.vision.patch_size=7
            train.global_batch_tokens=544 train.micro_batch_size=16 eval.batch_size=16)
repro_main "$@"
