# shellcheck shell=bash
# The shared logic of scripts/reproduce/<name>.sh: one command per experiment (docs/results/README.md). Sourced by
# an experiment script, which then defines its arms and calls `repro_main "$@"`:
#
#   source "$(dirname "$0")/lib.sh"
#   EXPERIMENT=stress_small                      # the name: default folder runs/reproduce/<name>
#   DEFAULT_SEEDS="1337 1338"
#   repro_arm softmax configs/stress/small_softmax.yaml "logging.every=1"   # NAME CONFIG [key=value ...]
#   repro_arm sigmoid configs/stress/small_sigmoid.yaml "logging.every=1"
#   DEFAULT_ARMS="softmax sigmoid"               # optional: the arms run by default (others only through ARMS=)
#   DEFAULT_CKPT_SETS="checkpoint.every=50 ..."  # optional: the checkpoints that make a run resumable
#   SMOKE_SETS=(model.n_layer=2 ...)             # what SMOKE=1 adds: a tiny CPU version of the same experiment
#   repro_main "$@"
#
# What repro_main does, for each seed of SEEDS and each arm (interleaved: seed 1 of every arm, then seed 2, ...):
#   * a run folder <dir>/<arm>-s<seed>/ with the arm's config, train.seed=<seed>, the arm's overrides, EXTRA_SETS,
#     train.steps=$STEPS when set, and checkpoints (CKPT_SETS) so that an interrupted run can continue;
#   * an existing folder is reused: a run whose summary.json says completed or diverged is finished (a completed run
#     with a checkpoint is handed to `sigtrain train --resume`, which does nothing when it already reached
#     train.steps and continues when STEPS was raised); a run without a summary, or a failed one, resumes from its
#     latest checkpoint; one without any checkpoint is moved aside to <arm>-s<seed>.partial/ and started afresh;
#   * then `sigtrain report --arm <arm>=RUN,RUN ...` of every arm into <dir>/report/ (table on stdout, report.md,
#     report.json, PNGs), and where everything is.
# Every training command line is the arm's config plus --set overrides, so resuming uses exactly the same values
# (sigtrain refuses a checkpoint whose model, attention, seed, batch or data differ).
#
# Environment:
#   SEEDS="1337 1338"   seeds (default: the experiment's DEFAULT_SEEDS)
#   ARMS="a b"          arms to run (default: DEFAULT_ARMS, else all defined)
#   REPRO_DIR=DIR       where the runs and the report go (default runs/reproduce/<name>; SMOKE=1: <that>-smoke)
#   SIGTRAIN_BIN=PATH   the binary (default build/sigtrain)
#   STEPS=N             train.steps for every run
#   EXTRA_SETS="k=v .." more overrides for every run (space-separated)
#   SMOKE=1             a tiny CPU run of the same pipeline (the experiment's SMOKE_SETS), for tests
#   RUN_TIMEOUT_S=N     wall-clock limit per training command (cut runs resume next time); BUDGET_S=N: no new
#                       training command starts once N s have passed since the start (the rest waits for next time)
#   DEADLINE_S=N        every training command is cut N s after the start (a device call's end): SIGTERM, on which
#                       the run finishes its step and saves a checkpoint of it (trainer/loop/stop_signal.h), so it
#                       resumes next time from exactly there; none starts with under 30 s left
#   PARALLEL=N          up to N training commands at once (default 1: one after the other); on one GPU, for small
#                       models whose step is bound by the host rather than the GPU
#   NO_PLOTS=1          sigtrain report --no-plots
#   REPORT_ONLY=1       trains nothing: the report of the arms' runs as they are
#   CKPT_SETS="k=v .."  the checkpoint overrides (default: the experiment's DEFAULT_CKPT_SETS, else every 100 steps,
#                       the last one kept, and a final one)
# Exit status: 0 when every run finished (completed or diverged) and the report was written; 1 when a run failed
# or is still unfinished (cut by a limit: run the same command again to continue); 2 for bad input (the first
# run's config was refused, or a bad option).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
declare -a REPRO_ARM_NAMES=()
declare -A REPRO_ARM_CONFIG=() REPRO_ARM_SETS=()
declare -a SMOKE_SETS=()
DEFAULT_SEEDS=1337
DEFAULT_ARMS=""
# Checkpoints for resuming; the experiment may change them (e.g. a 160M model: fewer, larger).
DEFAULT_CKPT_SETS="checkpoint.every=100 checkpoint.keep_last=1 checkpoint.save_final=true"

