#!/usr/bin/env bash
# Loss curves of the `fused` and `math` sigmoid backends on the same run (quickstart model with 3 heads of 64, as the
# kernels take head dims 64 and 128; KJV, bf16, one GPU):
# prints both curves side by side and the largest relative difference. Usage: fused_vs_math.sh [STEPS]
set -uo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-300}
OUTDIR=${OUT:-/tmp}/fused_vs_math
mkdir -p "$OUTDIR"
for backend in math fused; do
  rm -rf "$OUTDIR/$backend"
  build/sigtrain train --config configs/lm/quickstart.yaml --run-dir "$OUTDIR/$backend" \
    --set attention.backend=$backend --set model.n_head=3 --set train.steps="$STEPS" --set logging.every=10 --set eval.every=100 \
    --set checkpoint.every=0 --set checkpoint.save_final=false > "$OUTDIR/$backend.log" 2>&1 \
    || echo "$backend run failed: $(tail -2 "$OUTDIR/$backend.log")"
done
python3 - "$OUTDIR" <<'PY'
import json, sys, os
d = sys.argv[1]
def recs(b):
    p = os.path.join(d, b, "metrics.jsonl")
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
def summary(b):
    p = os.path.join(d, b, "summary.json")
    return json.load(open(p)) if os.path.exists(p) else {}
m = {r["step"]: r["loss"] for r in recs("math") if r["type"] == "train"}
f = {r["step"]: r["loss"] for r in recs("fused") if r["type"] == "train"}
print(f"{'step':>6} {'math':>9} {'fused':>9} {'rel.diff':>9}")
worst = 0.0
for s in sorted(set(m) & set(f)):
    rel = abs(m[s] - f[s]) / abs(m[s])
    worst = max(worst, rel)
    if s % 50 == 0 or s == 1: print(f"{s:>6} {m[s]:9.4f} {f[s]:9.4f} {rel:9.2e}")
vm = [r["val_loss"] for r in recs("math") if r["type"] == "eval"]
vf = [r["val_loss"] for r in recs("fused") if r["type"] == "eval"]
print("validation loss math:", [round(v, 4) for v in vm])
print("validation loss fused:", [round(v, 4) for v in vf])
print(f"largest relative train-loss difference: {worst:.3e}")
print("tokens/s math:", summary("math").get("tokens_per_s"), " fused:", summary("fused").get("tokens_per_s"))
PY
