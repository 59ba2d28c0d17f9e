#!/usr/bin/env bash
# Throughput of the paper-sized speech encoder (configs/speech/paper_255m.yaml: 36 x 768, 20 s slots, 32 per
# micro-batch) on one GPU, softmax/sdpa vs sigmoid/fused (issue 13), on the synthetic corpus of
# scripts/speech/build_corpus.sh (LibriSpeech is not on the GPU machine: data.format is set to manifest). Prints slot
# positions/s (what tokens_per_s counts), the real audio seconds per second (positions/s x slot fill x 40 ms) and the
# step time.
#   scripts/device/speech_throughput.sh [STEPS]      # default 200 steps, the last logged window of 10
# 200, not 40: the bucket batches have a new sequence length at almost every step of the first epochs, and the
# 40-step run of 2026-12-03 measured sdpa while it still met new shapes (docs/benchmarks.md).
# Environment: VARIANTS (default "softmax:sdpa sigmoid:fused", kind:backend pairs), EXTRA_SETS (space-separated
#   key=value items, each passed as --set key=value after the script's own, so they win). A CPU dry run:
#   VARIANTS="softmax:math" EXTRA_SETS="train.device=cpu model.n_layer=1 model.d_model=64 model.n_head=1 \
#     model.d_ff=128 model.speech.conv_channels=16 train.micro_batch_size=2 train.global_batch_tokens=996 \
#     data.workers=1" scripts/device/speech_throughput.sh 2
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
STEPS=${1:-200}
VARIANTS=${VARIANTS:-softmax:sdpa sigmoid:fused}
OUTDIR=${OUT:-/tmp}/speech_throughput
mkdir -p "$OUTDIR"
corpus=.cache/sigtrain/speech/synth
[[ -f $corpus/train.jsonl ]] || { echo "speech_throughput.sh: no $corpus/train.jsonl (scripts/speech/build_corpus.sh --only synth)" >&2; exit 1; }
extra_sets=()
for kv in ${EXTRA_SETS:-}; do extra_sets+=(--set "$kv"); done
printf "%-16s %12s %12s %10s %9s\n" variant "slots/s" "audio s/s" "step ms" "peak GiB"
rc=0
for v in $VARIANTS; do
  IFS=: read -r kind backend <<< "$v"
  name="$kind-$backend"
  run="$OUTDIR/$name"
  rm -rf "$run"
  # global_batch_tokens 15936 = 498 positions (20 s slot) x 32 slots: one GPU, one micro-batch of the preset.
  if build/sigtrain train --config configs/speech/paper_255m.yaml --run-dir "$run" \
       --set data.format=manifest --set data.path="$PWD/$corpus/train.jsonl" --set data.val_path="$PWD/$corpus/val.jsonl" \
       --set attention.kind="$kind" --set attention.backend="$backend" --set train.steps="$STEPS" \
       --set train.global_batch_tokens=15936 --set logging.every=10 --set eval.every=0 \
       --set checkpoint.every=0 --set checkpoint.save_final=false "${extra_sets[@]}" > "$run.log" 2>&1; then
    python3 - "$run" "$name" <<'PY' || rc=1
import json, os, re, sys
run, name = sys.argv[1:]
train = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if '"train"' in l]
fill = json.load(open(os.path.join(run, "speech.json")))["slot_fill"]
gbt = int(re.search(r"global_batch_tokens:\s*(\d+)", open(os.path.join(run, "config.yaml")).read()).group(1))
last = train[-1]
tps = last["tokens_per_s"]
step_ms = gbt / tps * 1e3
peak = last.get("gpu_mem_peak_gib", float("nan"))
print(f"{'sigtrain-' + name:16} {tps:12.0f} {tps * fill * 0.04:12.1f} {step_ms:10.1f} {peak:9.1f}   (slot fill {fill:.3f})")
PY
  else
    rc=1
    printf "%-16s   (failed: %s)\n" "sigtrain-$name" "$(grep -v '^step' "$run.log" | tail -1)"
  fi
done
exit $rc
