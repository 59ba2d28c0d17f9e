#!/usr/bin/env bash
# Softmax vs sigmoid ViT on Fashion-MNIST (issue 12; docs/vision.md) on the GPU machine: the training and the
# report are scripts/reproduce/vision_pair.sh (both arms for each seed, resumable, `sigtrain report --arm` of the
# pair into $OUT/vision/report); this wrapper maps its knobs and prints a table of each run's last evaluation.
#   SEEDS="1337 1338" scripts/device/vision_pair.sh
#   BIN=build/sigtrain SEEDS=1337 STEPS=20 EXTRA_SETS="train.device=cpu attention.backend=math" \
#     scripts/device/vision_pair.sh        # a CPU dry run
# Run folders: ${OUT:-/tmp}/vision/<kind>-s<seed>/ (checkpoints every 1000 steps: a run cut by RUN_TIMEOUT_S
# resumes when the same command runs again on the same folder). Needs data: scripts/fetch_vision_data.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
export SIGTRAIN_BIN=${BIN:-build/sigtrain}
export SEEDS=${SEEDS:-"1337 1338"}
export RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-240}
export STEPS=${STEPS:-}
export EXTRA_SETS=${EXTRA_SETS:-}
export PARALLEL=${PARALLEL:-1}   # runs at once on the GPU (lib.sh): the small ViT's step is bound by the host
export REPRO_DIR=${VISION_DIR:-${OUT:-/tmp}/vision}
scripts/reproduce/vision_pair.sh
rc=$?
runs=()
for seed in $SEEDS; do for kind in softmax sigmoid; do runs+=("$REPRO_DIR/$kind-s$seed"); done; done
python3 - "${runs[@]}" <<'PY'
import json, os, re, sys
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
    # Tokens per image from the run's resolved config: (image_size / patch_size)^2 patches (+ CLS).
    cfg = open(os.path.join(d, "config.yaml")).read()
    # (model.vision.image_size 0 means "the data's": the largest value is the one in use.)
    num = lambda key: max(int(v) for v in re.findall(rf"^\s*{key}: (\d+)", cfg, re.M))
    side = num("image_size") // num("patch_size")
    cfg_tokens = side * side + (1 if re.search(r"^\s*pool: cls", cfg, re.M) else 0)
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
exit $rc
