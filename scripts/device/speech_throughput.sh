#!/usr/bin/env bash
# Throughput of the paper-sized speech encoder (configs/speech/paper_255m.yaml: 36 x 768, 20 s slots, 32 per
# micro-batch) on one GPU, softmax/sdpa vs sigmoid/fused (issue 13), on the synthetic corpus of
# scripts/speech/build_corpus.sh (LibriSpeech is not on the GPU machine). Prints slot positions/s (what tokens_per_s
# counts), the real audio seconds per second (positions/s x slot fill x 40 ms) and the step time.
#   scripts/device/speech_throughput.sh [STEPS]      # default 40 steps, the last logged window of 10
set -uo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-40}
OUTDIR=${OUT:-/tmp}/speech_throughput
mkdir -p "$OUTDIR"
corpus=.cache/sigtrain/speech/synth
[[ -f $corpus/train.jsonl ]] || { echo "speech_throughput.sh: no $corpus/train.jsonl (scripts/speech/build_corpus.sh --only synth)" >&2; exit 1; }
printf "%-16s %12s %12s %10s %9s\n" variant "slots/s" "audio s/s" "step ms" "peak GiB"
for v in "softmax-sdpa softmax sdpa" "sigmoid-fused sigmoid fused"; do
  set -- $v
  run="$OUTDIR/$1"
  rm -rf "$run"
  if build/sigtrain train --config configs/speech/paper_255m.yaml --run-dir "$run" \
       --set data.path="$PWD/$corpus/train.jsonl" --set data.val_path="$PWD/$corpus/val.jsonl" \
       --set attention.kind="$2" --set attention.backend="$3" --set train.steps="$STEPS" \
       --set train.global_batch_tokens=15936 --set logging.every=10 --set eval.every=0 \
       --set checkpoint.every=0 --set checkpoint.save_final=false > "$run.log" 2>&1; then
    python3 - "$run" "$1" <<'PY'
import json, os, sys
run, name = sys.argv[1:]
train = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if '"train"' in l]
fill = json.load(open(os.path.join(run, "speech.json")))["slot_fill"]
last = train[-1]
tps = last["tokens_per_s"]
step_ms = 15936 / tps * 1e3
peak = last.get("gpu_mem_peak_gib", float("nan"))
print(f"{'sigtrain-' + name:16} {tps:12.0f} {tps * fill * 0.04:12.1f} {step_ms:10.1f} {peak:9.1f}   (slot fill {fill:.3f})")
PY
  else
    printf "%-16s   (failed: %s)\n" "sigtrain-$1" "$(tail -1 "$run.log")"
  fi
done
