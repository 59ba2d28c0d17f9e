#!/usr/bin/env bash
# CTest `stress_search_smoke`: scripts/device/stress_paper_search.sh in SMOKE mode (tiny CPU runs of
# scripts/reproduce/stress_paper_short.sh's arms), through the real binary:
#   1. a threshold no run reaches (BLOWUP_FACTOR 1e9): softmax at every lr of LRS, no sigmoid arm, and the report
#      and the records' tarball hold the softmax runs;
#   2. a threshold every run reaches (BLOWUP_FACTOR 1): the search stops at the first lr and trains the sigmoid arms
#      there (AFTER), reusing the finished softmax run; the report has the three arms;
#   3. the gradient threshold out of reach but a logit limit every run reaches (MAX_LOGIT): the same stop.
# Usage: tests/app/stress_search_smoke.sh SIGTRAIN_BINARY
set -uo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sigtrain_stress_search.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/out.log"; exit 1; }
search() {  # FACTOR [MAX_LOGIT]: the command under test
  SMOKE=1 SIGTRAIN_BIN="$BIN" REPRO_DIR="$work/search" OUT="$work" LRS="1e-2 3e-2" BLOWUP_FACTOR="$1" \
    MAX_LOGIT="${2:-inf}" AFTER="sigmoid_qknorm" "$ROOT/scripts/device/stress_paper_search.sh" > "$work/out.log" 2>&1
}
arms_in_report() {
  python3 -c 'import json,sys; print(" ".join(a["name"] for a in json.load(open(sys.argv[1]))["arms"]))' \
    "$work/search/report/report.json"
}

# --- 1. softmax holds at every lr ----------------------------------------------------------------------------------
search 1e9 || fail "search (factor 1e9): exit $?"
grep -q "softmax held at lr 1e-2" "$work/out.log" || fail "no 'held' line for lr 1e-2"
grep -q "softmax held at lr 3e-2" "$work/out.log" || fail "no 'held' line for lr 3e-2"
[[ -d "$work/search/sigmoid_qknorm_lr1e-2-s1337" ]] && fail "a sigmoid arm ran although softmax held"
[[ "$(arms_in_report)" == "softmax_lr1e-2 softmax_lr3e-2" ]] || fail "report arms: $(arms_in_report)"
listing=$(tar tzf "$work/stress_paper_search.tgz") || fail "no records tarball"
grep -q "search/softmax_lr3e-2-s1337/metrics.jsonl" <<< "$listing" || fail "the tarball lacks the lr 3e-2 run's records"
grep -q checkpoints <<< "$listing" && fail "the tarball holds checkpoints"

# --- 2. softmax "blows up" at the first lr: the sigmoid arm there, the search stops ------------------------------
rm -rf "$work/search"
search 1 || fail "search (factor 1): exit $?"
grep -q "softmax blew up at lr 1e-2" "$work/out.log" || fail "no 'blew up' line"
[[ -d "$work/search/softmax_lr3e-2-s1337" ]] && fail "the search went on after the blow-up"
grep -q "sigmoid_qknorm_lr1e-2-s1337: completed" "$work/out.log" || fail "the sigmoid arm did not train"
grep -q "softmax_lr1e-2-s1337: finished earlier" "$work/out.log" || fail "the softmax run was not reused"
[[ "$(arms_in_report)" == "softmax_lr1e-2 sigmoid_qknorm_lr1e-2" ]] || fail "report arms: $(arms_in_report)"

# --- 3. softmax's logits pass the limit at the first lr (its gradient norm does not): the same stop --------------
rm -rf "$work/search"
search 1e9 1e-6 || fail "search (factor 1e9, logit limit 1e-6): exit $?"
grep -q "max attention logit .* (threshold 1e-06)" "$work/out.log" || fail "no logit line"
grep -q "softmax blew up at lr 1e-2" "$work/out.log" || fail "the logit limit did not stop the search"
[[ -d "$work/search/softmax_lr3e-2-s1337" ]] && fail "the search went on after the logit limit"
echo "stress_search_smoke: OK"
