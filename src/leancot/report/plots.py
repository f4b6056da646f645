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

from leancot.report.collect import Collection, PruneRun, lsp_label, lsp_series, num

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
        "budget": budget_curves(coll),
        "lsp": lsp_curve(coll),
        "answer": answer_position_figures(coll),
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


def budget_curves(coll: Collection) -> list[Figure]:
    """Accuracy within each token budget, one figure per benchmark, one line per eval run."""
    import matplotlib.pyplot as plt

    by_bench = curves_by_benchmark({run.name: run.benchmarks for run in coll.eval})
    figs = []
    for bench, curves in sorted(by_bench.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        draw_budget_curves(ax, curves)
        ax.set_title(bench, fontsize=10)
        caption = (f"{bench}: the share of answers that are correct within each output budget (not cut off, and at most that many "
                   "tokens), up to each run's max_new_tokens; higher and further left is better. Efficiency: the area under the "
                   "curve on this log2 axis, divided by its width (1.0 = every answer right within the smallest budget).")  # fmt: skip
        figs.append(Figure(f"budget-{bench}", f"Accuracy within a token budget: {bench}", caption, _png(fig)))
    return figs


def curves_by_benchmark(runs: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """benchmark -> run -> budget curve, from run -> benchmark -> summary (summaries without a curve are left out)."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for name, benchmarks in runs.items():
        for bench, s in benchmarks.items():
            curve = [(int(b), float(a)) for b, a in s.get("budget_curve") or [] if num(b) is not None and num(a) is not None]
            if curve:
                out.setdefault(bench, {})[name] = curve
    return out


def draw_budget_curves(ax: Any, curves: dict[str, list[tuple[int, float]]]) -> None:
    """Accuracy (%) against token budget on a log2 axis, one line per run, its efficiency in the legend."""
    from leancot.evaluate.budget import budget_efficiency, budget_label

    for name, curve in curves.items():
        eff = budget_efficiency(curve)
        ax.plot([b for b, _ in curve], [100 * a for _, a in curve], "o-", label=f"{name} (efficiency {eff:.2f})")
    ticks = sorted({b for curve in curves.values() for b, _ in curve})
    if len(ticks) > 1:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [budget_label(b) for b in ticks])
    ax.minorticks_off()
    ax.set_xlabel("token budget (output tokens, log2 scale)")
    ax.set_ylabel("accuracy within the budget (%)")
    _accuracy_limits(ax, [100 * a for curve in curves.values() for _, a in curve])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if len(curves) > 3 else 8, loc="best")


def budget_figure(by_bench: dict[str, dict[str, list[tuple[int, float]]]]) -> Any:
    """One matplotlib figure with a budget-curve panel per benchmark (``leancot compare --plot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(1, len(by_bench)), figsize=(6.4 * max(1, len(by_bench)), 4.2), squeeze=False)
    for ax, (bench, curves) in zip(axes[0], sorted(by_bench.items())):
        draw_budget_curves(ax, curves)
        ax.set_title(bench, fontsize=10)
    fig.tight_layout()
    return fig


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
    """Accuracy (of the eval run linked to each train run) and training time against the lead-span
    proportion, one line per set of runs that differ in it alone (``collect.lsp_series``)."""
    import matplotlib.pyplot as plt

    series = lsp_series(coll)
    if not series:
        return []
    evals = {e.train: e for e in coll.eval if e.train}
    labels = series_labels(series)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    time_ax = ax.twinx()
    benches = sorted({b for _, runs in series for t in runs if t.name in evals for b in evals[t.name].benchmarks})
    accs: list[float] = []
    colour = 0
    for (_, runs), label in zip(series, labels):
        suffix = f" ({label})" if label else ""
        first = colour
        for bench in benches:
            pts = [(t.lsp, num(evals[t.name].benchmarks.get(bench, {}).get("accuracy"))) for t in runs if t.name in evals]
            pts = [(x, 100 * y) for x, y in pts if y is not None]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", color=f"C{colour}", label=f"accuracy: {bench}{suffix}")
                accs += [y for _, y in pts]
                colour += 1
        times = [(t.lsp, num(t.metrics.get("wall_seconds"))) for t in runs]
        times = [(x, y) for x, y in times if y is not None]
        if times:
            time_colour = "#757575" if len(series) == 1 else f"C{first}"
            time_ax.plot([x for x, _ in times], [y for _, y in times], "s:", color=time_colour, alpha=0.8, label=f"training time{suffix}")
    time_ax.set_ylabel("training time (s)", color="#757575")
    time_ax.set_ylim(bottom=0)  # from zero, so the time ratio between runs reads off the plot
    _accuracy_limits(ax, accs)
    ax.set_xlabel("lead-span proportion (share of each training sequence kept)")
    ax.set_ylabel("accuracy (%)" if accs else "(no evaluation linked to these runs)")
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + time_ax.get_legend_handles_labels()[0]
    names = ax.get_legend_handles_labels()[1] + time_ax.get_legend_handles_labels()[1]
    if handles:
        ax.legend(handles, names, fontsize=7 if len(series) > 1 else 8, loc="lower right")
    caption = ("Training on only the first X% of each sequence: accuracy of the resulting model (left axis) and the training time it "
               "cost (right axis). A line joins only runs that differ in X alone (same data, student, seed and settings), so a "
               "student trained on other data, such as pruned traces at 1.0, is on no line.")  # fmt: skip
    return [Figure("lsp", "The LSP curve", caption, _png(fig))]


def series_labels(series: list[tuple[str | None, list[Any]]]) -> list[str]:
    """Per LSP curve, the settings that tell it from the others (``policy=lsp-cot, data=verbose.jsonl``); "" for one curve."""
    if len(series) < 2:
        return [""] * len(series)
    settings = []
    for policy, runs in series:
        truncated = next((t for t in runs if t.lsp != 1.0), runs[0])
        settings.append({**lsp_label(truncated), "policy": str(policy)})
    keys = [k for k in dict.fromkeys(k for s in settings for k in s) if len({s.get(k) for s in settings}) > 1]
    return [", ".join(f"{k}={s.get(k, '?')}" for k in keys) for s in settings]


def answer_position_figures(coll: Collection) -> list[Figure]:
    """Per prune run, where the original traces first derive their answer, against the LSP 0.5 cut."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figs = []
    for run in coll.prune:
        a = run.answer_positions
        if not a.get("positions"):
            continue
        fig, ax = plt.subplots(figsize=(4.6, 3.0))
        ax.hist([100 * x for x in a["positions"]], bins=[10 * k for k in range(11)], color="#5c6bc0", edgecolor="white")
        ax.axvline(50, color="#c62828", ls="--", lw=1.2, label="LSP 0.5 cut")
        ax.axvline(100 * a["median"], color="#212121", lw=1.2, label=f"median {100 * a['median']:.0f}%")
        ax.set_xlim(0, 100)
        ax.set_xlabel("first derivation of the answer (% of the reasoning)")
        ax.set_ylabel("traces")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        caption = (f"{run.name}: where each original trace first derives its final answer, as a share of its reasoning "
                   f"(characters up to the end of that step); {a['derived']} of {a['traces']} traces derive it. Training on the "
                   "first half (LSP 0.5) keeps the answer's derivation only for the traces left of the dashed line.")  # fmt: skip
        figs.append(Figure(f"answer-position-{run.name}", f"Where the answer first appears: {run.name}", caption, _png(fig)))
    return figs


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
    ax.barh(
        [y + 0.2 for y in ys],
        [100 * after[s] / total_a if total_a else 0 for s in skills],
        height=0.4,
        color="#2e7d32",
        label="after pruning",
    )
    ax.set_yticks(list(ys), skills)
    ax.invert_yaxis()
    ax.set_xlabel("share of all reasoning tokens (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    caption = f"{run.name}: how the mix of skills shifts: each skill's share of the tokens before and after pruning."
    return Figure(f"shift-{run.name}", f"Token shift: {run.name}", caption, _png(fig))
