#!/usr/bin/env python3
"""Plots for `sigtrain report`: reads the report.json that sigtrain wrote and draws PNGs into OUT_DIR.

    python3 scripts/plot_report.py REPORT_JSON OUT_DIR

Needs matplotlib (Debian: python3-matplotlib; numpy comes with it). Exit code 3 = matplotlib missing.
Writes loss.png, grad_norm.png, grad_norm_layers.png (when per-layer norms were logged) and attention.png (when
attention statistics were logged), printing "wrote PATH" for each.

When an arm has several runs (`sigtrain report --arm NAME=RUN,RUN`), loss.png, grad_norm.png and eval_metrics.png
draw one line per arm -- the mean over its runs at each step -- with the min-max range over the runs shaded; the
per-layer heatmaps and attention panels stay one per run.
"""
import json
import math
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors as mcolors
    from matplotlib.ticker import MaxNLocator
except ImportError:  # the C++ side reports this as "plots skipped"
    print("python3 has no matplotlib (Debian: apt-get install python3-matplotlib)")
    sys.exit(3)


def nums(values):
    return [float("nan") if v is None else float(v) for v in values]


def positive(values):
    return [v if (v is not None and math.isfinite(v) and v > 0) else float("nan") for v in values]


def label(run):
    return run["name"] if run["attention"] in run["name"] else f"{run['name']} ({run['attention']})"


def mark_divergence(ax, run, color):
    if run.get("diverged_step") is not None:
        ax.axvline(run["diverged_step"], color=color, linestyle=":", linewidth=1)


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def band(ax, curve, color, label, positive_only=False, marker=None):
    """The mean over an arm's runs as a line, the min-max range over them shaded."""
    steps = curve["step"]
    pick = positive if positive_only else nums
    mean, lo, hi = pick(curve["mean"]), pick(curve["min"]), pick(curve["max"])
    ax.plot(steps, mean, marker or "-", color=color, linewidth=1, markersize=3, label=label)
    ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)


def arm_label(arm):
    return f"{arm['name']} (mean of {arm['n_runs']})" if arm["n_runs"] > 1 else arm["name"]


