"""``--method perplexity`` with SmolLM2-135M on these cores: speed on ~2k-token traces, and what it keeps.

    PYTHONPATH=src python benchmarks/perplexity_speed.py [--speed N] [--quality N] [--no-cache-check]

1. Speed: ``N`` (default 2) of the bundled real R1-Distill traces cut at the sentence end nearest
   2,000 tokens (``prune_quality.cut_to``), each pruned by ``PerplexityPruner.prune`` with the
   scorer already loaded: traces/s, wall and CPU seconds per trace, candidates scored, scorer tokens/s.
   With the cache check (default on) the first cut trace is scored again without the KV cache,
   one full sequence per removal, to show what the cache saves and that the scores agree.
2. Quality: the prune stage (verification and self-containedness repair included) with
   ``--method perplexity`` on the first ``N`` (default: all 20) correct real traces, full length:
   token reduction, answers kept (verified records), steps removed, and the same traces with
   ``heuristic`` for comparison.

The defaults (ratio 0.3, threshold 0.05, window 128, contexts of 2,048 tokens, batches of 8) are
``PruneConfig``'s. Torch uses every core it is given (``torch.get_num_threads()`` is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prune_quality import counter, cut_to, load  # noqa: E402

from leancot.io import read_jsonl, write_jsonl_atomic  # noqa: E402
from leancot.schema import Trace  # noqa: E402


def trace_of(r: dict) -> Trace:
    return Trace(
        id=r["id"],
        question=r["problem"],
        completion=r["completion"],
        reasoning=r["reasoning"],
        final=r["final"],
        answer=r["answer"],
        gold_answer=r["gt_answer"],
        correct=r["is_correct"],
    )


def speed(rows: list[dict], n: int, cache_check: bool) -> None:
    import torch

    from leancot.prune.perplexity import PerplexityOptions, PerplexityPruner, candidates
    from leancot.prune.segment import decompose

    count, _ = counter()
    cuts = cut_to(rows, count, 2000)[:n]
    pruner = PerplexityPruner(PerplexityOptions())
    scorer = pruner.scorer
    t0 = time.perf_counter()
    scorer.load()
    print(f"scorer smollm2-135m loaded in {time.perf_counter() - t0:.1f} s; torch threads {torch.get_num_threads()}", flush=True)
    walls, cpus, results = [], [], []
    for r in cuts:
        scorer.tokens = 0
        w0, c0 = time.perf_counter(), time.process_time()
        p = asyncio.run(pruner.prune(trace_of(r)))
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        n_cands = len(candidates(decompose(r["reasoning"], r["problem"]), r["answer"], r["problem"]))
        results.append(p)
        print(
            f"  {r['id']}: {r['tokens']:,} tokens, {len(p.steps)} steps, {n_cands} candidates, "
            f"{sum(s.action == 'delete' for s in p.steps)} removed; {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU, "
            f"{scorer.tokens:,} scorer tokens ({scorer.tokens / walls[-1]:,.0f}/s)",
            flush=True,
        )
    tokens = [r["tokens"] for r in cuts]
    print(
        f"Speed on {len(cuts)} traces cut to ~2,000 tokens (mean {statistics.mean(tokens):,.0f}): "
        f"{len(cuts) / sum(walls):.3f} traces/s wall ({statistics.mean(walls):.1f} s/trace), "
        f"{statistics.mean(cpus):.1f} CPU s/trace",
        flush=True,
    )
    if cache_check and cuts:
        r, cached = cuts[0], results[0]
        scorer.use_cache, scorer.tokens = False, 0
        w0 = time.perf_counter()
        plain = asyncio.run(pruner.prune(trace_of(r)))
        wall = time.perf_counter() - w0
        scorer.use_cache = True
        diffs = [abs(a - b) for a, b in zip(cached.extra["importance"], plain.extra["importance"]) if a is not None]
        same = [s.action for s in cached.steps] == [s.action for s in plain.steps]
        print(
            f"Without the KV cache (one full sequence per removal), {r['id']}: {wall:.1f} s wall vs {walls[0]:.1f} s "
            f"with it ({wall / walls[0]:.1f}x), {scorer.tokens:,} scorer tokens; importance max |diff| "
            f"{max(diffs, default=0):.1e}, same removals: {same}",
            flush=True,
        )


def quality(rows: list[dict], n: int) -> None:
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run

    chosen = [r for r in rows if r["is_correct"]][:n]
    raw = [{k: v for k, v in r.items() if k not in ("reasoning", "final", "answer")} for r in chosen]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "correct.jsonl"
        write_jsonl_atomic(path, raw)
        for method in ("perplexity", "heuristic"):
            w0 = time.perf_counter()
            out = run(PruneConfig(input=path, out=Path(tmp) / method, method=method, workers=1))
            wall = time.perf_counter() - w0
            records = read_jsonl(out / "records.jsonl")
            rejects = read_jsonl(out / "rejects.jsonl") if (out / "rejects.jsonl").exists() else []
            before, after = sum(r["tokens_before"] for r in records), sum(r["tokens_after"] for r in records)
            verified = sum(r["verified"] for r in records)
            removed = sum(s["action"] == "delete" for r in records for s in r["steps"])
            steps = sum(len(r["steps"]) for r in records)
            print(
                f"{method}: {len(raw)} traces -> {len(records)} records ({verified} verified, {len(rejects)} rejects"
                f"{': ' + ', '.join(sorted({x['reason'] for x in rejects})) if rejects else ''}); tokens {before:,} -> "
                f"{after:,} ({1 - after / before:.1%} fewer); answers kept {verified}/{len(raw)}; steps removed "
                f"{removed}/{steps}; self-containedness repaired {sum(bool(r.get('restored')) for r in records)}; "
                f"{wall:.0f} s",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", type=int, default=2, help="cut traces to time (0: skip)")
    ap.add_argument("--quality", type=int, default=20, help="correct real traces to prune through the stage (0: skip)")
    ap.add_argument("--no-cache-check", action="store_true", help="skip the run without the KV cache")
    args = ap.parse_args()
    rows = load()
    if args.speed:
        speed(rows, args.speed, not args.no_cache_check)
    if args.quality:
        quality(rows, args.quality)


if __name__ == "__main__":
    main()
