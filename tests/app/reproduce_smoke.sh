#!/usr/bin/env bash
# CTest `reproduce_smoke`: scripts/reproduce/stress_small.sh in SMOKE mode (a tiny CPU version of the experiment),
# end to end, twice, through the real binary:
#   1. two seeds x two arms train, and the report of the pair is written (report.md, report.json with two arms of
#      two runs each);
#   2. the same command again trains nothing: every run is reused, its files unchanged, the report rewritten;
#   3. a run "killed" after its step-3 checkpoint (summary and later checkpoint removed) is resumed by the same
#      command and ends with the parameters of the uninterrupted run;
#   4. PARALLEL=2 (two training commands at once) trains the same four runs to the same parameters, and a bad
#      PARALLEL is refused;
#   5. DEADLINE_S with under 30 s left starts no run and says how to continue.
# Usage: tests/app/reproduce_smoke.sh SIGTRAIN_BINARY
set -uo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sigtrain_reproduce_smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/out.log"; exit 1; }
run() {  # the one command under test
  SMOKE=1 SIGTRAIN_BIN="$BIN" REPRO_DIR="${DIR:-$work/stress}" SEEDS="11 12" NO_PLOTS="${NO_PLOTS:-0}" \
    CKPT_SETS="checkpoint.keep_last=5 checkpoint.save_final=true" \
    "$ROOT/scripts/reproduce/stress_small.sh" > "$work/out.log" 2>&1
}
fingerprint() {  # every file of the four run folders, with its checksum
  (cd "$work/stress" && find softmax-s1? sigmoid-s1? -type f -print0 | sort -z | xargs -0 sha256sum)
}
status_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$1/summary.json"; }

# --- 1. the first run trains all four -------------------------------------------------------------------------------
run || fail "first run: exit $?"
for r in softmax-s11 sigmoid-s11 softmax-s12 sigmoid-s12; do
  [[ "$(status_of "$work/stress/$r")" == completed ]] || fail "$r did not complete"
  grep -q "$r: training" "$work/out.log" || fail "no 'training' line for $r"
done
for f in report.md report.json; do [[ -s "$work/stress/report/$f" ]] || fail "no report/$f"; done
python3 - "$work/stress/report/report.json" <<'PY' || fail "report.json: arms"
import json, sys
arms = json.load(open(sys.argv[1]))["arms"]
assert [a["name"] for a in arms] == ["softmax", "sigmoid"], arms
assert all(a["n_runs"] == 2 and a["seeds"] == ["11", "12"] for a in arms), arms
assert all(a["stats"]["final_val_loss"]["std"] is not None for a in arms)
PY
grep -q "report: $work/stress/report/report.md" "$work/out.log" || fail "the script does not say where the report is"
before=$(fingerprint)

# --- 2. the same command again: nothing trains, every run is reused unchanged -----------------------------------------
rm "$work/stress/report/report.md"
run || fail "second run: exit $?"
[[ $(grep -c "finished earlier (completed 6) -- reused" "$work/out.log") -eq 4 ]] || fail "second run: not 4 runs reused"
grep -q ": training" "$work/out.log" && fail "second run trained again"
[[ "$before" == "$(fingerprint)" ]] || fail "second run changed a run folder"
[[ -s "$work/stress/report/report.md" ]] || fail "second run: no report.md"

# --- 3. an interrupted run resumes from its checkpoint ----------------------------------------------------------------
r="$work/stress/sigmoid-s12"
checksum=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["param_checksum"])' "$r/summary.json")
[[ -d "$r/checkpoints/step_00000003" ]] || fail "no step-3 checkpoint to resume from"
rm -rf "$r/checkpoints/step_00000006" "$r/summary.json"
run || fail "third run: exit $?"
grep -q "sigmoid-s12: resuming from its latest checkpoint" "$work/out.log" || fail "third run did not resume"
[[ $(grep -c "reused" "$work/out.log") -eq 3 ]] || fail "third run: the three finished runs were not reused"
[[ "$(status_of "$r")" == completed ]] || fail "resumed run did not complete"
after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["param_checksum"])' "$r/summary.json")
[[ "$after" == "$checksum" ]] || fail "resumed run ended with other parameters ($after vs $checksum)"

# --- 4. two runs at a time: the same parameters; a bad PARALLEL is refused --------------------------------------------
checksum_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["param_checksum"])' "$1/summary.json"; }
PARALLEL=2 DIR="$work/parallel" run || fail "PARALLEL=2: exit $?"
for r in softmax-s11 sigmoid-s11 softmax-s12 sigmoid-s12; do
  [[ "$(checksum_of "$work/parallel/$r")" == "$(checksum_of "$work/stress/$r")" ]] ||
    fail "PARALLEL=2: $r ended with other parameters than the sequential run"
done
[[ -s "$work/parallel/report/report.md" ]] || fail "PARALLEL=2: no report.md"
PARALLEL=two DIR="$work/bad" run; rc=$?
[[ $rc -eq 2 ]] || fail "PARALLEL=two: exit $rc, expected 2"
grep -q "PARALLEL must be a positive number" "$work/out.log" || fail "PARALLEL=two: no message naming PARALLEL"

# --- 5. a deadline too close to start anything ------------------------------------------------------------------------
DEADLINE_S=10 DIR="$work/deadline" run; rc=$?
[[ $rc -eq 1 ]] || fail "DEADLINE_S=10: exit $rc, expected 1 (unfinished)"
grep -q "softmax-s11: not started (DEADLINE_S=10 s" "$work/out.log" || fail "DEADLINE_S=10: no 'not started' line"
[[ -d "$work/deadline/softmax-s11" ]] && fail "DEADLINE_S=10: a run folder was created"
echo "reproduce_smoke: 5 passed, 0 failed"
