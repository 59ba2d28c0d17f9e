#!/usr/bin/env bash
# Softmax vs sigmoid ViT on Fashion-MNIST (issue 12; docs/vision.md): trains configs/vision/fmnist_softmax.yaml
# and fmnist_sigmoid.yaml for each seed, interleaved, then prints a table and writes `sigtrain report` of all runs.
#   SEEDS="1337 1338" scripts/device/vision_pair.sh
#   BIN=build/sigtrain SEEDS=1337 STEPS=20 EXTRA_SETS="train.device=cpu attention.backend=math" \
#     scripts/device/vision_pair.sh        # a CPU dry run
# Run folders: ${OUT:-/tmp}/vision/<kind>-s<seed>/ (no checkpoints). Needs data: scripts/fetch_vision_data.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/sigtrain}
SEEDS=${SEEDS:-"1337 1338"}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-240}
STEPS=${STEPS:-}
EXTRA_SETS=${EXTRA_SETS:-}
OUTDIR=${OUT:-/tmp}/vision
mkdir -p "$OUTDIR"
runs=()
for seed in $SEEDS; do
  for kind in softmax sigmoid; do
    name="$kind-s$seed"
    dir="$OUTDIR/$name"
    rm -rf "$dir"
    sets=(--set train.seed="$seed" --set checkpoint.every=0 --set checkpoint.save_final=false)
    [[ -n "$STEPS" ]] && sets+=(--set train.steps="$STEPS")
    for kv in $EXTRA_SETS; do sets+=(--set "$kv"); done
    t0=$(date +%s)
    timeout "$RUN_TIMEOUT_S" "$BIN" train --config "configs/vision/fmnist_$kind.yaml" --run-dir "$dir" "${sets[@]}" \
      > "$OUTDIR/$name.log" 2>&1
    echo "$name: exit $? after $(( $(date +%s) - t0 )) s"
    runs+=("$dir")
  done
done
python3 - "${runs[@]}" <<'PY'
import json, os, sys
arms = {}
print(f"{'run':14} {'status':10} {'steps':>6} {'top-1':>7} {'best':>7} {'top-5':>7} {'val loss':>9} {'img/s':>8} {'wall s':>7}")
for d in sys.argv[1:]:
    try:
        s = json.load(open(os.path.join(d, "summary.json")))
    except OSError:
        print(f"{os.path.basename(d):14} (no summary)"); continue
    evals = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl")) if '"eval"' in l]
    last = evals[-1] if evals else {}
    best = max((e.get("top1", 0) for e in evals), default=float("nan"))
    cfg_tokens = 50
    ips = s.get("tokens_per_s", 0) / cfg_tokens
    f = lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else "-"
    print(f"{os.path.basename(d):14} {s['status']:10} {s['last_step']:>6} {f(last.get('top1')):>7} {f(best):>7} "
          f"{f(last.get('top5')):>7} {f(last.get('val_loss')):>9} {ips:>8.0f} {s.get('wall_time_s', 0):>7.1f}")
    arm = os.path.basename(d).split("-s")[0]
    if "top1" in last:
        arms.setdefault(arm, []).append((last["top1"], last.get("val_loss", float("nan"))))
# Per arm over seeds: mean, and the spread as (max - min) / 2.
for arm, vals in arms.items():
    t = [v[0] for v in vals]
    l = [v[1] for v in vals]
    print(f"{arm}: final top-1 {sum(t) / len(t):.4f} ± {(max(t) - min(t)) / 2:.4f}, "
          f"val loss {sum(l) / len(l):.4f} ± {(max(l) - min(l)) / 2:.4f} over {len(vals)} seed(s)")
PY
"$BIN" report "${runs[@]}" --out "$OUTDIR/report" > "$OUTDIR/report.txt" 2>&1 || tail -3 "$OUTDIR/report.txt"