# What every SMOKE_SETS starts with: CPU, the math backend, 6 steps with evaluations and checkpoints at 3 and 6;
# the text experiments also train on the committed Hamlet fixture with a 320-piece SentencePiece tokenizer.
REPRO_SMOKE_SETS=(train.device=cpu train.threads=2 attention.backend=math train.steps=6 eval.every=3
                  checkpoint.every=3 logging.every=1)
REPRO_SMOKE_TEXT_SETS=("${REPRO_SMOKE_SETS[@]}" "data.corpus=[$REPO_ROOT/tests/fixtures/text/hamlet-act-1.txt]"
                       data.tokenizer.vocab_size=320 data.val_fraction=0.1)

repro_arm() {  # NAME CONFIG [key=value ...]
  local name=$1 config=$2
  shift 2
  REPRO_ARM_NAMES+=("$name")
  REPRO_ARM_CONFIG[$name]=$config
  REPRO_ARM_SETS[$name]="$*"
}

repro_say() { printf '[%s] %s\n' "$EXPERIMENT" "$*"; }

# The status in DIR/summary.json ("" without one).
repro_status() {
  [[ -f "$1/summary.json" ]] || return 0
  python3 -c 'import json,sys
try: s = json.load(open(sys.argv[1]))
except Exception: print("damaged"); sys.exit(0)
d = s.get("diverged_step")
print(s.get("status", "?"), s.get("last_step", "?"), *(["(diverged at step %s)" % d] if d else []))' "$1/summary.json"
}

repro_has_checkpoint() { compgen -G "$1/checkpoints/step_*/DONE" > /dev/null; }

