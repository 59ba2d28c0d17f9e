#!/usr/bin/env bash
# Softmax vs sigmoid attention on single cells (issue 6, point 8; docs/singlecell.md §Training): trains
# configs/singlecell/pbmc68k_softmax.yaml and pbmc68k_sigmoid.yaml (pbmc68k_reduced, 700 cells, 10 cell types) on
# one GPU for each seed, interleaved (softmax s1, sigmoid s1, softmax s2, ...), then prints a comparison table
# from the run folders. Needs a built tree (scripts/device/build.sh -> build/sigtrain).
#
#   scripts/device/singlecell_pair.sh                 # seeds 1337 1338 1339, whole budget <= BUDGET_S (170 s)
#   SEEDS="1337" STEPS=800 BUDGET_S=120 scripts/device/singlecell_pair.sh
#   BIN=build-cell/sigtrain STEPS=3 EXTRA_SETS="model.n_layer=1 eval.every=0" \
#     scripts/device/singlecell_pair.sh                 # a CPU dry run (the fused run fails, math is retried)
#
# Run folders: ${OUT:-/tmp}/singlecell/<kind>-s<seed>/ (metrics.jsonl, summary.json, config.yaml, gene_vocab.json,
# singlecell.json; no checkpoints), for `sigtrain report` later; the table also goes to pair_table.md there and a
# `sigtrain report` of all runs to report/. A failed or timed-out run is reported in the table, never fatal; when
# the fused sigmoid kernel is unavailable the sigmoid run is retried once with attention.backend=math.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/sigtrain}
SEEDS=${SEEDS:-"1337 1338 1339"}
BUDGET_S=${BUDGET_S:-170}       # wall-clock budget for all training runs together: a run is cut at the budget
                                # (its last eval record is reported) and later runs are skipped
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-90}
STEPS=${STEPS:-}                # empty: the configs' train.steps
EXTRA_SETS=${EXTRA_SETS:-}      # more key=value overrides for every run (e.g. a CPU dry run)
OUTDIR=${OUT:-/tmp}/singlecell
mkdir -p "$OUTDIR"
if [[ ! -x "$BIN" ]]; then
  echo "singlecell_pair: $BIN not found (build first: scripts/device/build.sh)"
  exit 1
fi

start=$(date +%s)
runs=()
run_one() {  # name config extra-sets...
  local name=$1 config=$2
  shift 2
  local dir="$OUTDIR/$name"
  rm -rf "$dir" "$dir.log"
  local sets=(--set checkpoint.save_final=false --set checkpoint.every=0)
  [[ -n "$STEPS" ]] && sets+=(--set train.steps="$STEPS")
  for kv in $EXTRA_SETS; do sets+=(--set "$kv"); done
  for kv in "$@"; do sets+=(--set "$kv"); done
  local t0=$(date +%s) rc
  # Never past the budget: each run gets at most what is left of it (and at least 20 s), capped at RUN_TIMEOUT_S.
  local left=$(( BUDGET_S - (t0 - start) )) limit=$RUN_TIMEOUT_S
  (( left < limit )) && limit=$left
  (( limit < 20 )) && limit=20
  timeout "$limit" "$BIN" train --config "$config" --run-dir "$dir" "${sets[@]}" > "$dir.log" 2>&1
  rc=$?
  echo "$name: exit $rc after $(( $(date +%s) - t0 )) s ($dir.log)"
  [[ -d "$dir" ]] && cp "$dir.log" "$dir/stdout.log" 2>/dev/null
  runs+=("$name")
  return $rc
}

for seed in $SEEDS; do
  for kind in softmax sigmoid; do
    name="$kind-s$seed"
    if (( $(date +%s) - start > BUDGET_S )); then
      echo "$name: skipped (time budget of $BUDGET_S s spent)"
      continue
    fi
    if ! run_one "$name" "configs/singlecell/pbmc68k_$kind.yaml" "train.seed=$seed"; then
      if [[ $kind == sigmoid ]] && grep -q "backend: fused" "$OUTDIR/$name.log" 2>/dev/null &&
         (( $(date +%s) - start <= BUDGET_S )); then
        echo "$name: fused kernel unavailable, retrying with attention.backend=math"
        run_one "$kind-math-s$seed" "configs/singlecell/pbmc68k_$kind.yaml" "train.seed=$seed" \
          "attention.backend=math" || true
      fi
    fi
  done
done
echo "training took $(( $(date +%s) - start )) s"

