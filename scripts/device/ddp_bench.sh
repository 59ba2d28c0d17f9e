#!/usr/bin/env bash
# Data-parallel throughput of the GPT-2-small-shaped config (configs/lm/gpt2_small.yaml) on 1 and 2 GPUs, with the
# gradient all-reduce overlapped with backward and not; prints tokens/s and the scaling efficiency
#   efficiency = tokens/s on 2 GPUs / (2 x tokens/s on 1 GPU)
# for the same global batch (131072 tokens = 128 sequences: 1 GPU accumulates 8 micro-batches of 16, 2 GPUs 4 each).
# Tokens/s is the mean of the logged windows after the first WARMUP steps (metrics.jsonl), so start-up, NCCL
# connection and allocator warm-up are not counted. Each run's failure is reported and the others still run.
#
# Usage (repo root, built tree): scripts/device/ddp_bench.sh [STEPS] [WARMUP]       (defaults 30 and 10)
#   SIGTRAIN=path/to/sigtrain (default build/sigtrain), OUT=folder for logs and run folders (default /tmp).
# About 3 minutes of GPU time on 2 x H200 (3 runs of ~30 steps plus start-up).
set -uo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-30}
WARMUP=${2:-10}
SIGTRAIN=${SIGTRAIN:-build/sigtrain}
OUTDIR=${OUT:-/tmp}/ddp_bench
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
mkdir -p "$OUTDIR"
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
echo "ddp_bench: $ngpu GPU(s), $STEPS steps (first $WARMUP not measured), logs in $OUTDIR"

common=(--config configs/lm/gpt2_small.yaml --set train.steps="$STEPS" --set train.global_batch_tokens=131072
        --set train.micro_batch_size=16 --set logging.every=5 --set eval.every=0 --set eval.tokens=16384
        --set checkpoint.save_final=false --set schedule.warmup_steps=5)

# name  nproc  overlap
runs=(
  "1gpu         1 true"
  "2gpu-overlap 2 true"
  "2gpu-after   2 false"
  "4gpu-overlap 4 true"
)

# Mean tokens/s over train records with step > WARMUP; empty when there are none.
measure() {
  python3 - "$1" "$WARMUP" <<'EOF'
import json, sys
path, warmup = sys.argv[1], int(sys.argv[2])
recs = [json.loads(l) for l in open(path) if l.strip()]
tps = [r["tokens_per_s"] for r in recs if r.get("type") == "train" and r["step"] > warmup]
print(f"{sum(tps) / len(tps):.0f}" if tps else "")
EOF
}

declare -A tps
for r in "${runs[@]}"; do
  set -- $r
  name=$1 nproc=$2 overlap=$3
  run="$OUTDIR/$name"
  rm -rf "$run"
  if [ "$nproc" -gt "$ngpu" ]; then
    echo "  $name: skipped (needs $nproc GPUs, $ngpu visible)"
    continue
  fi
  if [ "$nproc" -eq 1 ]; then
    cmd=("$SIGTRAIN" train)
  else
    cmd=("$SIGTRAIN" launch --nproc-per-node "$nproc" train)
  fi
  t0=$(date +%s)
  if timeout 300 "${cmd[@]}" "${common[@]}" --set dist.overlap="$overlap" --run-dir "$run" > "$run.log" 2>&1; then
    tps[$name]=$(measure "$run/metrics.jsonl")
    echo "  $name: ok ($(( $(date +%s) - t0 )) s), ${tps[$name]:-?} tokens/s"
  else
    echo "  $name: FAILED (exit $?, $(( $(date +%s) - t0 )) s); last lines of $run.log:"
    tail -5 "$run.log" | sed 's/^/    | /'
  fi
done

echo
printf "%-14s %5s %8s %12s %14s %11s\n" run GPUs overlap tokens/s tokens/s/GPU efficiency
base=${tps[1gpu]:-}
for r in "${runs[@]}"; do
  set -- $r
  name=$1 nproc=$2 overlap=$3
  t=${tps[$name]:-}
  if [ -z "$t" ]; then
    printf "%-14s %5s %8s %12s %14s %11s\n" "$name" "$nproc" "$overlap" "-" "-" "-"
    continue
  fi
  per=$(( t / nproc ))
  eff="-"
  [ -n "$base" ] && eff=$(python3 -c "print(f'{100 * $t / ($nproc * $base):.1f}%')")
  printf "%-14s %5s %8s %12s %14s %11s\n" "$name" "$nproc" "$overlap" "$t" "$per" "$eff"
done
