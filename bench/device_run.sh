#!/usr/bin/env bash
# One-shot GPU-machine script: build the kernels standalone (+ LibTorch columns when possible), run the tests,
# compute-sanitizer memcheck/racecheck on a small sweep, then the benchmark. Logs go to $OUT (or ./device-out).
#   bench/device_run.sh [build|test|sanitize|bench|all] [bench args...]   (build: only the build, e.g. before a
#   stage run under `timeout`)
#   PROJECT_BUILD=build uses the binaries of the project's own build instead of building the kernels standalone.
#   SA_CMAKE_ARGS="-DSIGTRAIN_KERNELS_TUNING_VARIANTS=ON" adds CMake arguments (e.g. the tuning variants for --variants).
#   MEMCHECK_FILTER / RACECHECK_FILTER: the sanitizers' gtest filters (default: every kernel instance / a few cases).
set -uo pipefail
OUT=${OUT:-$PWD/device-out}; mkdir -p "$OUT"
what=${1:-all}; shift || true
[ -f .device/unpack.sh ] && source .device/unpack.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/gpu.txt"
T0=$(date +%s)
if [ -n "${PROJECT_BUILD:-}" ]; then
  # The whole project's build folder (scripts/device/build.sh with TARGETS including test_kernels and
  # attention_bench): its binaries, no second build.
  KBIN=$PROJECT_BUILD/tests/kernels; BBIN=$PROJECT_BUILD/bench
else
  BUILD=build-dev
  KBIN=$BUILD/tests_kernels; BBIN=$BUILD/bench
  if [ ! -f $BUILD/build.ninja ]; then
    if ! cmake -S kernels/standalone -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a ${SA_CMAKE_ARGS:-} \
        -DWITH_TORCH=ON > "$OUT/configure.log" 2>&1; then
      echo "torch configure failed; building without LibTorch columns"; tail -5 "$OUT/configure.log"
      rm -rf $BUILD
      cmake -S kernels/standalone -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a ${SA_CMAKE_ARGS:-} \
        -DWITH_TORCH=OFF >> "$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
    fi
  fi
  if ! cmake --build $BUILD -j16 > "$OUT/build.log" 2>&1; then
    grep -E "error|Error" "$OUT/build.log" | head -20
    # retry without torch (the bench's torch part is the fragile one)
    rm -rf $BUILD
    cmake -S kernels/standalone -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a ${SA_CMAKE_ARGS:-} \
      -DWITH_TORCH=OFF >> "$OUT/configure.log" 2>&1 && cmake --build $BUILD -j16 >> "$OUT/build.log" 2>&1 || {
      tail -30 "$OUT/build.log"; exit 1; }
  fi
fi
echo "build done in $(( $(date +%s) - T0 )) s"
rc=0
if [ "$what" = test ] || [ "$what" = all ]; then
  # One log per tuning variant under test (SIGTRAIN_SA_FWD_VARIANT / SIGTRAIN_SA_BWD_VARIANT), so that a second sweep
  # keeps the first.
  test_log="$OUT/test${SIGTRAIN_SA_FWD_VARIANT:+_fwd_variant$SIGTRAIN_SA_FWD_VARIANT}${SIGTRAIN_SA_BWD_VARIANT:+_bwd_variant$SIGTRAIN_SA_BWD_VARIANT}.log"
  $KBIN/test_kernels > "$test_log" 2>&1; trc=$?
  grep -E "seed|FAILED|Failure|error" "$test_log" | head -40
  grep -E "^\[ +(PASSED|FAILED)" "$test_log"
  echo "test rc=$trc ($(( $(date +%s) - T0 )) s)"; rc=$((rc|trc))
  if [ -x $KBIN/test_fused_backend ]; then
    $KBIN/test_fused_backend > "$OUT/test_fused_backend.log" 2>&1; frc=$?
    grep -E "rel.err|FAILED|PASSED|Failure" "$OUT/test_fused_backend.log" | head -20
    echo "fused backend test rc=$frc"; rc=$((rc|frc))
  fi
fi
if [ "$what" = sanitize ] || [ "$what" = all ]; then
  # Every kernel instance: the Small cases run every head dim, dtype and sigma mode, and on Hopper each case runs
  # the wgmma kernels (head dims 64, 128) and the mma.sync ones, forward and backward.
  compute-sanitizer --tool memcheck --error-exitcode 9 $KBIN/test_kernels \
    --gtest_filter="${MEMCHECK_FILTER:-*Small*:*N1*:*NoKeys*}" > "$OUT/memcheck.log" 2>&1; m=$?
  tail -3 "$OUT/memcheck.log"; echo "memcheck rc=$m ($(( $(date +%s) - T0 )) s)"
  compute-sanitizer --tool racecheck --error-exitcode 9 $KBIN/test_kernels \
    --gtest_filter="${RACECHECK_FILTER:-*Small_basic*:*Small_varlen_bf16_D64_exact*:*Small_ragged*bf16_D128_tanh*}" \
    > "$OUT/racecheck.log" 2>&1; r=$?
  tail -3 "$OUT/racecheck.log"; echo "racecheck rc=$r ($(( $(date +%s) - T0 )) s)"
  rc=$((rc|m|r))
  if [ -x $KBIN/test_bias_grad ]; then  # the project build's bias-gradient kernel (shared-memory reductions)
    for tool in memcheck racecheck; do
      compute-sanitizer --tool $tool --error-exitcode 9 $KBIN/test_bias_grad > "$OUT/bias_grad_$tool.log" 2>&1; b=$?
      tail -2 "$OUT/bias_grad_$tool.log"; echo "bias_grad $tool rc=$b"; rc=$((rc|b))
    done
  fi
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  $BBIN/attention_bench --csv "$OUT/bench.csv" "$@" 2>&1 | tee "$OUT/bench.log"
  echo "bench done ($(( $(date +%s) - T0 )) s)"
fi
exit $rc
