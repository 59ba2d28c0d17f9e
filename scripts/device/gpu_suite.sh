#!/usr/bin/env bash
# Everything the project runs on a GPU machine, in stages, each reported and none fatal to the next.
# Usage (on the device, from the repo root, after `source .device/unpack.sh`):
#   scripts/device/gpu_suite.sh [build] [tests] [lm] [fused] [stress] [ddp] [ddp160m] [cells] [kernels]
# With no stage names, runs them all. Logs and run folders go under $OUT (or /tmp). STRESS_TIMEOUT_S,
# DDP_TIMEOUT_S and CELLS_TIMEOUT_S bound the long stages (default 240 s each).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT=${OUT:-/tmp}
export NCCL_NVLS_ENABLE=0
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(build tests lm fused stress ddp ddp160m cells kernels)
declare -A result
t0=$(date +%s)
stage() {
  local name=$1; shift
  local s=$(date +%s)
  echo "=== $name ($(date -u +%H:%M:%S))"
  if "$@" 2>&1 | tee "$OUT/$name.log"; then result[$name]="ok"; else result[$name]="FAILED"; fi
  result[$name]="${result[$name]} ($(( $(date +%s) - s )) s)"
}
for st in "${stages[@]}"; do
  case $st in
    build) stage build scripts/device/build.sh ;;
    tests) stage tests ctest --test-dir build -L gpu --output-on-failure ;;
    lm) stage lm scripts/device/lm_throughput.sh 40 ;;
    fused) stage fused scripts/device/fused_vs_math.sh 300 ;;
    stress) stage stress timeout "${STRESS_TIMEOUT_S:-240}" scripts/device/stress_pair.sh ;;
    ddp) stage ddp timeout "${DDP_TIMEOUT_S:-240}" scripts/device/ddp_bench.sh ;;
    ddp160m) stage ddp160m env MODEL=stress160m timeout "${DDP_TIMEOUT_S:-240}" scripts/device/ddp_bench.sh ;;
    cells) stage cells timeout "${CELLS_TIMEOUT_S:-240}" scripts/device/singlecell_pair.sh ;;
    kernels) [ -x build/bench/attention_bench ] && stage kernels build/bench/attention_bench --quick ;;
    *) echo "unknown stage $st" ;;
  esac
done
echo "=== summary (total $(( $(date +%s) - t0 )) s, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $(nvidia-smi -L | wc -l))"
for k in "${!result[@]}"; do echo "  $k: ${result[$k]}"; done