def plot_arms(arms, runs, out_dir, cycle):
    """loss.png, grad_norm.png, eval_metrics.png with one mean line and min-max band per arm."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, arm in enumerate(arms):
        c = cycle[i % len(cycle)]
        band(ax, arm["curves"]["loss"], c, f"{arm_label(arm)} train")
        if arm["curves"]["val_loss"]["step"]:
            band(ax, arm["curves"]["val_loss"], c, f"{arm_label(arm)} val", marker="o--")
        for run in runs:
            if run.get("arm") == arm["name"]:
                mark_divergence(ax, run, c)
    finite = [v for arm in arms for v in nums(arm["curves"]["loss"]["max"]) if math.isfinite(v) and v > 0]
    if finite and max(finite) > 20 * min(finite):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Loss: mean of each arm, min-max shaded (dotted: divergence)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out_dir, "loss.png")

    keys = []
    for arm in arms:
        for key in arm["curves"].get("eval_metrics", {}):
            if key not in keys:
                keys.append(key)
    if keys:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 4), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for i, arm in enumerate(arms):
                curve = arm["curves"].get("eval_metrics", {}).get(key)
                if curve and curve["step"]:
                    band(ax, curve, cycle[i % len(cycle)], arm_label(arm), marker="o-")
                    ax.set_ylabel(curve.get("label", key))
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle("Evaluation metrics (mean, shaded min-max over runs)")
        save(fig, out_dir, "eval_metrics.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, arm in enumerate(arms):
        c = cycle[i % len(cycle)]
        band(ax, arm["curves"]["grad_norm"], c, arm_label(arm), positive_only=True)
        if arm.get("early_median_grad_norm"):
            ax.axhline(arm["early_median_grad_norm"], color=c, linestyle="--", linewidth=0.6, alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("global gradient norm (before clipping)")
    ax.set_title("Global grad norm: mean, min-max shaded (dashed: early median)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, out_dir, "grad_norm.png")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        report = json.load(f)
    runs = report["runs"]
    arms = report.get("arms", [])
    out_dir = sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if any(arm["n_runs"] > 1 for arm in arms):
        plot_arms(arms, runs, out_dir, cycle)
    else:
        plot_runs(runs, out_dir, cycle)
    plot_layers(runs, out_dir)
    return 0


def plot_runs(runs, out_dir, cycle):
    """loss.png, eval_metrics.png, grad_norm.png with one line per run."""

    # Loss: training loss per step, validation loss as markers; dotted line = detected divergence.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, run in enumerate(runs):
        c = cycle[i % len(cycle)]
        ax.plot(run["steps"], nums(run["loss"]), color=c, linewidth=1, label=f"{label(run)} train")
        if run["val_steps"]:
            ax.plot(run["val_steps"], nums(run["val_loss"]), "o--", color=c, markersize=3, linewidth=0.8,
                    label=f"{label(run)} val")
        mark_divergence(ax, run, c)
    finite = [v for run in runs for v in nums(run["loss"]) if math.isfinite(v) and v > 0]
    if finite and max(finite) > 20 * min(finite):  # a blow-up would flatten everything else
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Loss (dotted: detected divergence)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out_dir, "loss.png")

    # The tasks' evaluation metrics (top-1 accuracy, WER, ...): one panel per metric, one line per run.
    keys = []
    for run in runs:
        for key in run.get("eval_metrics", {}):
            if key not in keys:
                keys.append(key)
    if keys:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 4), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for i, run in enumerate(runs):
                metric = run.get("eval_metrics", {}).get(key)
                if metric and run["val_steps"]:
                    ax.plot(run["val_steps"], nums(metric["values"]), "o-", color=cycle[i % len(cycle)],
                            markersize=3, linewidth=1, label=label(run))
                    ax.set_ylabel(metric["label"])
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle("Evaluation metrics")
        save(fig, out_dir, "eval_metrics.png")

    # Global gradient norm on a log scale.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, run in enumerate(runs):
        c = cycle[i % len(cycle)]
        ax.plot(run["steps"], positive(run["grad_norm"]), color=c, linewidth=1, label=label(run))
        if run.get("early_median_grad_norm"):
            ax.axhline(run["early_median_grad_norm"], color=c, linestyle="--", linewidth=0.6, alpha=0.6)
        mark_divergence(ax, run, c)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("global gradient norm (before clipping)")
    ax.set_title("Global gradient norm (dashed: early median)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, out_dir, "grad_norm.png")


def plot_layers(runs, out_dir):
    """Per-layer heatmaps and attention statistics, one panel per run."""
    # Per-layer gradient-norm heatmaps, one panel per run, one colour scale for all.
    layered = [r for r in runs if r["grad_layers"].get("layers")]
    if layered:
        vals = [v for r in layered for row in r["grad_layers"]["layers"] for v in row
                if v is not None and math.isfinite(v) and v > 0]
        norm = mcolors.LogNorm(vmin=min(vals), vmax=max(vals)) if vals else None
        fig, axes = plt.subplots(1, len(layered), figsize=(5 * len(layered), 4), squeeze=False,
                                 constrained_layout=True)
        im = None
        for ax, run in zip(axes[0], layered):
            steps = run["grad_layers"]["step"]
            rows = [[v if (v is not None and math.isfinite(v) and v > 0) else float("nan") for v in row]
                    for row in run["grad_layers"]["layers"]]
            grid = list(map(list, zip(*rows)))  # [layer][time]
            half = (steps[-1] - steps[0]) / (2 * (len(steps) - 1)) if len(steps) > 1 else 0.5
            extent = [steps[0] - half, steps[-1] + half, -0.5, len(grid) - 0.5]
            im = ax.imshow(grid, aspect="auto", origin="lower", norm=norm, cmap="magma", extent=extent,
                           interpolation="nearest")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("step")
            ax.set_ylabel("layer")
            ax.set_title(f"per-layer grad norm: {label(run)}", fontsize=9)
        if im is not None:
            fig.colorbar(im, ax=axes[0].tolist(), shrink=0.9, label="‖∇θ‖ of the layer")
        path = os.path.join(out_dir, "grad_norm_layers.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"wrote {path}")

    # Attention statistics: per-layer lines (colour = layer), one column per run.
    stats = [("max_abs_logit", "max |logit| before σ/softmax", True),
             ("row_mass_mean", "row mass Σⱼ Pᵢⱼ (mean)", False),
             ("pv_norm", "‖P·V‖ (mean over rows)", True),
             ("block_rms", "block-output RMS", True)]
    with_attn = [r for r in runs if r["attention_stats"].get("max_abs_logit")]
    if with_attn:
        fig, axes = plt.subplots(len(stats), len(with_attn), figsize=(5 * len(with_attn), 2.6 * len(stats)),
                                 squeeze=False)
        for col, run in enumerate(with_attn):
            a = run["attention_stats"]
            steps = a["step"]
            for row, (key, title, logy) in enumerate(stats):
                ax = axes[row][col]
                series = a.get(key) or []
                n_layer = len(series[0]) if series else 0
                cmap = plt.get_cmap("viridis", max(n_layer, 1))
                for layer in range(n_layer):
                    ys = [r[layer] for r in series]
                    ys = positive(ys) if logy else nums(ys)
                    ax.plot(steps, ys, color=cmap(layer), linewidth=0.9, label=f"layer {layer}")
                if logy:
                    ax.set_yscale("log")
                mark_divergence(ax, run, "red")
                ax.set_title(f"{title}: {label(run)}", fontsize=8)
                ax.grid(alpha=0.3)
                if row == len(stats) - 1:
                    ax.set_xlabel("step")
                if row == 0 and col == 0 and n_layer <= 16:
                    ax.legend(fontsize=6, ncol=2)
        save(fig, out_dir, "attention.png")


if __name__ == "__main__":
    sys.exit(main())
