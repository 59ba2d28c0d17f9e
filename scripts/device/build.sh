#!/usr/bin/env bash
# Configure and build sigtrain on the GPU machine (see ../../docs/benchmarks.md for how it is used).
# Expects the Debian libraries unpacked by `source .device/unpack.sh` (shared/device/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
# SIGTRAIN_CMAKE_ARGS: more configure arguments, e.g. -DSIGTRAIN_KERNELS_TUNING_VARIANTS=ON for attention_bench --variants.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
  -DSIGTRAIN_BUILD_TESTS=ON ${SIGTRAIN_CMAKE_ARGS:-} > "${OUT:-/tmp}/configure.log" 2>&1 || { tail -40 "${OUT:-/tmp}/configure.log"; exit 1; }
# TARGETS="sigtrain test_models_gpu": only these (default: everything).
cmake --build "$BUILD_DIR" -j "$(nproc)" ${TARGETS:+--target $TARGETS} > "${OUT:-/tmp}/build.log" 2>&1 || { grep -E "error|Error" -A3 "${OUT:-/tmp}/build.log" | head -60; exit 1; }
echo "built $BUILD_DIR"
