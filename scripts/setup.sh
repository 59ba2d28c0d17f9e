#!/usr/bin/env bash
# Idempotent setup for a fresh Debian/Ubuntu machine (run as root, or with sudo available):
#   1. Debian packages the build needs (only the missing ones are installed),
#   2. PyPI's torch==2.11.0 (LibTorch with CUDA 13.0) in the project-local .venv,
#   3. the default data into the ignored cache (.cache/sigtrain): the text corpus and Fashion-MNIST (the speech
#      corpora are built on demand: scripts/speech/build_corpus.sh),
#   4. configure and build into build/ (Release, Ninja, ccache when present): the `sigtrain` program, or
#      everything including the test suites with --tests.
# Usage: scripts/setup.sh [--tests]
# Environment: SIGTRAIN_BUILD_DIR (default build), SIGTRAIN_SKIP_DATA=1, SIGTRAIN_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(--target sigtrain)
case "${1:-}" in
  --tests) TARGETS=() ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--tests]" >&2; exit 2 ;;
esac
TORCH_VERSION=2.11.0
BUILD_DIR=${SIGTRAIN_BUILD_DIR:-build}
JOBS=${SIGTRAIN_JOBS:-$(nproc)}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- 1. Debian packages -------------------------------------------------------------------------------------------
packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-venv python3-matplotlib
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libhdf5-dev zlib1g-dev libsentencepiece-dev libicu-dev libgtest-dev libgmock-dev
  libjpeg62-turbo-dev libpng-dev                        # vision: JPEG / PNG decoding (data/vision)
  libsndfile1-dev libsamplerate0-dev libfftw3-dev       # speech: audio files, resampling, STFT (data/speech)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. LibTorch from PyPI ----------------------------------------------------------------------------------------
if ! .venv/bin/python3 -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  say "installing torch==$TORCH_VERSION into .venv (LibTorch for the C++ build; ~3 GB with its CUDA libraries)"
  python3 -m venv .venv
  .venv/bin/python3 -m pip install -q --upgrade pip
  .venv/bin/python3 -m pip install -q "torch==$TORCH_VERSION"
fi

# --- 3. Default data: the text corpus, Fashion-MNIST (configs/vision) ---------------------------------------------
if [ "${SIGTRAIN_SKIP_DATA:-0}" != 1 ]; then
  scripts/fetch_data.sh
  scripts/fetch_vision_data.sh
fi

# --- 4. Build -----------------------------------------------------------------------------------------------------
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  say "configuring $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
say "building $BUILD_DIR with $JOBS jobs${TARGETS:+ (sigtrain only; --tests builds the test suites too)}"
cmake --build "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}"
say "ready: $BUILD_DIR/sigtrain --version"
