#!/usr/bin/env bash
# The LM pair (scripts/reproduce/lm_pair.sh; issue 16) in bounded GPU-machine calls:
#   1. unpacks .device-lm/ (scripts/device/pack_lm_data.sh: the corpus and its tokenised cache) into the cache,
#      once per machine;
#   2. runs lm_pair.sh with every training command cut at DEADLINE_S (default 540) s from the start: the next call
#      of the same command resumes the cut run from its latest checkpoint and reuses the finished ones, as long as
#      the machine (and runs/) is still the same one;
#   3. copies each run's records without checkpoints, and the report once every run finished, into $OUT/lm_pair.tgz.
#   source .device-slim/unpack.sh; scripts/device/lm_pair_device.sh      (carry .device-slim and .device-lm)
# ARMS, SEEDS, STEPS, EXTRA_SETS: as lm_pair.sh (scripts/reproduce/lib.sh --help).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp}
cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
if [[ -d .device-lm ]]; then
  mkdir -p "$cache"
  [[ -s "$cache/corpora/gutenberg/MANIFEST.tsv" ]] || tar -C "$cache" -xJf .device-lm/corpus.tar.xz
  compgen -G "$cache/lm/sp-bpe8192-*/manifest.json" > /dev/null || tar -C "$cache" -xJf .device-lm/lm-cache.tar.xz
fi
export DEADLINE_S=${DEADLINE_S:-540}
export REPRO_DIR=${REPRO_DIR:-runs/reproduce/lm_pair}
scripts/reproduce/lm_pair.sh
rc=$?
tar -czf "$OUT/lm_pair.tgz" --exclude=checkpoints --exclude='*.partial' -C "$(dirname "$REPRO_DIR")" "$(basename "$REPRO_DIR")"
echo "lm_pair_device.sh: lm_pair.sh exit $rc; records in $OUT/lm_pair.tgz ($(du -h "$OUT/lm_pair.tgz" | cut -f1))"
exit $rc
