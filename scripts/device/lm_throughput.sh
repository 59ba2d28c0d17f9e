#!/usr/bin/env bash
# Tokens/s and MFU of the GPT-2-small-shaped config (12 x 768, 12 heads, T 1024, B 16) on one GPU, for each
# attention variant; prints a table. Usage: scripts/device/lm_throughput.sh [STEPS]
set -uo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-40}
OUTDIR=${OUT:-/tmp}/lm_throughput
mkdir -p "$OUTDIR"
variants=(
  "softmax-sdpa attention.kind=softmax attention.backend=sdpa"
  "softmax-math attention.kind=softmax attention.backend=math"
  "sigmoid-math attention.kind=sigmoid attention.backend=math"
  "sigmoid-fused attention.kind=sigmoid attention.backend=fused"
)
printf "%-16s %12s %8s %10s\n" variant tokens/s MFU% final_loss
for v in "${variants[@]}"; do
  set -- $v
  name=$1; shift
  sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  run="$OUTDIR/$name"
  rm -rf "$run"
  if build/sigtrain train --config configs/lm/gpt2_small.yaml --run-dir "$run" "${sets[@]}" \
       --set train.steps="$STEPS" --set train.global_batch_tokens=16384 --set logging.every=10 \
       > "$run.log" 2>&1; then
    # Throughput of the last logged window (after warm-up), MFU from the same progress line.
    line=$(grep '^step' "$run.log" | tail -1)
    tps=$(python3 -c "import json;r=[json.loads(l) for l in open('$run/metrics.jsonl') if '\"train\"' in l];print(int(r[-1]['tokens_per_s']))")
    mfu=$(echo "$line" | sed -n 's/.*MFU \([0-9.]*\)%.*/\1/p')
    loss=$(echo "$line" | sed -n 's/.*loss \([0-9.]*\) .*/\1/p')
    printf "%-16s %12s %8s %10s\n" "$name" "$tps" "${mfu:-?}" "$loss"
  else
    printf "%-16s %12s   (failed: %s)\n" "$name" "-" "$(tail -1 "$run.log")"
  fi
done
