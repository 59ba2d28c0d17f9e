#!/usr/bin/env bash
# ViT-B/16 images/s on one GPU: sigtrain (softmax/sdpa, sigmoid/fused) and the plain PyTorch program of the same
# model and step (bench/vit_torch.py, eager and torch.compile), in one call; prints a table. Needs build/sigtrain.
#   scripts/device/vit_throughput.sh            # 40 sigtrain steps, 30 timed PyTorch steps, batch 256 (micro 128)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR=${OUT:-/tmp}/vit_throughput
DATA=/tmp/sigtrain-vit-synthetic
mkdir -p "$OUTDIR"
python3 scripts/vision/make_synthetic_idx.py "$DATA" --size 224 --train 4096 --test 512
TOKENS=197
printf "%-22s %10s %10s\n" variant img/s "tokens/s"
for v in "softmax-sdpa softmax sdpa" "sigmoid-fused sigmoid fused"; do
  set -- $v
  run="$OUTDIR/$1"
  rm -rf "$run"
  if build/sigtrain train --config configs/vision/vit_b16_throughput.yaml --run-dir "$run" \
       --set attention.kind="$2" --set attention.backend="$3" > "$run.log" 2>&1; then
    tps=$(python3 -c "import json;r=[json.loads(l) for l in open('$run/metrics.jsonl') if '\"train\"' in l];print(int(r[-1]['tokens_per_s']))")
    printf "%-22s %10d %10d\n" "sigtrain-$1" $(( tps / TOKENS )) "$tps"
  else
    printf "%-22s   (failed: %s)\n" "sigtrain-$1" "$(tail -1 "$run.log")"
  fi
done
for mode in eager compile; do
  python3 bench/vit_torch.py --mode "$mode" --batch 256 --micro 128 --steps 30 2>&1 | tail -1 | tee -a "$OUTDIR/pytorch.txt"
done
