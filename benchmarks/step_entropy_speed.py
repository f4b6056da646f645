"""``--method step-entropy`` against ``--method perplexity``: the same traces, the same scorer, in one run.

    PYTHONPATH=src python benchmarks/step_entropy_speed.py [--n 8] [--threads 2] [--traps] [--full]

Both pruners share one ``ModelScorer`` (SmolLM2-135M, loaded before the clock starts, ``--threads``
torch threads) with the options' defaults (contexts of 2,048 tokens, batches of 8). Each trace is
pruned by both, alternating which goes first so that neither always finds warm caches; each
pruner's time covers all its work on a trace (steps, candidates, scoring, selection), not the
stage's verification, which is the same for every pruner.

Traces: the first ``--n`` bundled real R1-Distill traces of at least 2,000 tokens, cut at the
sentence end nearest 2,000 (``prune_quality.cut_to``, as ``perplexity_speed.py``); ``--full``
keeps them whole; ``--traps`` takes the correct traces of the hand-written trap set instead.

Prints, per method: traces/s, reasoning tokens/s (the traces' tokens pruned per second), scorer
tokens/s (tokens through the model per second), the steps removed; then the step-entropy/perplexity
ratio of the throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perplexity_speed import trace_of  # noqa: E402
from prune_quality import counter, cut_to, load  # noqa: E402

from leancot import grading  # noqa: E402
from leancot.schema import Trace  # noqa: E402


def real_traces(n: int, full: bool) -> tuple[list[Trace], list[int], str]:
    rows = load()
    count, _ = counter()
    if full:
        chosen = rows[:n]
        return [trace_of(r) for r in chosen], [count(r["reasoning"]) for r in chosen], f"the first {n} real R1-Distill traces, whole"
    cuts = cut_to(rows, count, 2000)[:n]
    return [trace_of(r) for r in cuts], [r["tokens"] for r in cuts], f"{n} real R1-Distill traces cut to ~2,000 tokens"


def trap_traces(n: int) -> tuple[list[Trace], list[int], str]:
    from leancot.data.traps import load_traps
    from leancot.tokens import count_tokens

    out = []
    for t in [t for t in load_traps("main") if t["correct"]][:n]:
        reasoning, final, _ = grading.split_think(t["completion"])
        out.append(Trace(id=t["id"], question=t["question"], completion=t["completion"], reasoning=reasoning, final=final,
                         answer=grading.extract_answer(t["completion"]), gold_answer=t["gold_answer"], correct=True))  # fmt: skip
    return out, [count_tokens(t.reasoning) for t in out], f"the first {n} correct trap traces (main set)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8, help="traces (default 8: a subset, to stay within minutes)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the scorer (1: on shared cores two threads thrash)")
    ap.add_argument("--traps", action="store_true", help="the trap set instead of the real traces")
    ap.add_argument("--full", action="store_true", help="real traces whole, not cut to ~2,000 tokens")
    args = ap.parse_args()

    import torch

    from leancot.prune.perplexity import ModelScorer, PerplexityOptions, PerplexityPruner
    from leancot.prune.step_entropy import StepEntropyOptions, StepEntropyPruner

    traces, tokens, what = trap_traces(args.n) if args.traps else real_traces(args.n, args.full)
    scorer = ModelScorer("smollm2-135m", threads=args.threads)
    t0 = time.perf_counter()
    scorer.load()
    print(f"scorer smollm2-135m loaded in {time.perf_counter() - t0:.1f} s; torch threads {torch.get_num_threads()}", flush=True)
    print(f"subset: {what} ({len(traces)} traces, {sum(tokens):,} reasoning tokens)", flush=True)
    pruners = {"perplexity": PerplexityPruner(PerplexityOptions(), scorer=scorer),
               "step-entropy": StepEntropyPruner(StepEntropyOptions(), scorer=scorer)}  # fmt: skip
    wall = dict.fromkeys(pruners, 0.0)
    fed = dict.fromkeys(pruners, 0)
    removed = dict.fromkeys(pruners, 0)
    for k, (trace, n_tokens) in enumerate(zip(traces, tokens)):
        order = list(pruners) if k % 2 == 0 else list(reversed(pruners))
        line = []
        for name in order:
            scorer.tokens = 0
            w0 = time.perf_counter()
            p = asyncio.run(pruners[name].prune(trace))
            seconds = time.perf_counter() - w0
            wall[name] += seconds
            fed[name] += scorer.tokens
            removed[name] += sum(s.action == "delete" for s in p.steps)
            line.append(f"{name} {seconds:.1f} s ({scorer.tokens:,} scorer tokens)")
        print(f"  {trace.id}: {n_tokens:,} tokens; " + "; ".join(line), flush=True)
    rate = {name: len(traces) / wall[name] for name in pruners}
    for name in pruners:
        print(
            f"{name}: {rate[name]:.3f} traces/s, {sum(tokens) / wall[name]:,.0f} reasoning tokens/s, "
            f"{fed[name] / wall[name]:,.0f} scorer tokens/s ({fed[name]:,} scorer tokens in {wall[name]:.1f} s); "
            f"{removed[name]} steps removed",
            flush=True,
        )
    print(f"step-entropy / perplexity: {rate['step-entropy'] / rate['perplexity']:.1f}x the traces/s (same scorer, same traces)")


if __name__ == "__main__":
    main()
