#!/usr/bin/env bash
# Softmax vs sigmoid CTC speech encoder (issue 13; docs/speech.md) on the GPU machine, in one call:
#   1. builds the synthetic multi-voice corpus there (scripts/speech/build_corpus.sh --only synth; 6,000 utterances
#      took 48 s on 16 cores, 2026-12-03; the audio is too large to carry): with the tools of
#      scripts/device/pack_deps.sh --speech-tools when `with_speech_tools` is defined (source .device-slim/unpack.sh),
#      else from PATH;
#   2. trains the pair with scripts/reproduce/speech_pair.sh (both arms per seed, resumable, report of the pair);
#   3. prints one line per run: status, steps, WER, CER, validation loss, throughput, wall time.
#   SEEDS="1337 1338" PARALLEL=4 scripts/device/speech_pair.sh
#   BIN=build/sigtrain SEEDS=1337 UTTERANCES=200 STEPS=20 EXTRA_SETS="train.device=cpu attention.backend=math" \
#     scripts/device/speech_pair.sh                  # a CPU dry run
# Needs KJV in the cache for the sentences (scripts/fetch_data.sh; carry .cache/sigtrain/corpora/kjv.txt).
# Run folders: ${OUT:-/tmp}/speech/<arm>-s<seed>/.
set -uo pipefail
cd "$(dirname "$0")/../.."
export SIGTRAIN_BIN=${BIN:-build/sigtrain}
export SEEDS=${SEEDS:-"1337 1338"}
export PARALLEL=${PARALLEL:-4}
export RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-480}
export STEPS=${STEPS:-}
# Loader threads per run: the runs share the machine's cores (4 runs x 3 threads + their main threads on 16).
WORKERS=${WORKERS:-3}
export EXTRA_SETS="data.workers=$WORKERS ${EXTRA_SETS:-}"
export REPRO_DIR=${SPEECH_DIR:-${OUT:-/tmp}/speech}
UTTERANCES=${UTTERANCES:-6000}

corpus=(scripts/speech/build_corpus.sh --only synth --utterances "$UTTERANCES")
t0=$(date +%s)
if declare -F with_speech_tools > /dev/null; then with_speech_tools "${corpus[@]}"; else "${corpus[@]}"; fi ||
  { echo "speech_pair.sh: building the corpus failed" >&2; exit 1; }
echo "corpus: $(( $(date +%s) - t0 )) s"
scripts/reproduce/speech_pair.sh
rc=$?
runs=()
for seed in $SEEDS; do for arm in softmax sigmoid; do runs+=("$REPRO_DIR/$arm-s$seed"); done; done
python3 - "${runs[@]}" <<'PY'
import json, os, sys
print(f"{'run':14} {'status':10} {'steps':>6} {'WER':>7} {'CER':>7} {'val loss':>9} {'slots/s':>9} {'audio s/s':>9} {'wall s':>7}")
for d in sys.argv[1:]:
    name = os.path.basename(d)
    try:
        s = json.load(open(os.path.join(d, "summary.json")))
    except OSError:
        print(f"{name:14} (no summary)"); continue
    speech = json.load(open(os.path.join(d, "speech.json")))
    ev = s.get("eval", {})
    f = lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else "-"
    # tokens_per_s counts utterance-slot positions; real audio = positions x slot fill x 40 ms per position.
    audio = s.get("tokens_per_s", 0) * speech.get("slot_fill", 0) * 0.04
    print(f"{name:14} {s['status']:10} {s['last_step']:>6} {f(ev.get('wer')):>7} {f(ev.get('cer')):>7} "
          f"{f(s.get('final_val_loss')):>9} {s.get('tokens_per_s', 0):>9.0f} {audio:>9.0f} {s.get('wall_time_s', 0):>7.1f}")
PY
exit $rc
