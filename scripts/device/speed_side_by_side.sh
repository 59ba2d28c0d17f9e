#!/usr/bin/env bash
# Issue 14's side-by-side table: the same model and step in plain PyTorch (eager, torch.compile; bench/lm_torch.py)
# and in sigtrain (softmax/sdpa, sigmoid/fused), tokens/s, MFU, step time and peak memory, with the ratio to
# torch.compile softmax. One GPU, one call. Writes $OUT/speed/{table.md,results.jsonl} and the runs' profiles.
#
#   scripts/device/speed_side_by_side.sh [MODELS...]        MODELS: gpt2 stress cell (default: all three)
# Environment: STEPS (sigtrain steps, default 100; steps 51-100 are measured: a long run's mix of monitor
#   instruments, grad norms every 10 steps and the rest every 50), TORCH_STEPS (default 30),
#   TORCH_MODES (default "eager compile"; "skip": sigtrain only), TORCH_ATTN (default "softmax sigmoid" for gpt2, softmax otherwise),
#   SIGTRAIN_VARIANTS (default "softmax:sdpa sigmoid:fused"; further fields are options of that run: "graphs" adds
#   train.cuda_graphs=on, a key=value adds --set key=value, e.g. sigmoid:fused:graphs sigmoid:fused:fused_ops.mlp=off;
#   a "MODEL/" prefix runs that variant for that model only, e.g. stress/sigmoid:fused:fused_ops.rope=off),
#   EXTRA_SETS (more --set for every sigtrain run),
#   PROFILE=1 (a CUPTI breakdown of steps PROFILE_START (default 21) to PROFILE_START+4 of each sigtrain run, in
#   <run>/profile/; the PyTorch runs print theirs by kernel category in their logs; with graphs per batch shape a
#   later window, e.g. PROFILE_START=61, sees the replays after every shape was captured). A window inside steps
#   51-100 slows the measured steps (CUPTI and the trace written after it): profile and measure in separate runs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(gpt2 stress cell)
STEPS=${STEPS:-100}
TORCH_STEPS=${TORCH_STEPS:-30}
TORCH_MODES=${TORCH_MODES:-eager compile}
SIGTRAIN_VARIANTS=${SIGTRAIN_VARIANTS:-softmax:sdpa sigmoid:fused}
OUTDIR=${OUT:-/tmp}/speed
mkdir -p "$OUTDIR"
RESULTS="$OUTDIR/results.jsonl"
: > "$RESULTS"

# sigtrain config and per-model overrides that make the step the one bench/lm_torch.py runs.
sigtrain_args() {
  case "$1" in
    gpt2) echo "--config configs/lm/gpt2_small.yaml --set train.global_batch_tokens=16384 --set train.micro_batch_size=16" ;;
    stress) echo "--config configs/stress/paper.yaml --set train.global_batch_tokens=8192 --set mlm.length_jitter=0 --set eval.every=0 --set eval.tokens=8192" ;;
    cell) echo "--config configs/singlecell/pbmc68k.yaml --set model.dropout=0 --set eval.every=0" ;;
  esac
}

