#!/usr/bin/env bash
# One experiment of scripts/reproduce/ (docs/results/README.md) in bounded GPU-machine calls:
#   1. unpacks .device-lm/ when it is there (scripts/device/pack_lm_data.sh: the LM corpus and its tokenised cache)
#      into the cache, once per machine; other experiments' data travels as it is (carry its cache files, e.g.
#      .cache/sigtrain/corpora/{kjv,sherlock,tom_sawyer,opticks}.txt for the stress pairs);
#   2. runs scripts/reproduce/EXPERIMENT.sh with every training command cut at DEADLINE_S (default 540) s from the
#      start: the next call of the same command resumes the cut run from its latest checkpoint and reuses the
#      finished ones, as long as the machine (and runs/) is still the same one;
#   3. copies each run's records without checkpoints, and the report once every run finished, into
#      $OUT/EXPERIMENT.tgz.
#   source .device-slim/unpack.sh; scripts/device/reproduce_device.sh stress_paper
# ARMS, SEEDS, STEPS, EXTRA_SETS, SMOKE: as the experiment's script (scripts/reproduce/lib.sh --help).
set -uo pipefail
cd "$(dirname "$0")/../.."
experiment=${1:-}
[[ -n "$experiment" && -x "scripts/reproduce/$experiment.sh" ]] || {
  echo "reproduce_device.sh: name an experiment of scripts/reproduce/ ($(cd scripts/reproduce && ls ./*.sh | grep -v lib.sh | sed 's|./||; s|\.sh$||' | tr '\n' ' '))" >&2
  exit 2
}
OUT=${OUT:-/tmp}
cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
if [[ -d .device-lm ]]; then
  mkdir -p "$cache"
  [[ -s "$cache/corpora/gutenberg/MANIFEST.tsv" ]] || tar -C "$cache" -xJf .device-lm/corpus.tar.xz
  compgen -G "$cache/lm/sp-bpe8192-*/manifest.json" > /dev/null || tar -C "$cache" -xJf .device-lm/lm-cache.tar.xz
fi
export DEADLINE_S=${DEADLINE_S:-540}
default_dir="runs/reproduce/$experiment"
[[ "${SMOKE:-0}" == 1 ]] && default_dir+="-smoke"
export REPRO_DIR=${REPRO_DIR:-$default_dir}
"scripts/reproduce/$experiment.sh"
rc=$?
tar -czf "$OUT/$experiment.tgz" --exclude=checkpoints --exclude='*.partial' -C "$(dirname "$REPRO_DIR")" "$(basename "$REPRO_DIR")"
echo "reproduce_device.sh: $experiment.sh exit $rc; records in $OUT/$experiment.tgz ($(du -h "$OUT/$experiment.tgz" | cut -f1))"
exit $rc
