"""The lab's one figure: every arm's accuracy against its output tokens, and its paired difference.

Left: accuracy (pooled over seeds, Wilson 95% bars) against mean output tokens per answer, one
point per arm. Middle: each arm's accuracy minus the baseline's (``verbose``) on the same problems
and seeds, with the paired bootstrap 95% interval; an interval that crosses zero is no difference
the lab can tell apart. Right: each arm's training time (mean over seeds; a self-sampling arm's
includes its sampling, not the verbose student's training it starts from).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def arms_plot(summary: dict[str, Any], path: Path) -> bool:
    """Draw the figure of ``summary`` (a ``lab_summary.json``) into ``path``; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("lab: matplotlib is not installed: no lab_arms.png (pip install matplotlib)")
        return False
    arms = summary["arms"]
    base = summary.get("baseline", "verbose")
    vs = summary.get("vs_baseline", {})
    fig, (ax, dx, tx) = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.4, 1, 0.8]})
    for i, (name, f) in enumerate(arms.items()):
        lo, hi = f["accuracy_ci95"]
        acc = 100 * f["accuracy"]
        ax.errorbar([f["mean_output_tokens"]], [acc], yerr=_bars(acc, 100 * lo, 100 * hi), fmt="o", capsize=4, color=f"C{i}", label=name)
    ax.set_xlim(left=0)
    lows, highs = [100 * f["accuracy_ci95"][0] for f in arms.values()], [100 * f["accuracy_ci95"][1] for f in arms.values()]
    ax.set_ylim(max(-2.0, min(lows) - 5), min(102.0, max(highs) + 5))
    ax.set_xlabel("mean output tokens per answer")
    ax.set_ylabel("accuracy (%), Wilson 95%")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    seeds = ",".join(str(s) for s in summary.get("seeds", []))
    student = summary.get("settings", {}).get("student")
    who = f"{student} + LoRA" if student else "from scratch"
    ax.set_title(f"held-out accuracy against tokens ({who}, seeds {seeds})", fontsize=10)
    others = [n for n in arms if n in vs]
    for y, name in enumerate(others):
        c = vs[name]
        lo, hi = c["accuracy_diff_ci95"]
        d = 100 * c["accuracy_diff"]
        dx.errorbar([d], [y], xerr=_bars(d, 100 * lo, 100 * hi), fmt="o", capsize=4, color=f"C{list(arms).index(name)}")
    dx.axvline(0, color="#757575", lw=1)
    dx.set_yticks(range(len(others)), others)
    dx.set_ylim(-0.7, max(len(others), 1) - 0.3)
    dx.invert_yaxis()
    dx.set_xlabel(f"accuracy − {base} (points), paired bootstrap 95%")
    dx.grid(axis="x", alpha=0.3)
    dx.set_title(f"paired difference against {base}", fontsize=10)
    names = list(arms)
    tx.barh(range(len(names)), [arms[n]["train_seconds"] for n in names], color=[f"C{i}" for i in range(len(names))])
    tx.set_yticks(range(len(names)), names)
    tx.invert_yaxis()
    tx.set_xlabel("training time (s), mean over seeds")
    tx.grid(axis="x", alpha=0.3)
    tx.set_title("training time", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _bars(value: float, lo: float, hi: float) -> list[list[float]]:
    """Error-bar lengths below and above ``value``; never negative (float rounding at 0%, or a
    percentile interval that does not hold the point estimate)."""
    return [[max(0.0, value - lo)], [max(0.0, hi - value)]]
