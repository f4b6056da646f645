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


def summarize_benchmark(records: Sequence[dict[str, Any]], timing: dict[str, float] | None = None) -> dict[str, Any]:
    """Accuracy, pass@k/mean@k, token statistics and speed of one benchmark's records."""
    groups = group_by_problem(records)
    samples = [len(rs) for rs in groups.values()]
    n = min(samples) if samples else 0
    tokens = [r["total_tokens"] for r in records]
    correct_tokens = [r["total_tokens"] for r in records if r["correct"]]
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
        "mean_tokens_correct": _mean(correct_tokens),
    }
    if n > 1:
        out[f"mean@{n}"] = out["accuracy"]
        for k in ks_for(n):
            out[f"pass@{k}"] = _mean([pass_at_k(len(rs), sum(r["correct"] for r in rs), k) for rs in groups.values()])
    if timing:
        wall, generated = timing.get("wall_s", 0.0), timing.get("generated_tokens", 0)
        out.update(wall_s=round(wall, 3), generated_tokens=generated, tokens_per_s=round(generated / wall, 2) if wall > 0 else None)
    return out


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


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, iters: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float, float]:
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
