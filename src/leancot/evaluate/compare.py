"""``leancot compare DIR_A DIR_B ...``: eval runs side by side, with a paired significance test.

The first directory is the baseline; every other is paired with it over the problems both
evaluated. Per benchmark and pair:

- accuracy and tokens of each run (all its records), its accuracy under each token budget
  up to its ``max_new_tokens`` and its budget efficiency (``leancot.evaluate.budget``);
- the problems that flipped: right in A and wrong in B, and the reverse;
- the exact McNemar p-value of the flips (is the difference more than chance?);
- a paired bootstrap 95% interval of the accuracy difference B − A (seeded, reproducible).

A problem's score is the mean correctness over its samples (1/0 for greedy runs); flips and
McNemar use sample 0, which is binary in every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import UsageError
from leancot.evaluate.budget import budget_of, budget_summary
from leancot.evaluate.metrics import group_by_problem, mcnemar_exact, paired_bootstrap
from leancot.io import read_jsonl


def load_run(out_dir: str | Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """benchmark -> problem id -> records (by sample) of one eval directory."""
    path = Path(out_dir) / "records.jsonl"
    stage = (manifest.read(out_dir) or {}).get("stage", "eval")
    if stage != "eval":
        raise UsageError(f"compare: {out_dir} is a {stage} output, not an eval output")
    if not path.exists():
        raise UsageError(f"compare: {out_dir} has no records.jsonl: not an eval output directory")
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for r in read_jsonl(path):
        if "benchmark" not in r:
            raise UsageError(f"compare: {out_dir} does not hold eval records (no 'benchmark' in {path})")
        by_bench.setdefault(r["benchmark"], []).append(r)
    return {b: group_by_problem(rs) for b, rs in by_bench.items()}


def run_stats(problems: dict[str, list[dict[str, Any]]], max_tokens: int | None = None) -> dict[str, Any]:
    """Accuracy, tokens and accuracy under token budgets (``leancot.evaluate.budget``) of one run on one benchmark.

    ``max_tokens``: the run's generation budget on it (None: its longest output)."""
    records = [r for rs in problems.values() for r in rs]
    n = len(records)
    return {
        "problems": len(problems),
        "accuracy": sum(r["correct"] for r in records) / n if n else None,
        "mean_tokens": sum(r["total_tokens"] for r in records) / n if n else None,
        "truncation_rate": sum(r["finish_reason"] == "length" for r in records) / n if n else None,
        **budget_summary(records, max_tokens),
    }


def run_config(out_dir: str | Path) -> dict[str, Any]:
    """The config an eval dir ran with: its manifest's, else its summary's decoding settings (else empty)."""
    config = (manifest.read(out_dir) or {}).get("config") or {}
    if config.get("max_new_tokens") is None:
        summary = Path(out_dir) / "summary.json"
        if summary.exists():
            config = {**(json.loads(summary.read_text(encoding="utf-8")).get("decoding") or {}), **config}
    return config


Run = dict[str, list[dict[str, Any]]]  # problem id -> its records, by sample


def pair_stats(a: Run, b: Run, *, seed: int = 0, iters: int = 10_000) -> dict[str, Any]:
    """Paired comparison of two runs over the problems both hold."""
    common = sorted(set(a) & set(b))
    score = lambda rs: sum(r["correct"] for r in rs) / len(rs)  # noqa: E731
    sa, sb = [score(a[p]) for p in common], [score(b[p]) for p in common]
    gained = [p for p in common if not a[p][0]["correct"] and b[p][0]["correct"]]
    lost = [p for p in common if a[p][0]["correct"] and not b[p][0]["correct"]]
    diff, low, high = paired_bootstrap(sa, sb, iters=iters, seed=seed)
    tokens = lambda run: sum(r["total_tokens"] for p in common for r in run[p]) / max(1, sum(len(run[p]) for p in common))  # noqa: E731
    ta, tb = tokens(a), tokens(b)
    return {
        "common_problems": len(common),
        "accuracy_a": sum(sa) / len(sa) if sa else None,
        "accuracy_b": sum(sb) / len(sb) if sb else None,
        "accuracy_diff": diff,
        "ci95": [low, high],
        "mcnemar_p": mcnemar_exact(len(lost), len(gained)),
        "gained": gained,  # wrong in A, right in B
        "lost": lost,  # right in A, wrong in B
        "mean_tokens_a": ta,
        "mean_tokens_b": tb,
        "token_change": (tb - ta) / ta if ta else None,
    }


def compare(dirs: list[str | Path], *, seed: int = 0, iters: int = 10_000) -> dict[str, Any]:
    """Compare eval directories; the first is the baseline. Returns a JSON-able dict."""
    if len(dirs) < 2:
        raise UsageError("compare needs at least two eval directories")
    runs = [load_run(d) for d in dirs]
    configs = [run_config(d) for d in dirs]
    names = [str(d) for d in dirs]
    benchmarks = sorted(set().union(*runs))
    out: dict[str, Any] = {"runs": names, "seed": seed, "benchmarks": {}}
    for bench in benchmarks:
        base = runs[0].get(bench, {})
        out["benchmarks"][bench] = {
            "runs": {name: run_stats(run.get(bench, {}), budget_of(config, bench)) for name, run, config in zip(names, runs, configs)},
            "pairs": {name: pair_stats(base, run.get(bench, {}), seed=seed, iters=iters) for name, run in zip(names[1:], runs[1:])},
        }
    return out