for model in "${MODELS[@]}"; do
  attn_default="softmax"
  [ "$model" = gpt2 ] && attn_default="softmax sigmoid"
  for mode in $TORCH_MODES; do
    [ "$mode" = skip ] && continue
    for attn in ${TORCH_ATTN:-$attn_default}; do
      log="$OUTDIR/torch_${model}_${mode}_${attn}.log"
      torch_profile=()
      [ "${PROFILE:-0}" = 1 ] && torch_profile=(--profile)
      if python3 bench/lm_torch.py --model "$model" --mode "$mode" --attention "$attn" --steps "$TORCH_STEPS" \
           "${torch_profile[@]}" > "$log" 2>&1; then
        tail -1 "$log" | python3 -c "import json,sys; r=json.loads(sys.stdin.read()); r['program']='pytorch-'+r['mode']; print(json.dumps(r))" >> "$RESULTS"
      else
        echo "{\"model\":\"$model\",\"program\":\"pytorch-$mode\",\"attention\":\"$attn\",\"failed\":\"$(tail -1 "$log" | tr -d '"\\' | cut -c1-200)\"}" >> "$RESULTS"
      fi
    done
  done
  for v in $SIGTRAIN_VARIANTS; do
    # [model/]kind:backend[:option...], each option "graphs" (train.cuda_graphs=on) or a key=value for --set.
    if [[ "$v" == */* ]]; then
      [[ "${v%%/*}" == "$model" ]] || continue
      v=${v#*/}
    fi
    IFS=: read -r kind backend rest <<< "$v"
    IFS=: read -ra options <<< "${rest:-}"
    variant_sets=()
    label="$backend"     # the table's and results.jsonl's label
    tag="$backend"       # the run folder's and log's name: no '+' or '=' (the device tool does not bring such names back)
    for option in "${options[@]}"; do
      case "$option" in
        graphs) variant_sets+=(--set train.cuda_graphs=on); label+="+graphs"; tag+="_graphs" ;;
        *=*) variant_sets+=(--set "$option"); label+=" $option"; tag+="_${option//=/-}" ;;
        *) echo "speed_side_by_side.sh: variant '$v': option '$option' is neither 'graphs' nor key=value" >&2; exit 2 ;;
      esac
    done
    run="$OUTDIR/sigtrain_${model}_${kind}_${tag}"
    rm -rf "$run"
    profile_sets=()
    [ "${PROFILE:-0}" = 1 ] && profile_sets=(--set profile.start_step="${PROFILE_START:-21}" --set profile.steps=5)
    # EXTRA_SETS is split into words on purpose (it holds --set pairs).
    # shellcheck disable=SC2046,SC2086
    if build/sigtrain train $(sigtrain_args "$model") --run-dir "$run" --set attention.kind="$kind" \
         --set attention.backend="$backend" --set train.steps="$STEPS" --set logging.every=50 \
         --set checkpoint.save_final=false "${profile_sets[@]}" "${variant_sets[@]}" ${EXTRA_SETS:-} > "$run.log" 2>&1; then
      python3 - "$run" "$model" "$kind" "$label" >> "$RESULTS" <<'EOF'
import json, sys
run, model, kind, backend = sys.argv[1:]
recs = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"train"' in l]
last = recs[-1]
summary = json.load(open(run + "/summary.json"))
fpt_mfu = None
for line in open(run + ".log"):
    if "MFU" in line:
        fpt_mfu = line
mfu = None
if fpt_mfu:
    import re
    m = re.findall(r"MFU ([0-9.]+)%", fpt_mfu)
    mfu = float(m[-1]) if m else None
tps = last["tokens_per_s"]
import re as _re
gbt = int(_re.search(r"global_batch_tokens:\s*(\d+)", open(run + "/config.yaml").read()).group(1))
print(json.dumps({"model": model, "program": "sigtrain", "attention": f"{kind}/{backend}", "tokens_per_s": round(tps),
                  "mfu_pct": mfu, "step_ms": round(1000.0 * gbt / tps, 2) if tps else None,
                  "peak_mem_gib": round(max(r.get("gpu_mem_peak_gib", 0) for r in recs), 2),
                  "final_loss": round(last["loss"], 4), "params": summary.get("params")}))
EOF
    else
      echo "{\"model\":\"$model\",\"program\":\"sigtrain\",\"attention\":\"$kind/$label\",\"failed\":\"$(grep -v '^step' "$run.log" | tail -1 | tr -d '"\\' | cut -c1-200)\"}" >> "$RESULTS"
    fi
  done
done

# The table: each row against torch.compile softmax of the same model.
python3 - "$RESULTS" > "$OUTDIR/table.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | program | attention | tokens/s | MFU % | step ms | peak GiB | vs compile softmax |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for model in dict.fromkeys(r["model"] for r in rows):
    ref = next((r for r in rows if r["model"] == model and r["program"] == "pytorch-compile"
                and r["attention"] == "softmax" and "failed" not in r), None)
    for r in (r for r in rows if r["model"] == model):
        if "failed" in r:
            print(f"| {model} | {r['program']} | {r['attention']} | failed: {r['failed']} | | | | |")
            continue
        ratio = f"{r['tokens_per_s'] / ref['tokens_per_s']:.2f}x" if ref else "-"
        print(f"| {model} | {r['program']} | {r['attention']} | {r['tokens_per_s']:,} | {r.get('mfu_pct')} | "
              f"{r.get('step_ms')} | {r.get('peak_mem_gib')} | {ratio} |")
EOF
cat "$OUTDIR/table.md"
