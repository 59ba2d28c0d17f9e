#!/usr/bin/env bash
# The learning-rate search of the paper-sized stress pair on its shortened schedule (scripts/reproduce/
# stress_paper_short.sh: 4 sequences of 8192 per step), in one bounded GPU-machine call (issue 16):
#   for each lr of LRS (default "3e-3 1e-2 3e-2"): softmax (sdpa) for STEPS (default 300) steps; when it blew up
#   (scripts/stress_blew_up.py: divergence, a gradient norm >= BLOWUP_FACTOR (default 100) x its early median, or a
#   max attention logit >= MAX_LOGIT (default: no limit; 1e4 catches the entropy collapse softmax showed at lr 1e-2,
#   docs/results/stress_paper/short_schedule/)), the arms of AFTER at that lr (default "sigmoid sigmoid_qknorm") and
#   stop; else the next lr. Then `sigtrain report` of every run. SMOKE=1 runs the tiny CPU version
#   (tests/app/stress_search_smoke.sh).
# Every training command is cut DEADLINE_S (default 560) s after this script's start; a cut run resumes from its
# last checkpoint when the same command runs again on the same machine. Run folders: REPRO_DIR (default
# runs/reproduce/stress_paper_short); records without checkpoints come back as $OUT/stress_paper_search.tgz.
#   source .device-slim/unpack.sh; TARGETS=sigtrain scripts/device/build.sh && scripts/device/stress_paper_search.sh
# Carry .device-slim and .cache/sigtrain/corpora/{kjv,sherlock-holmes,tom-sawyer,opticks}.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp}
t_end=$(( $(date +%s) + ${DEADLINE_S:-560} ))
export REPRO_DIR=${REPRO_DIR:-runs/reproduce/stress_paper_short} STEPS=${STEPS:-300}
export SIGTRAIN_BIN=${SIGTRAIN_BIN:-build/sigtrain}
say() { echo "[stress_paper_search] $*"; }
# arms ARM...: trains them (reusing finished runs) with the time left, and writes the report of these arms.
arms() { ARMS="$*" DEADLINE_S=$(( t_end - $(date +%s) )) NO_PLOTS=1 scripts/reproduce/stress_paper_short.sh; }
tried=()
for lr in ${LRS:-3e-3 1e-2 3e-2}; do
  arms "softmax_lr$lr"
  tried+=("softmax_lr$lr")
  python3 scripts/stress_blew_up.py "$REPRO_DIR/softmax_lr$lr-s1337" "${BLOWUP_FACTOR:-100}" "${MAX_LOGIT:-inf}"
  case $? in
    0) say "softmax blew up at lr $lr: the sigmoid arms at the same lr"
       for kind in ${AFTER:-sigmoid sigmoid_qknorm}; do tried+=("${kind}_lr$lr"); done
       arms "${tried[@]}"
       break ;;
    1) say "softmax held at lr $lr" ;;
    *) say "softmax at lr $lr did not finish: stopping"; break ;;
  esac
  (( $(date +%s) + 60 > t_end )) && { say "out of time after lr $lr"; break; }
done
# The report of every arm tried (nothing trains), with plots when matplotlib is here.
ARMS="${tried[*]}" REPORT_ONLY=1 scripts/reproduce/stress_paper_short.sh > "$REPRO_DIR.report.log" 2>&1
tail -25 "$REPRO_DIR.report.log"
tar -czf "$OUT/stress_paper_search.tgz" --exclude=checkpoints --exclude='*.partial' \
  -C "$(dirname "$REPRO_DIR")" "$(basename "$REPRO_DIR")" "$(basename "$REPRO_DIR").report.log"
say "records in $OUT/stress_paper_search.tgz"
