#!/usr/bin/env bash
# Data-parallel scaling (issues 5 and 7): tokens/s of one model on 1, 2, 4, 8 GPUs (those visible) for each attention
# variant, at a fixed global batch, and the scaling efficiency
#   efficiency(N) = tokens/s on N GPUs / (N x tokens/s on 1 GPU)      (same variant, same global batch)
# Tokens/s is the mean of the logged windows after the first WARMUP steps (metrics.jsonl), so start-up, NCCL
# connection and allocator warm-up are not counted. Each run's failure is reported and the others still run.
#
# Usage (repo root, built tree): scripts/device/ddp_bench.sh [STEPS] [WARMUP]
#   MODEL=gpt2 (default): configs/lm/gpt2_small.yaml, 131072 tokens per step (128 x 1024; micro-batch 16, so
#                         8 GPUs take one micro-batch each); STEPS/WARMUP default 30/10.
#   MODEL=stress160m:     configs/stress/paper.yaml (160M bidirectional encoder, 8192-token sequences, masked
#                         tokens), 262144 tokens per step (32 x 8192; micro-batch 4); STEPS/WARMUP default 14/4;
#                         the attention-statistics instrument is off (it materialises 8K x 8K scores).
#   VARIANTS="sigmoid:fused softmax:sdpa" (default): attention.kind:attention.backend pairs, one scaling row set each.
#   GPUS="1 2 4 8" (default): GPU counts to run; counts above the visible GPUs are skipped.
#   AFTER=1: also run 2 GPUs with the all-reduce after backward (dist.overlap=false) for each variant.
#   SIGTRAIN=path/to/sigtrain (default build/sigtrain), OUT=folder for logs and run folders (default /tmp).
# The table is printed and written to $OUT/ddp_bench/<MODEL>_table.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-gpt2}
VARIANTS=${VARIANTS:-"sigmoid:fused softmax:sdpa"}
GPUS=${GPUS:-"1 2 4 8"}
AFTER=${AFTER:-0}
SIGTRAIN=${SIGTRAIN:-build/sigtrain}
OUTDIR=${OUT:-/tmp}/ddp_bench
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}

case $MODEL in
  gpt2)
    STEPS=${1:-30} WARMUP=${2:-10}
    common=(--config configs/lm/gpt2_small.yaml --set train.global_batch_tokens=131072 --set train.micro_batch_size=16
            --set logging.every=5 --set eval.every=0 --set eval.tokens=16384) ;;
  stress160m)
    STEPS=${1:-14} WARMUP=${2:-4}
    common=(--config configs/stress/paper.yaml --set train.global_batch_tokens=262144 --set train.micro_batch_size=4
            --set logging.every=2 --set eval.every=0 --set monitor.attention_every=0) ;;
  *) echo "ddp_bench: unknown MODEL=$MODEL (expected gpt2 or stress160m)"; exit 2 ;;
esac
common+=(--set train.steps="$STEPS" --set checkpoint.save_final=false --set schedule.warmup_steps=5)

mkdir -p "$OUTDIR"
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
echo "ddp_bench: $MODEL, $ngpu GPU(s) visible, GPU counts [$GPUS], variants [$VARIANTS]," \
     "$STEPS steps (first $WARMUP not measured), logs in $OUTDIR"

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

# One row per run: "variant nproc overlap name"
rows=()
for variant in $VARIANTS; do
  for n in $GPUS; do
    rows+=("$variant $n true ${MODEL}_${variant/:/-}_${n}gpu")
    if [ "$n" -eq 2 ] && [ "$AFTER" = 1 ]; then
      rows+=("$variant 2 false ${MODEL}_${variant/:/-}_2gpu-after")
    fi
  done
done

declare -A tps
for r in "${rows[@]}"; do
  set -- $r
  variant=$1 nproc=$2 overlap=$3 name=$4
  kind=${variant%%:*} backend=${variant#*:}
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
  if timeout 300 "${cmd[@]}" "${common[@]}" --set attention.kind="$kind" --set attention.backend="$backend" \
       --set dist.overlap="$overlap" --run-dir "$run" > "$run.log" 2>&1; then
    tps[$name]=$(measure "$run/metrics.jsonl")
    echo "  $name: ok ($(( $(date +%s) - t0 )) s), ${tps[$name]:-?} tokens/s"
  else
    echo "  $name: FAILED (exit $?, $(( $(date +%s) - t0 )) s); last lines of $run.log:"
    tail -5 "$run.log" | sed 's/^/    | /'
  fi
done

{
  echo
  echo "| attention | GPUs | overlap | tokens/s | tokens/s per GPU | scaling efficiency |"
  echo "|---|---:|---|---:|---:|---:|"
  for r in "${rows[@]}"; do
    set -- $r
    variant=$1 nproc=$2 overlap=$3 name=$4
    t=${tps[$name]:-}
    if [ -z "$t" ]; then
      echo "| $variant | $nproc | $overlap | – | – | – |"
      continue
    fi
    base=${tps[${MODEL}_${variant/:/-}_1gpu]:-}
    eff="–"
    [ -n "$base" ] && eff=$(python3 -c "print(f'{100 * $t / ($nproc * $base):.1f} %')")
    echo "| $variant | $nproc | $overlap | $t | $(( t / nproc )) | $eff |"
  done
} | tee "$OUTDIR/${MODEL}_table.md"
