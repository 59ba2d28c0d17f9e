#!/usr/bin/env bash
# Softmax vs sigmoid attention on single cells (issue 6, point 8; docs/singlecell.md §Training) on the GPU machine:
# the training and the report are scripts/reproduce/singlecell_pair.sh (configs/singlecell/pbmc68k_softmax.yaml and
# pbmc68k_sigmoid.yaml for each seed, interleaved: softmax s1, sigmoid s1, softmax s2, ...; resumable; `sigtrain
# report --arm` of the pair into $OUT/singlecell/report); this wrapper maps its knobs and prints a table of the last
# evaluation records (pair_table.md). Needs a built tree (scripts/device/build.sh -> build/sigtrain).
#
#   scripts/device/singlecell_pair.sh                 # seeds 1337 1338 1339, whole budget <= BUDGET_S (170 s)
#   SEEDS="1337" STEPS=800 BUDGET_S=120 scripts/device/singlecell_pair.sh
#   BIN=build-cell/sigtrain STEPS=3 EXTRA_SETS="model.n_layer=1 eval.every=0 attention.backend=math" \
#     scripts/device/singlecell_pair.sh                 # a CPU dry run
#
# Run folders: ${OUT:-/tmp}/singlecell/<kind>-s<seed>/ (metrics.jsonl, summary.json, config.yaml, gene_vocab.json,
# singlecell.json, checkpoints), logs beside them. A failed or cut run is reported in the table, never fatal; a run
# cut by RUN_TIMEOUT_S, or not started once BUDGET_S is spent, continues when the same command runs again.
set -uo pipefail
cd "$(dirname "$0")/../.."
export SIGTRAIN_BIN=${BIN:-build/sigtrain}
export SEEDS=${SEEDS:-"1337 1338 1339"}
export BUDGET_S=${BUDGET_S:-170}          # no training command starts after this many seconds
export RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-90} # wall-clock limit of each training command
export STEPS=${STEPS:-}                   # empty: the configs' train.steps
export EXTRA_SETS=${EXTRA_SETS:-}         # more key=value overrides for every run (e.g. a CPU dry run)
OUTDIR=${OUT:-/tmp}/singlecell
export REPRO_DIR=$OUTDIR
start=$(date +%s)
scripts/reproduce/singlecell_pair.sh
echo "training and report took $(( $(date +%s) - start )) s"
runs=()
for seed in $SEEDS; do
  for kind in softmax sigmoid; do [[ -d "$OUTDIR/$kind-s$seed" ]] && runs+=("$kind-s$seed"); done
done

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

exit 0