python3 - "$OUTDIR" "${runs[@]}" <<'EOF' | tee "$OUTDIR/pair_table.md"
import json, math, os, sys
out, names = sys.argv[1], sys.argv[2:]
def load(name):
    d = os.path.join(out, name)
    r = {"name": name, "status": "missing", "reason": ""}
    try:
        s = json.load(open(os.path.join(d, "summary.json")))
        r["status"] = s.get("status", "?"); r["reason"] = s.get("reason", "") or ""
        r["tps"] = s.get("tokens_per_s"); r["wall"] = s.get("wall_time_s"); r["step"] = s.get("last_step")
    except Exception:
        r["status"] = "no summary (crashed or timed out)"
    evals, trains = [], []
    try:
        for line in open(os.path.join(d, "metrics.jsonl")):
            j = json.loads(line)
            (evals if j.get("type") == "eval" else trains if j.get("type") == "train" else []).append(j)
    except Exception:
        pass
    if evals:
        e = evals[-1]
        r.update(step=e.get("step"), val=e.get("val_loss"), asw=e.get("asw"), coh=e.get("cohesion"),
                 knn=e.get("knn_accuracy"), pad=e.get("padding_fraction"), frac=e.get("train_token_fraction"),
                 aswc=e.get("asw_centered"), knnc=e.get("knn_accuracy_centered"),
                 in_asw=e.get("input_asw"), in_knn=e.get("input_knn_accuracy"),
                 best_val=min(x["val_loss"] for x in evals), best_asw=max(x.get("asw", -9) for x in evals))
    if r.get("tps") is None and trains:
        v = [t["tokens_per_s"] for t in trains[1:] if t.get("tokens_per_s")]
        r["tps"] = sum(v) / len(v) if v else None
    if r.get("tps") and r.get("frac"):
        r["real_tps"] = r["tps"] * r["frac"]
    try:
        cfg = open(os.path.join(d, "config.yaml")).read()
        section, r["backend"] = "", "?"
        for l in cfg.splitlines():
            if l and not l.startswith(" "):
                section = l.split(":")[0]
            elif section == "attention" and l.strip().startswith("backend:"):
                r["backend"] = l.split(":", 1)[1].strip()
    except Exception:
        r["backend"] = "?"
    return r
def f(x, p=4):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{p}f}" if isinstance(x, float) else str(x)
rows = [load(n) for n in names]
cols = ["run", "backend", "status", "step", "val_loss", "best_val", "ASW", "best_ASW", "cohesion", "kNN acc",
        "ASW (centred)", "kNN (centred)", "input ASW", "input kNN", "tokens/s (slots)", "tokens/s (real)", "padding"]
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join([r["name"], r.get("backend", "?"), r["status"], f(r.get("step")), f(r.get("val")),
                              f(r.get("best_val")), f(r.get("asw")), f(r.get("best_asw")), f(r.get("coh")),
                              f(r.get("knn")), f(r.get("aswc")), f(r.get("knnc")), f(r.get("in_asw")),
                              f(r.get("in_knn")), f(r.get("tps"), 0),
                              f(r.get("real_tps"), 0), f(r.get("pad"), 3)]) + " |")
print()
for kind in ("softmax", "sigmoid"):
    ok = [r for r in rows if r["name"].startswith(kind) and r["status"] == "completed" and r.get("val") is not None]
    if not ok:
        print(f"{kind}: no completed run"); continue
    m = lambda k: sum(r[k] for r in ok if r.get(k) is not None) / max(1, sum(1 for r in ok if r.get(k) is not None))
    print(f"{kind}: mean over {len(ok)} seed(s): val_loss {m('val'):.4f}, ASW {m('asw'):.4f}, cohesion {m('coh'):.4f}, "
          f"kNN {m('knn'):.4f}, ASW centred {m('aswc'):.4f}, tokens/s real {m('real_tps'):.0f}")
for r in rows:
    if r["status"] not in ("completed",):
        print(f"{r['name']}: {r['status']} {r['reason'][:300]}")
print()
print("val_loss: masked-bin cross-entropy on the held-out cells (51 bins: ln 50 = 3.91 at chance); ASW (cosine, by")
print("bulk_labels, higher = better), cohesion (intra/inter mean cosine distance, lower = better) and kNN accuracy (k=5,")
print("leave-one-out) on pooled embeddings of the 140 held-out cells, from the last eval record. tokens/s (slots) is the")
print("trainer's count (cells x max_len per step); real = slots x train_token_fraction (non-padding tokens only).")
print("centred: the same metrics after subtracting the mean embedding of the scored cells. input: the metrics of the")
print("held-out cells' input vectors (binned expression per gene), the baseline an embedding has to beat.")
EOF

if ls "$OUTDIR"/*/metrics.jsonl > /dev/null 2>&1; then
  dirs=()
  for n in "${runs[@]}"; do [[ -f "$OUTDIR/$n/metrics.jsonl" ]] && dirs+=("$OUTDIR/$n"); done
  "$BIN" report "${dirs[@]}" --out "$OUTDIR/report" > "$OUTDIR/report.log" 2>&1 ||
    echo "sigtrain report failed (see $OUTDIR/report.log)"
fi
exit 0
