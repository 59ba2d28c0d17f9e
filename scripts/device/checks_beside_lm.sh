#!/usr/bin/env bash
# One GPU-machine call that trains an experiment (EXPERIMENT, default lm_pair; scripts/device/reproduce_device.sh)
# in the background while the GPU checks that take the machine's CPUs more than its GPU run in the foreground;
# measurements that need the GPU to themselves run after the experiment's commands have stopped. First used
# 2026-12-04 (docs/benchmarks.md). Stages, in order (STAGES, default "models kernels sanitize", STAGES="" none;
# LM=0 leaves the experiment out):
#   models    test_models_gpu (the fused ops against float64: cross-entropy, norms, add + norm, GELU MLP, packed qkv,
#             linear, the weight copies), test_bias_grad (the bias-gradient kernel against float64) and
#             test_fused_backend (the fused attention's autograd wrapper, both entry points)
#   trainer   test_trainer_gpu (bit-exact resume and CUDA graphs with every fast path on, fused AdamW)
#   kernels   test_kernels (the float64 sweep, every head dim) and test_fused_backend
#   sanitize  compute-sanitizer memcheck and racecheck on every kernel instance and the bias-gradient kernel
#             (bench/device_run.sh sanitize)
#   bench     (afterwards) attention_bench: BENCH_ARGS (default: D 32, 96, 256 at N 1K-16K, fwd + bwd)
#   speed     (afterwards) scripts/device/speed_side_by_side.sh SPEED_MODELS (default gpt2) with SPEED_VARIANTS,
#             sigtrain only unless TORCH_MODES is set (PROFILE=1 adds the CUPTI breakdowns), at most SPEED_TIMEOUT_S
#             (default 400) s; its STEPS and EXTRA_SETS are SPEED_STEPS and SPEED_EXTRA_SETS (STEPS and EXTRA_SETS
#             are the experiment's)
# DEADLINE_S (default 560) bounds the experiment's training commands from this script's start, so that the call ends
# inside the device tool's 600 s. Builds first (scripts/device/build.sh). Run from the root after
# `source .device-slim/unpack.sh`; carry .device-slim and the experiment's data (.device-lm for the LM pair).
# Everything comes back as $OUT/logs.tgz and $OUT/<experiment>.tgz.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp}
STAGES=${STAGES-models kernels sanitize}  # STAGES="" runs none (the experiment only)
EXPERIMENT=${EXPERIMENT:-lm_pair}
want() { [[ " $STAGES " == *" $1 "* ]]; }
t0=$(date +%s)
elapsed() { echo $(( $(date +%s) - t0 )); }
summary=()
stage() { summary+=("$1: $2"); echo "== $1 ($(elapsed) s): $2"; }

# The speed stage's configs read the books of scripts/fetch_data.sh: without them every sigtrain row fails after the
# build and the experiment (a lost call, 2026-12-07), so stop before either.
if want speed; then
  books=(kjv)
  [[ " ${SPEED_MODELS:-gpt2} " == *" stress "* ]] && books=(kjv sherlock-holmes tom-sawyer opticks)
  for book in "${books[@]}"; do
    if [[ ! -f ".cache/sigtrain/corpora/$book.txt" ]]; then
      echo "speed stage: .cache/sigtrain/corpora/$book.txt is missing; run scripts/fetch_data.sh --all here and" \
           "name .cache/sigtrain/corpora/{$(IFS=,; echo "${books[*]}")}.txt (each file) in the run's carry" >&2
      exit 2
    fi
  done
fi

targets=(sigtrain)
want models && targets+=(test_models_gpu test_fused_backend test_bias_grad)
want trainer && targets+=(test_trainer_gpu)
{ want kernels || want sanitize || want bench; } && targets+=(test_kernels test_bias_grad test_fused_backend attention_bench)
OUT="$OUT" TARGETS="${targets[*]}" scripts/device/build.sh || exit 1
stage build "${targets[*]}"

lm_pid=""
if [[ "${LM:-1}" == 1 ]]; then
  DEADLINE_S=$(( ${DEADLINE_S:-560} - $(elapsed) )) scripts/device/reproduce_device.sh "$EXPERIMENT" > "$OUT/$EXPERIMENT.log" 2>&1 &
  lm_pid=$!
fi
if want models; then
  timeout 300 build/tests/models/test_models_gpu > "$OUT/test_models_gpu.log" 2>&1
  stage models "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_models_gpu.log" | tr '\n' ' ')"
  timeout 120 build/tests/kernels/test_bias_grad > "$OUT/test_bias_grad.log" 2>&1
  stage bias_grad "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_bias_grad.log" | tr '\n' ' ')"
  timeout 120 build/tests/kernels/test_fused_backend > "$OUT/test_fused_backend.log" 2>&1
  stage fused_backend "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_fused_backend.log" | tr '\n' ' ')"
fi
if want trainer; then
  timeout 300 build/tests/trainer/test_trainer_gpu > "$OUT/test_trainer_gpu.log" 2>&1
  stage trainer "exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/test_trainer_gpu.log" | tr '\n' ' ')"
fi
if want kernels; then
  OUT="$OUT" PROJECT_BUILD=build timeout 400 bench/device_run.sh test > "$OUT/kernels.log" 2>&1
  stage kernels "exit $?, $(grep -E '^\[  (PASSED|FAILED) |rc=' "$OUT/kernels.log" | tr '\n' ' ')"
fi
if want sanitize; then
  OUT="$OUT" PROJECT_BUILD=build timeout "${SANITIZE_TIMEOUT_S:-420}" bench/device_run.sh sanitize > "$OUT/sanitize.log" 2>&1
  stage sanitize "exit $?, $(grep -E 'ERROR SUMMARY|rc=' "$OUT/sanitize.log" | tr '\n' ' ')"
fi
if [[ -n "$lm_pid" ]]; then
  wait "$lm_pid"
  stage "$EXPERIMENT" "exit $?; $(grep -E ': (training|resuming|completed|cut|not started|finished)' "$OUT/$EXPERIMENT.log" | tr '\n' '|')"
fi
if want bench; then
  OUT="$OUT" PROJECT_BUILD=build bench/device_run.sh bench ${BENCH_ARGS:---d 32,96,256 --dir both} > "$OUT/bench.log" 2>&1
  stage bench "exit $?"
fi
if want speed; then
  TORCH_MODES=${TORCH_MODES:-skip} SIGTRAIN_VARIANTS=${SPEED_VARIANTS:-sigmoid:fused sigmoid:fused:fused_ops.add_norm=off} \
    STEPS=${SPEED_STEPS:-100} EXTRA_SETS=${SPEED_EXTRA_SETS:-} OUT="$OUT" timeout "${SPEED_TIMEOUT_S:-400}" \
    scripts/device/speed_side_by_side.sh ${SPEED_MODELS:-gpt2} > "$OUT/speed.log" 2>&1
  stage speed "exit $?; $(tr '\n' '|' < "$OUT/speed/table.md" 2>/dev/null)"
  (cd "$OUT" && tar czf speed.tgz --exclude=checkpoints --exclude=trace.json speed && rm -rf speed)
fi
printf '%s\n' "${summary[@]}" | tee "$OUT/summary.txt"
(cd "$OUT" && tar czf logs.tgz ./*.log ./*.txt ./*.csv 2>/dev/null;
 find . -maxdepth 1 -type f ! -name '*.tgz' -delete)