# repro_train ARM SEED: brings <dir>/<arm>-s<seed> to its end (or as far as the limits allow). Returns 0 when the
# run is finished, 1 when it failed or is unfinished, 2 when its config was refused.
repro_train() {
  local arm=$1 seed=$2
  local name="$arm-s$seed"
  local dir="$REPRO_DIR/$name" log="$REPRO_DIR/$name.log"
  local config=${REPRO_ARM_CONFIG[$arm]}
  local -a sets=(--set "train.seed=$seed")
  local kv
  for kv in $CKPT_SETS ${REPRO_ARM_SETS[$arm]}; do sets+=(--set "$kv"); done
  [[ -n "${STEPS:-}" ]] && sets+=(--set "train.steps=$STEPS")
  if [[ "${SMOKE:-0}" == 1 ]]; then for kv in "${SMOKE_SETS[@]}"; do sets+=(--set "$kv"); done; fi
  for kv in ${EXTRA_SETS:-}; do sets+=(--set "$kv"); done

  local state; state=$(repro_status "$dir")
  local status=${state%% *}
  local -a mode=()
  local before=""
  case "$status" in
    completed|diverged)
      if [[ $status == diverged ]] || ! repro_has_checkpoint "$dir"; then
        repro_say "$name: finished earlier ($state) -- reused ($dir)"
        return 0
      fi
      before=$(stat -c %Y.%s "$dir/summary.json")
      mode=(--resume "$dir") ;;  # a no-op at train.steps; continues when STEPS was raised
    *)
      if [[ -d "$dir" ]] && repro_has_checkpoint "$dir"; then
        mode=(--resume "$dir")
      elif [[ -d "$dir" ]]; then
        rm -rf "$dir.partial" && mv "$dir" "$dir.partial"
        repro_say "$name: an unfinished run without a checkpoint: moved to $dir.partial, starting again"
      fi ;;
  esac
  if [[ -n "${BUDGET_S:-}" ]] && (( $(date +%s) - REPRO_START >= BUDGET_S )); then
    repro_say "$name: not started (BUDGET_S=$BUDGET_S s spent); run the same command again to continue"
    return 1
  fi
  local run_limit=${RUN_TIMEOUT_S:-}
  if [[ -n "${DEADLINE_S:-}" ]]; then
    local left=$(( DEADLINE_S - ($(date +%s) - REPRO_START) ))
    if (( left < 30 )); then
      repro_say "$name: not started (DEADLINE_S=$DEADLINE_S s: ${left} s left); run the same command again to continue"
      return 1
    fi
    [[ -z "$run_limit" ]] || (( left < run_limit )) && run_limit=$left
  fi
  local -a limit=()
  [[ -n "$run_limit" ]] && limit=(timeout --signal=TERM --kill-after=20 "$run_limit")
  if [[ -n "$before" ]]; then
    :  # said below: reused, or continued
  elif [[ ${#mode[@]} -gt 0 ]]; then
    repro_say "$name: resuming from its latest checkpoint ($dir)"
  else
    repro_say "$name: training ($config, seed $seed) -> $dir"
  fi
  local t0; t0=$(date +%s)
  {
    echo "# $(date -u +%FT%TZ) ${limit[*]} $BIN train --config $config --run-dir $dir ${mode[*]} ${sets[*]}"
  } >> "$log"
  "${limit[@]}" "$BIN" train --config "$config" --run-dir "$dir" "${mode[@]}" "${sets[@]}" >> "$log" 2>&1
  local rc=$?
  local took=$(( $(date +%s) - t0 ))
  state=$(repro_status "$dir")
  case $rc in
    0) if [[ -n "$before" && "$before" == "$(stat -c %Y.%s "$dir/summary.json")" ]]; then
         repro_say "$name: finished earlier ($state) -- reused ($dir)"
       else
         repro_say "$name: $state after ${took} s"
       fi
       return 0 ;;
    1) repro_say "$name: ${state:-failed} after ${took} s (exit 1; $log)"
       [[ ${state%% *} == diverged ]] && return 0
       tail -n 5 "$log" | sed 's/^/    /'
       return 1 ;;
    2) repro_say "$name: refused (exit 2, bad input): $(grep -m1 -E 'error' "$log" || tail -n 1 "$log")"
       return 2 ;;
    124|137) repro_say "$name: cut after ${took} s (RUN_TIMEOUT_S / DEADLINE_S; $state); run the same command again to resume"
       return 1 ;;
    130|143) repro_say "$name: stopped by a signal after ${took} s ($state); run the same command again to resume"
       return 1 ;;
    *) repro_say "$name: exit $rc after ${took} s ($log)"; tail -n 5 "$log" | sed 's/^/    /'; return 1 ;;
  esac
}

