"""The numbers of an evaluation: pass@k, per-benchmark summaries and paired significance.

Pure functions over plain records (dicts as read from ``records.jsonl``), so they are
tested against brute-force definitions and reused by ``run`` and ``compare``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from leancot.evaluate.budget import budget_summary


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct out of ``n`` samples (Chen et al. 2021).

    ``1 - C(n-c, k) / C(n, k)``: the chance that k samples drawn without replacement from the
    n include a correct one, computed as a product to stay stable for large n.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ks_for(n: int) -> list[int]:
    """The k reported for n samples: 1, 2, 4, 8, ... up to n, and n itself."""
    if n < 1:
        return []
    return sorted({2**i for i in range(int(math.log2(n)) + 1)} | {n})


def group_by_problem(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records of one benchmark grouped by problem id, each group sorted by sample."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["problem_id"]].append(r)
    return {pid: sorted(rs, key=lambda r: r["sample"]) for pid, rs in groups.items()}


def summarize_benchmark(
    records: Sequence[dict[str, Any]], timing: dict[str, float] | None = None, max_tokens: int | None = None
) -> dict[str, Any]:
    """Accuracy, pass@k/mean@k, token statistics, accuracy under token budgets and speed of one benchmark's records.

    ``max_tokens`` is the run's generation budget for the benchmark (``max_new_tokens``): the
    budget curve ends there (``leancot.evaluate.budget``; None: at the longest output)."""
    groups = group_by_problem(records)
    samples = [len(rs) for rs in groups.values()]
    n = min(samples) if samples else 0
    tokens = [r["total_tokens"] for r in records]
    out: dict[str, Any] = {
        "problems": len(groups),
        "records": len(records),
        "samples_per_problem": n if n == max(samples, default=0) else f"{n}-{max(samples)}",
        "accuracy": _mean([float(r["correct"]) for r in records]),  # over every sample: mean@n
        "truncation_rate": _mean([float(r["finish_reason"] == "length") for r in records]),
        "no_answer_rate": _mean([float(r["answer"] is None) for r in records]),
        "mean_tokens": _mean(tokens),
        "median_tokens": statistics.median(tokens) if tokens else None,
        "mean_reasoning_tokens": _mean([r["reasoning_tokens"] for r in records]),
        "mean_answer_tokens": _mean([r["answer_tokens"] for r in records]),
        **budget_summary(records, max_tokens),  # budget curve and efficiency, tokens of correct and of wrong answers
    }
    if n > 1:
        out[f"mean@{n}"] = out["accuracy"]
        out["over_samples"] = over_samples(records, n)
        for k in ks_for(n):
            out[f"pass@{k}"] = _mean([pass_at_k(len(rs), sum(r["correct"] for r in rs), k) for rs in groups.values()])
    if timing:
        wall, generated = timing.get("wall_s", 0.0), timing.get("generated_tokens", 0)
        out.update(wall_s=round(wall, 3), generated_tokens=generated, tokens_per_s=round(generated / wall, 2) if wall > 0 else None)
    return out


# two-sided 95% Student t quantiles by degrees of freedom (beyond 30: the normal 1.96)
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228, 11: 2.201,
        12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080,
        22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042}  # fmt: skip


def over_samples(records: Sequence[dict[str, Any]], n: int) -> dict[str, Any]:
    """Accuracy of each sample index 0..n-1 over the problems: mean ± standard deviation over the
    n samples, and the 95% Student t interval of the mean (pass@1 = the mean, as DeepSeek-R1 reports)."""
    by_sample: dict[int, list[float]] = defaultdict(list)
    for r in records:
        if r["sample"] < n:
            by_sample[r["sample"]].append(float(r["correct"]))
    accs = [sum(v) / len(v) for _, v in sorted(by_sample.items()) if v]
    mean = sum(accs) / len(accs)
    std = statistics.stdev(accs) if len(accs) > 1 else 0.0
    half = _T95.get(len(accs) - 1, 1.96) * std / math.sqrt(len(accs)) if len(accs) > 1 else 0.0
    return {"samples": len(accs), "per_sample_accuracy": accs, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# --------------------------------------------------------------------------- paired tests


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    ``b`` = pairs right in A and wrong in B, ``c`` = wrong in A and right in B. Under the
    null each discordant pair is a fair coin: p = min(1, 2 * P[Binom(b+c, 1/2) <= min(b, c)]).
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, iters: int = 10_000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """``(mean(b - a), low, high)``: the accuracy difference and its percentile bootstrap interval.

    Problems are resampled with replacement, keeping each problem's pair together.
    """
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return (0.0, 0.0, 0.0)
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(iters, len(diff)))
    means = diff[idx].mean(axis=1)
    alpha = (1.0 - level) / 2
    return float(diff.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
