"""Accuracy under a token budget: how much of a run's accuracy it reaches in few tokens.

Pure functions over eval records (dicts as read from ``records.jsonl``); the summary of
every eval run (``leancot.evaluate.metrics.summarize_benchmark``), ``leancot compare`` and
the report take their budget figures from here.

Definitions:

- **Budgets**: 256, 512, 1k, 2k, 4k, 8k, 16k and 32k tokens (:data:`BUDGETS`) up to the
  run's maximum ``M`` (its ``max_new_tokens`` for that benchmark), then ``M`` itself when it
  is not one of them, so the curve ends at the run's own accuracy. A run whose ``M`` is
  under 256 has the one budget ``M``. With no ``M`` known (records alone), ``M`` is the
  longest output among the records.
- **Accuracy at budget B**: the share of records (every sample of every problem, as the
  summary's accuracy) that are correct, not cut off (``finish_reason == "length"`` or
  ``truncated``) and at most ``B`` tokens long (``total_tokens``: everything generated).
- **Budget efficiency**: the area under accuracy-vs-budget on a log2 axis, normalised:
  with budgets ``b_0 < ... < b_m``, ``x_i = log2(b_i)`` and ``a_i`` the accuracy at ``b_i``,

      efficiency = sum_i (x_{i+1} - x_i) * (a_i + a_{i+1}) / 2  /  (x_m - x_0)

  (the trapezoid rule, divided by the log-width), in [0, 1]. A run whose answers all fit
  in 256 tokens scores its accuracy; one that needs its whole budget scores little
  (``a_m * (x_m - x_{m-1}) / 2 / (x_m - x_0)``). With one budget it is that budget's
  accuracy. Runs compare on it only when their maxima are the same.
- **Lengths of correct and wrong answers**: mean and median ``total_tokens`` of the
  correct records and of the others (wrong, no answer or cut off).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

#: The budgets reported, in tokens (those up to a run's maximum).
BUDGETS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


def budgets_for(max_tokens: int) -> list[int]:
    """The budgets of a run whose outputs are at most ``max_tokens`` long, ascending, ending at it."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    return [b for b in BUDGETS if b < max_tokens] + [max_tokens]


def budget_of(config: dict[str, Any], benchmark: str) -> int | None:
    """The generation budget (``max_new_tokens``) ``benchmark`` ran with, from an eval config as the manifest holds it."""
    return (config.get("max_new_tokens_by_benchmark") or {}).get(benchmark, config.get("max_new_tokens"))


def counts_at(record: dict[str, Any], budget: int) -> bool:
    """True when ``record`` is correct, not cut off and at most ``budget`` tokens long."""
    cut_off = record.get("finish_reason") == "length" or bool(record.get("truncated"))
    return bool(record["correct"]) and not cut_off and record["total_tokens"] <= budget


def accuracy_at(records: Sequence[dict[str, Any]], budget: int) -> float | None:
    """The share of ``records`` that count at ``budget`` (None for no records)."""
    return sum(counts_at(r, budget) for r in records) / len(records) if records else None


def run_maximum(records: Sequence[dict[str, Any]], max_tokens: int | None) -> int | None:
    """The run's maximum output length: ``max_tokens`` when known, else the longest record."""
    if max_tokens:
        return int(max_tokens)
    return max((int(r["total_tokens"]) for r in records), default=None) or None


def budget_curve(records: Sequence[dict[str, Any]], max_tokens: int | None = None) -> list[tuple[int, float]]:
    """``[(budget, accuracy), ...]`` at :func:`budgets_for` the run's maximum; ``[]`` for no records."""
    top = run_maximum(records, max_tokens)
    if not records or top is None:
        return []
    return [(b, sum(counts_at(r, b) for r in records) / len(records)) for b in budgets_for(top)]  # accuracy_at, never None here


def budget_efficiency(curve: Sequence[tuple[int, float]]) -> float | None:
    """The normalised area under ``curve`` on a log2-budget axis (module docstring); None if empty."""
    if not curve:
        return None
    if len(curve) == 1:
        return float(curve[0][1])
    xs = [math.log2(b) for b, _ in curve]
    area = sum((xs[i + 1] - xs[i]) * (curve[i][1] + curve[i + 1][1]) / 2 for i in range(len(curve) - 1))
    return area / (xs[-1] - xs[0])


def length_stats(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Mean and median ``total_tokens`` of the correct records and of the others (None where there are none)."""
    out: dict[str, float | None] = {}
    for label, want in (("correct", True), ("wrong", False)):
        tokens = [r["total_tokens"] for r in records if bool(r["correct"]) is want]
        out[f"mean_tokens_{label}"] = sum(tokens) / len(tokens) if tokens else None
        out[f"median_tokens_{label}"] = statistics.median(tokens) if tokens else None
    return out


def budget_label(tokens: int) -> str:
    """``1024`` -> ``"1k"``, ``192`` -> ``"192"``: a budget as plots and tables write it."""
    return f"{tokens // 1024}k" if tokens >= 1024 and tokens % 1024 == 0 else str(tokens)


def budget_summary(records: Sequence[dict[str, Any]], max_tokens: int | None = None) -> dict[str, Any]:
    """The budget figures of one run on one benchmark, as the eval summary holds them.

    ``budget_max`` (the run's maximum), ``budget_curve`` (``[[budget, accuracy], ...]``),
    ``budget_efficiency``, and the mean and median tokens of correct and of wrong answers.
    """
    curve = budget_curve(records, max_tokens)
    return {
        "budget_max": run_maximum(records, max_tokens),
        "budget_curve": [[b, a] for b, a in curve],
        "budget_efficiency": budget_efficiency(curve),
        **length_stats(records),
    }
