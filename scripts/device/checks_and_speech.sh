#!/usr/bin/env bash
# One GPU-machine call for the GPU checks and the speech experiments (first used 2026-12-03: results in
# docs/results/speech/ and docs/benchmarks.md). Stages, in order (STAGES="probe models graphs kernels speech
# throughput", the default, or a subset):
#   probe       100 LM steps with a checkpoint every 20 and keep_last 1: the rotation that crashed with
#               std::filesystem::remove_all (common/remove_tree.h) must now run through
#   models      test_models_gpu (the fused ops against float64: cross-entropy, norms, the GELU MLP; fused attention)
#   graphs      test_trainer_gpu (train.cuda_graphs against the eager run, bit-exact resume with the fast paths,
#               fused AdamW)
#   kernels     test_kernels (the float64 sweep, head dims 32 and 96 included)
#   speech      scripts/device/speech_pair.sh (corpus built here, both arms x 2 seeds at once)
#   throughput  scripts/device/speech_throughput.sh (the 255M encoder, sdpa vs fused)
# Run from the root after `source .device-slim/unpack.sh` (scripts/device/pack_deps.sh --speech-tools; carry
# .device-slim and .cache/sigtrain/corpora/kjv.txt). Logs and results under $OUT; a summary line per stage last.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp}
STAGES=${STAGES:-probe models graphs kernels speech throughput}
want() { [[ " $STAGES " == *" $1 "* ]]; }
summary=()
stage() { summary+=("$1: $2"); echo "== $1: $2"; }

targets=(sigtrain)
want models && targets+=(test_models_gpu)
want graphs && targets+=(test_trainer_gpu)
want kernels && targets+=(test_kernels)
t0=$(date +%s)
OUT="$OUT" TARGETS="${targets[*]}" scripts/device/build.sh || exit 1
stage build "$(( $(date +%s) - t0 )) s (${targets[*]})"

if want probe; then
  rm -rf "$OUT/probe"
  build/sigtrain train --config configs/lm/quickstart.yaml --run-dir "$OUT/probe" --set train.device=cuda \
    --set "data.corpus=[tests/fixtures/text/hamlet-act-1.txt]" --set data.tokenizer.vocab_size=320 \
    --set data.val_fraction=0.1 --set train.steps=100 --set checkpoint.every=20 --set checkpoint.keep_last=1 \
    --set eval.every=0 > "$OUT/probe.log" 2>&1
  rc=$?
  stage probe "exit $rc, $(grep -c '] checkpoint ' "$OUT/probe.log") checkpoints, kept: $(ls "$OUT/probe/checkpoints" 2>/dev/null | tr '\n' ' ')"
  rm -rf "$OUT/probe/checkpoints"
fi
if want models; then
  build/tests/models/test_models_gpu > "$OUT/test_models_gpu.log" 2>&1
  stage models "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_models_gpu.log" | tr '\n' ' ')"
fi
if want graphs; then
  build/tests/trainer/test_trainer_gpu > "$OUT/test_trainer_gpu.log" 2>&1
  stage graphs "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_trainer_gpu.log" | tr '\n' ' ')"
fi
if want kernels; then
  build/tests/kernels/test_kernels > "$OUT/test_kernels.log" 2>&1
  stage kernels "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_kernels.log" | tr '\n' ' ')"
fi
if want speech; then
  SEEDS=${SEEDS:-"1337 1338"} PARALLEL=${PARALLEL:-4} scripts/device/speech_pair.sh > "$OUT/speech_pair.log" 2>&1
  stage speech "exit $?; $(tail -n 6 "$OUT/speech_pair.log" | tr '\n' '|')"
  (cd "$OUT" && tar czf speech.tgz --exclude=checkpoints speech && rm -rf speech)
fi
if want throughput; then
  scripts/device/speech_throughput.sh > "$OUT/speech_throughput.log" 2>&1
  stage throughput "exit $?; $(tr '\n' '|' < "$OUT/speech_throughput.log")"
  rm -rf "$OUT/speech_throughput"
fi
printf '%s\n' "${summary[@]}"