repro_main() {
  if [[ $# -gt 0 ]]; then
    case "$1" in
      -h|--help)  # the experiment's header, then this file's
        awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0"
        echo "#"
        awk 'NR > 1 && /^set -/ {exit} NR > 1 {print}' "${BASH_SOURCE[0]}"
        return 0 ;;
      *) echo "$0: no arguments expected (the settings are environment variables; --help)" >&2; return 2 ;;
    esac
  fi
  cd "$REPO_ROOT" || return 2
  BIN=${SIGTRAIN_BIN:-build/sigtrain}
  SEEDS=${SEEDS:-$DEFAULT_SEEDS}
  CKPT_SETS=${CKPT_SETS:-$DEFAULT_CKPT_SETS}
  local default_dir="runs/reproduce/$EXPERIMENT"
  [[ "${SMOKE:-0}" == 1 ]] && default_dir+="-smoke"
  REPRO_DIR=${REPRO_DIR:-$default_dir}
  REPRO_START=$(date +%s)
  local -a arms
  read -r -a arms <<< "${ARMS:-${DEFAULT_ARMS:-${REPRO_ARM_NAMES[*]}}}"
  local a
  for a in "${arms[@]}"; do
    if [[ -z "${REPRO_ARM_CONFIG[$a]:-}" ]]; then
      echo "$0: ARMS: unknown arm '$a' (this experiment has: ${REPRO_ARM_NAMES[*]})" >&2
      return 2
    fi
  done
  if [[ ! -x "$BIN" ]]; then
    echo "$0: $BIN not found (build it: cmake --build build --target sigtrain, or set SIGTRAIN_BIN)" >&2
    return 2
  fi
  mkdir -p "$REPRO_DIR"
  REPRO_DIR=$(cd "$REPRO_DIR" && pwd)
  repro_say "arms: ${arms[*]}; seeds: $SEEDS; folder: $REPRO_DIR$([[ "${SMOKE:-0}" == 1 ]] && echo " (SMOKE=1: tiny CPU version)")"
  local rc=0 seed r parallel=${PARALLEL:-1}
  if ! [[ "$parallel" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: PARALLEL must be a positive number of concurrent runs, not '$parallel'" >&2
    return 2
  fi
  # PARALLEL=1: one run after the other. PARALLEL=N: up to N training commands at once (on one GPU they share it,
  # which pays for small models whose step is bound by the host, not by the GPU).
  declare -A running=()  # pid -> "<arm> <seed>"
  local pid
  # Waits for one running run. When its config was refused (every run's would be), stops the others and returns 2.
  repro_reap() {
    local done_pid
    wait -n -p done_pid "${!running[@]}"
    r=$?
    local who=${running[$done_pid]}
    unset "running[$done_pid]"
    if (( r == 2 )); then
      repro_say "stopped: the config was refused (every run would be); see $REPRO_DIR/${who% *}-s${who#* }.log"
      kill "${!running[@]}" 2>/dev/null
      wait
      return 2
    fi
    (( r != 0 )) && rc=1
    return 0
  }
  local train_seeds=$SEEDS
  [[ "${REPORT_ONLY:-0}" == 1 ]] && train_seeds=""  # no run trains; the report below reads what is there
  for seed in $train_seeds; do
    for a in "${arms[@]}"; do
      while (( ${#running[@]} >= parallel )); do repro_reap || return 2; done
      repro_train "$a" "$seed" &
      pid=$!
      running[$pid]="$a $seed"
    done
  done
  while (( ${#running[@]} > 0 )); do repro_reap || return 2; done

  local -a report_args=()
  for a in "${arms[@]}"; do
    local list="" d
    for seed in $SEEDS; do
      d="$REPRO_DIR/$a-s$seed"
      [[ -f "$d/summary.json" || -f "$d/metrics.jsonl" ]] && list+="${list:+,}$d"
    done
    [[ -n "$list" ]] && report_args+=(--arm "$a=$list")
  done
  if [[ ${#report_args[@]} -eq 0 ]]; then
    repro_say "no run has records yet: no report"
    return 1
  fi
  [[ "${NO_PLOTS:-0}" == 1 ]] && report_args+=(--no-plots)
  "$BIN" report "${report_args[@]}" --out "$REPRO_DIR/report" 2>&1 | tee "$REPRO_DIR/report.log"
  if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
    repro_say "sigtrain report failed ($REPRO_DIR/report.log)"
    return 1
  fi
  repro_say "runs: $REPRO_DIR/<arm>-s<seed>/ (logs beside them); report: $REPRO_DIR/report/report.md"
  (( rc != 0 )) && repro_say "not finished: run the same command again to continue (finished runs are reused)"
  return $rc
}
