#!/usr/bin/env python3
"""Whether a stress run blew up: exit 0 when RUN diverged, or its largest gradient norm reached FACTOR (default 100)
times its early median (the median over the first tenth of its logged steps, at least steps 1-10), or (with
MAX_LOGIT) its largest attention logit (attn/max_abs_logit, max over layers, where the run collected attention
statistics) reached MAX_LOGIT: softmax's failure at the paper's size was unbounded logits and a stalled loss with a
flat gradient norm (docs/results/stress_paper/short_schedule/). Else 1; 2 when the run has no summary or no
gradient norms. Prints the numbers it decided on.

    scripts/stress_blew_up.py RUN_DIR [FACTOR [MAX_LOGIT]]

Used by the no-clipping searches (scripts/device/stress_pair.sh, scripts/device/stress_paper_search.sh); the run
must log every step (logging.every=1): a blow-up can be a one-step spike.
"""
import json
import math
import sys


def main() -> int:
    run = sys.argv[1]
    factor = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    max_logit = float(sys.argv[3]) if len(sys.argv) > 3 else math.inf
    try:
        summary = json.load(open(f"{run}/summary.json"))
    except (OSError, ValueError):
        print(f"{run}: no readable summary.json")
        return 2
    if summary.get("status") == "diverged":
        print(f"{run}: diverged at step {summary.get('diverged_step')}")
        return 0
    norms, logits = [], []
    for line in open(f"{run}/metrics.jsonl"):
        rec = json.loads(line)
        g, lg = rec.get("grad_norm"), rec.get("attn/max_abs_logit")
        if rec.get("type") == "train" and isinstance(g, (int, float)) and math.isfinite(g):
            norms.append((rec["step"], g))
        if rec.get("type") == "train" and isinstance(lg, (int, float)):
            logits.append((rec["step"], lg))
    if not norms:
        print(f"{run}: no finite grad norms in metrics.jsonl")
        return 2
    last = norms[-1][0]
    early = sorted(g for step, g in norms if step <= max(10, last // 10))
    median = early[len(early) // 2]
    peak_step, peak = max(norms, key=lambda sg: sg[1])
    ratio = peak / median
    print(f"{run}: max grad norm {peak:.4g} at step {peak_step} = {ratio:.1f}x the early median {median:.4g} "
          f"(threshold {factor:g}x, {last} steps)")
    logit_step, logit = max(logits, key=lambda sl: sl[1]) if logits else (None, None)
    if logits:
        print(f"{run}: max attention logit {logit:.4g} at step {logit_step} (threshold {max_logit:g})")
    return 0 if ratio >= factor or (logit is not None and not logit < max_logit) else 1


if __name__ == "__main__":
    sys.exit(main())
