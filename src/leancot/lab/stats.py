"""The lab's figures: accuracy with 95% intervals, paired bootstraps, complete paths, the summary table.

Pure functions over eval and prune records (dicts as read from ``records.jsonl``), the teacher's
annotations and the figures the lab collects per student, so they are tested without training anything.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``correct / n`` (95% by default); (0, 0) for n = 0."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], stat: str = "diff", *, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of ``mean(b) - mean(a)`` (``diff``) or ``mean(b) / mean(a)``
    (``ratio``) when the problems (paired positions of ``a`` and ``b``) are resampled."""
    if len(a) != len(b) or not a:
        raise ValueError("paired_bootstrap needs two non-empty sequences of the same length")
    r = random.Random(seed)
    n = len(a)
    values = []
    for _ in range(draws):
        idx = [r.randrange(n) for _ in range(n)]
        ma, mb = sum(a[i] for i in idx) / n, sum(b[i] for i in idx) / n
        if stat == "diff":
            values.append(mb - ma)
        elif ma > 0:
            values.append(mb / ma)
    if not values:
        return (float("nan"), float("nan"))
    values.sort()
    return (values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))])


def per_problem(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Eval records keyed by ``problem_id`` (the lab evaluates one greedy sample per problem)."""
    return {r["problem_id"]: r for r in records}


def compare_arms(base: list[dict[str, Any]], other: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Paired figures of ``other`` against ``base`` over the problems both answered."""
    pa, pb = per_problem(base), per_problem(other)
    ids = sorted(set(pa) & set(pb))
    ca = [float(pa[i]["correct"]) for i in ids]
    cb = [float(pb[i]["correct"]) for i in ids]
    ta = [float(pa[i]["total_tokens"]) for i in ids]
    tb = [float(pb[i]["total_tokens"]) for i in ids]
    acc_a, acc_b = _mean(ca), _mean(cb)
    return {
        "problems": len(ids),
        "accuracy_diff": acc_b - acc_a,
        "accuracy_diff_ci95": paired_bootstrap(ca, cb, "diff", seed=seed),
        "accuracy_ratio": acc_b / acc_a if acc_a else None,
        "accuracy_ratio_ci95": paired_bootstrap(ca, cb, "ratio", seed=seed),
        "token_ratio": _mean(tb) / _mean(ta) if _mean(ta) else None,
        "token_ratio_ci95": paired_bootstrap(ta, tb, "ratio", seed=seed),
    }


def arm_figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (Wilson 95%), output tokens, truncation of one student's eval records."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    return {
        "problems": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "accuracy_ci95": wilson(correct, n),
        "mean_output_tokens": _mean([float(r["total_tokens"]) for r in records]),
        "truncated": sum(r.get("finish_reason") == "length" for r in records),
    }


def complete_paths(records: dict[str, dict[str, Any]], ids: list[str], notes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How many of the paths ``ids`` are complete by the teacher's annotations (``leancot.prune.annotations``),
    independently of leancot's own derivation check, and why the others are not, counted (``missing``:
    a required computation, ``order``: one before a computation it uses, ``retracted``: one kept)."""
    from leancot.prune.annotations import complete

    done, why = 0, {}
    for i in ids:
        ok, reason = complete(records[i]["pruned"], notes[i]["required"], notes[i]["retracted"])
        done += ok
        if not ok:
            kind = reason.split(" ", 1)[0] if reason.startswith(("missing", "retracted")) else "order"
            why[kind] = why.get(kind, 0) + 1
    return {"complete": done, "paths": len(ids), "share": done / len(ids) if ids else None, "incomplete": why}


def situations(notes: list[dict[str, Any]]) -> dict[str, int]:
    """How many teacher traces hold each situation (``teacher.Annotation.classes``), from their annotations."""
    counts: dict[str, int] = {}
    for note in notes:
        for c in note["classes"]:
            counts[c] = counts.get(c, 0) + 1
    return dict(sorted(counts.items()))


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def table(summary: dict[str, Any]) -> str:
    """The lab's result as a Markdown table (one row per student, pooled over seeds) plus targets.

    Each arm's accuracy carries its Wilson 95% interval, and beside it the share of its training
    paths that are complete derivations by the teacher's annotations (``–`` for an arm trained on
    the verbose traces); its difference from the baseline (``verbose``) and its output-token ratio
    carry paired bootstrap 95% intervals over the problems."""
    base = summary.get("baseline", "verbose")
    vs = summary.get("vs_baseline", {})
    lines = [f"| student | accuracy (95% CI) | complete paths | output tokens | train s | train tokens | accuracy − {base} (paired 95% CI) "
             f"| output tokens ÷ {base} (95% CI) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for arm, f in summary["arms"].items():
        lo, hi = f["accuracy_ci95"]
        lines.append(
            f"| {arm} | {f['accuracy']:.1%} ({lo:.1%}-{hi:.1%}) | {complete_cell(f.get('complete_paths'))} | {f['mean_output_tokens']:.0f} "
            f"| {f['train_seconds']:.0f} | {f['train_tokens']:,.0f} | {' | '.join(paired_cells(vs.get(arm)))} |"
        )
    lines.append("")
    for name, t in summary["targets"].items():
        lines.append(f"- {name}: {t['figure']} (target {t['target']}): {'met' if t['met'] else 'NOT met'}")
    for spec, why in summary.get("skipped_arms", {}).items():
        lines.append(f"- arm {spec} skipped: {why}")
    return "\n".join(lines) + "\n"


def complete_cell(c: dict[str, Any] | None) -> str:
    """``96.0% (960/1000)``: an arm's complete training paths (``leancot.lab.stats.complete_paths``); ``–`` for none."""
    if not c or not c.get("paths"):
        return "–"
    return f"{c['complete'] / c['paths']:.1%} ({c['complete']}/{c['paths']})"


def paired_cells(c: dict[str, Any] | None) -> tuple[str, str]:
    """``accuracy difference (CI)`` and ``token ratio (CI)`` of one comparison; ``–`` for the baseline."""
    if c is None:
        return ("–", "–")
    lo, hi = c["accuracy_diff_ci95"]
    diff = f"{c['accuracy_diff']:+.1%} ({lo:+.1%} to {hi:+.1%})"
    ratio = (
        "–"
        if c.get("token_ratio") is None
        else f"{c['token_ratio']:.1%} ({_pct(c['token_ratio_ci95'][0])}-{_pct(c['token_ratio_ci95'][1])})"
    )
    return (diff, ratio)


def _pct(x: float | None) -> str:
    return "–" if x is None or x != x else f"{x:.1%}"
