"""The report's figures, drawn with matplotlib (Agg) and returned as base64 PNGs for inlining.

Each function takes the collected runs and returns the figures it can draw from them
(none when the runs hold nothing for it), so the page shows what the data supports.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from typing import Any

from leancot.report.collect import Collection, PruneRun, num

log = logging.getLogger(__name__)

#: One colour per pruning action, shared with the trace viewer's CSS.
ACTION_COLORS = {"keep": "#2e7d32", "compress": "#1565c0", "merge": "#7b1fa2", "delete": "#c62828"}
ACTION_ORDER = ("keep", "compress", "merge", "delete")


@dataclass
class Figure:
    """A rendered plot: an anchor, a title, a caption saying how to read it, and the PNG."""

    key: str
    title: str
    caption: str
    png_base64: str


def all_figures(coll: Collection) -> dict[str, list[Figure]]:
    """Every figure the runs support, by report section; empty when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        log.warning("matplotlib is not installed: the report has tables but no plots (pip install matplotlib)")
        return {}
    return {
        "pareto": pareto(coll),
        "lsp": lsp_curve(coll),
        "loss": loss_curves(coll),
        "skills": [f for run in coll.prune for f in (token_capture(run), token_shift(run)) if f is not None],
    }


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pareto(coll: Collection) -> list[Figure]:
    """Accuracy against mean output tokens, one point per (eval run, benchmark), frontier dashed."""
    import matplotlib.pyplot as plt

    points: dict[str, list[tuple[float, float, str]]] = {}
    for run in coll.eval:
        for bench, s in run.benchmarks.items():
            acc, tok = num(s.get("accuracy")), num(s.get("mean_tokens"))
            if acc is not None and tok is not None:
                points.setdefault(bench, []).append((tok, acc, run.name))
    if not points:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for bench, pts in sorted(points.items()):
        line = ax.scatter([p[0] for p in pts], [100 * p[1] for p in pts], label=bench, zorder=3)
        front = pareto_front([(p[0], p[1]) for p in pts])
        if len(front) > 1:
            ax.plot([p[0] for p in front], [100 * p[1] for p in front], "--", color=line.get_facecolor()[0], alpha=0.6)
        for tok, acc, name in pts:
            ax.annotate(name, (tok, 100 * acc), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("mean output tokens per answer")
    ax.set_xlim(left=0)
    ax.set_ylabel("accuracy (%)")
    _accuracy_limits(ax, [100 * p[1] for pts in points.values() for p in pts])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="benchmark", title_fontsize=8)
    caption = "Each point is one evaluated model on one benchmark; up and to the left is better. The dashed line joins the runs no other run beats on both axes."
    return [Figure("pareto", "Accuracy against tokens", caption, _png(fig))]


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (tokens, accuracy) points no other point beats with fewer-or-equal tokens and higher accuracy, by tokens."""
    front: list[tuple[float, float]] = []
    for tok, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((tok, acc))
    return front


def _accuracy_limits(ax: Any, values: list[float]) -> None:
    """A percent axis that shows a spread of a few points without inventing one when all are equal."""
    if values:
        lo, hi = min(values), max(values)
        pad = max(5.0, 0.1 * (hi - lo))
        ax.set_ylim(max(-1.0, lo - pad), min(101.0, hi + pad))


def lsp_curve(coll: Collection) -> list[Figure]:
    """Accuracy (of the eval run linked to each train run) and training time against the lead-span proportion."""
    import matplotlib.pyplot as plt

    runs = sorted((t for t in coll.train if t.lsp is not None), key=lambda t: t.lsp)
    if len({t.lsp for t in runs}) < 2:
        return []
    evals = {e.train: e for e in coll.eval if e.train}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    time_ax = ax.twinx()
    times = [(t.lsp, num(t.metrics.get("wall_seconds"))) for t in runs]
    times = [(x, y) for x, y in times if y is not None]
    if times:
        time_ax.plot([x for x, _ in times], [y for _, y in times], "s:", color="#757575", label="training time")
    time_ax.set_ylabel("training time (s)", color="#757575")
    time_ax.set_ylim(bottom=0)  # from zero, so the time ratio between runs reads off the plot
    benches = sorted({b for t in runs if t.name in evals for b in evals[t.name].benchmarks})
    accs: list[float] = []
    for bench in benches:
        pts = [(t.lsp, num(evals[t.name].benchmarks.get(bench, {}).get("accuracy"))) for t in runs if t.name in evals]
        pts = [(x, 100 * y) for x, y in pts if y is not None]
        ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", label=f"accuracy: {bench}")
        accs += [y for _, y in pts]
    _accuracy_limits(ax, accs)
    ax.set_xlabel("lead-span proportion (share of each training sequence kept)")
    ax.set_ylabel("accuracy (%)" if benches else "(no evaluation linked to these runs)")
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + time_ax.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + time_ax.get_legend_handles_labels()[1]
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="lower right")
    caption = "Training on only the first X% of each sequence: accuracy of the resulting model (left axis) and the training time it cost (right axis)."
    return [Figure("lsp", "The LSP curve", caption, _png(fig))]


def loss_curves(coll: Collection) -> list[Figure]:
    """Training loss against optimizer step, one line per train run."""
    import matplotlib.pyplot as plt

    runs = [t for t in coll.train if t.loss_curve]
    if not runs:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for t in runs:
        curve = t.loss_curve
        ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], marker="." if len(curve) < 50 else None, label=t.name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return [Figure("loss", "Loss curves", "Training loss as logged by the trainer at each optimizer step.", _png(fig))]


def token_capture(run: PruneRun) -> Figure | None:
    """DRP's "token capture": each skill's original tokens, split by what the pruner did with them."""
    import matplotlib.pyplot as plt

    skills = list(run.skills)[:15]  # sorted by tokens already; the tail is unreadable anyway
    if not skills:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(skills)))
    left = [0.0] * len(skills)
    for action in ACTION_ORDER:
        widths = [float(run.skills[s].get(action, 0)) for s in skills]
        ax.barh(skills, widths, left=left, color=ACTION_COLORS[action], label=action)
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlabel("tokens in the original traces")
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    caption = f"{run.name}: which skills' tokens the pruner kept, compressed, merged or deleted (tokens of the original steps)."
    return Figure(f"capture-{run.name}", f"Token capture: {run.name}", caption, _png(fig))


def token_shift(run: PruneRun) -> Figure | None:
    """DRP's "token shift": each skill's share of all tokens before and after pruning."""
    import matplotlib.pyplot as plt

    skills = list(run.skills)[:15]
    before = {s: sum(float(run.skills[s].get(a, 0)) for a in ACTION_ORDER) for s in skills}
    after = {s: float(run.skills[s].get("after", 0)) for s in skills}
    total_b, total_a = sum(before.values()), sum(after.values())
    if not skills or not total_b:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(skills)))
    ys = range(len(skills))
    ax.barh([y - 0.2 for y in ys], [100 * before[s] / total_b for s in skills], height=0.4, color="#9e9e9e", label="before pruning")
    ax.barh([y + 0.2 for y in ys], [100 * after[s] / total_a if total_a else 0 for s in skills], height=0.4, color="#2e7d32", label="after pruning")
    ax.set_yticks(list(ys), skills)
    ax.invert_yaxis()
    ax.set_xlabel("share of all reasoning tokens (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    caption = f"{run.name}: how the mix of skills shifts: each skill's share of the tokens before and after pruning."
    return Figure(f"shift-{run.name}", f"Token shift: {run.name}", caption, _png(fig))
