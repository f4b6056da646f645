"""Quality and speed of the offline DRP pruner on the 40 real R1-Distill traces.

    PYTHONPATH=src python benchmarks/prune_quality.py [--show N] [--all]

Prints, for the 20 correct traces (``--all``: all 40): a per-trace table (tokens before
and after, reduction, answer preserved, invented numbers, verified; the path after the stage's
verification, ``leancot.prune.verify.verify_path``: the derivation check and its repair), the totals, the
skill x action token table, and the speed of ``prune_trace`` + ``check`` on one core, measured
on all 40 traces cut to ~2,000 tokens (and on the full traces), CPU and wall time.
Tokens come from ``leancot.tokens.count_tokens`` when that module exists, else
whitespace-separated words (the header says which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from leancot import grading
from leancot.prune import arithmetic, derivation
from leancot.prune.heuristic import prune_trace
from leancot.prune.segment import units
from leancot.prune.skills import _cues
from leancot.prune.verify import invented_numbers, verify_path

TRACES = Path(__file__).resolve().parents[1] / "src/leancot/data/files/traces/r1_distill_math_traces.jsonl"


def counter():
    """``(count_fn, unit name)``: the project tokenizer if available, else words."""
    try:
        from leancot.tokens import count_tokens

        count_tokens("warm up")
        return count_tokens, "tokens"
    except Exception:  # noqa: BLE001 - any failure means: fall back to words, and say so
        return (lambda text: len(text.split())), "words (leancot.tokens unavailable)"


def count_many(texts: list[str], count) -> list[int]:
    """``count`` over many texts, in one tokenizer batch when ``count`` is the project's counter."""
    try:
        from leancot.tokens import count_tokens, count_tokens_batch

        if count is count_tokens:
            return count_tokens_batch(texts)
    except ImportError:
        pass
    return [count(t) for t in texts]


def load(path: Path = TRACES) -> list[dict]:
    """The trace rows with ``reasoning`` split off the completion."""
    rows = [json.loads(line) for line in path.open()]
    for r in rows:
        r["reasoning"], r["final"], _ = grading.split_think(r["completion"])
        r["answer"] = grading.extract_answer(r["completion"])
    return rows


def evaluate(rows: list[dict], count) -> list[dict]:
    results = []
    for r in rows:
        steps, pruned = prune_trace(r["reasoning"], r["answer"], r["problem"])
        verdict = verify_path(pruned, steps, reasoning=r["reasoning"], question=r["problem"], answer=r["answer"])  # the stage's check
        pruned, steps, fails = verdict.pruned, verdict.steps, verdict.failures
        results.append(
            {
                "restored": bool(verdict.restored),
                "id": r["id"],
                "steps": steps,
                "pruned": pruned,
                "fails": fails,
                "before": count(r["reasoning"]),
                "after": count(pruned),
                "invented": invented_numbers(pruned, "\n".join((r["reasoning"], r["problem"], r["answer"] or ""))),
            }
        )
    return results


def print_table(results: list[dict], unit: str) -> None:
    print(f"\nPer trace ({unit})")
    print(f"{'trace':<52} {'before':>7} {'after':>6} {'cut':>6} {'steps':>5} {'kept':>4}  answer  invented  verified")
    for x in results:
        kept = sum(s.action != "delete" for s in x["steps"])
        ok_answer = not ({"no_answer", "answer_mismatch"} & set(x["fails"]))
        print(
            f"{x['id']:<52} {x['before']:>7} {x['after']:>6} {1 - x['after'] / x['before']:>6.1%} "
            f"{len(x['steps']):>5} {kept:>4}  {'yes' if ok_answer else 'NO':<6}  {len(x['invented']):>8}  "
            f"{'yes' if not x['fails'] else ','.join(x['fails'])}"
        )
    before = sum(x["before"] for x in results)
    after = sum(x["after"] for x in results)
    per_trace = [1 - x["after"] / x["before"] for x in results]
    preserved = sum(not ({"no_answer", "answer_mismatch"} & set(x["fails"])) for x in results)
    print(
        f"\nTOTAL {len(results)} traces: {before} -> {after} {unit}: {1 - after / before:.1%} fewer "
        f"(mean per trace {sum(per_trace) / len(per_trace):.1%}, min {min(per_trace):.1%}, max {max(per_trace):.1%})"
    )
    print(
        f"answers preserved: {preserved}/{len(results)}; traces with invented numbers: "
        f"{sum(bool(x['invented']) for x in results)}; verified: {sum(not x['fails'] for x in results)}/{len(results)}; "
        f"derivations repaired: {sum(x['restored'] for x in results)}"
    )


def print_skill_actions(results: list[dict], count, unit: str) -> None:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for x in results:
        for s in x["steps"]:
            table[s.skill][s.action] += count(s.text)
            table[s.skill]["steps"] += 1
            if s.action != "delete":
                table[s.skill]["out"] += count(s.rewritten if s.rewritten is not None else s.text)
    cols = ["steps", "keep", "compress", "merge", "delete", "out"]
    print(f"\nSkill x action ({unit} of the original steps; 'out' = {unit} they contribute to the pruned text)")
    print(f"{'skill':<22}" + "".join(f"{c:>10}" for c in cols) + f"{'deleted%':>10}")
    for skill in sorted(table, key=lambda k: -sum(v for c, v in table[k].items() if c not in ("steps", "out"))):
        row = table[skill]
        total = sum(row[a] for a in ("keep", "compress", "merge", "delete"))
        print(f"{skill:<22}" + "".join(f"{row[c]:>10}" for c in cols) + f"{row['delete'] / max(total, 1):>10.1%}")


def cut_to(rows: list[dict], count, target: int = 2000) -> list[dict]:
    """Each trace's reasoning cut at the sentence end nearest ``target`` tokens (answer unchanged).

    Sentence ends are the pruner's own unit boundaries; traces shorter than ``target`` are
    left out, so every timed trace is close to ``target`` tokens.
    """
    out = []
    for r in rows:
        text = r["reasoning"]
        ends = [e for _, e, _ in units(text)]
        sizes = count_many([text[:e] for e in ends], count)
        if sizes[-1] < target:
            continue
        best = min(range(len(ends)), key=lambda k: abs(sizes[k] - target))
        out.append({**r, "reasoning": text[: ends[best]].rstrip(), "tokens": sizes[best]})
    return out


def time_traces(rows: list[dict], repeats: int) -> tuple[list[float], list[float]]:
    """Per-repeat (CPU seconds, wall seconds) of ``prune_trace`` + ``verify_path`` (the stage's check) over ``rows``."""
    cpu, wall = [], []
    for _ in range(repeats):
        w0, t0 = time.perf_counter(), time.process_time()
        for r in rows:
            _cues.cache_clear()  # no help from earlier repeats: each trace is labelled from scratch
            derivation._build.cache_clear()  # and its derivation graph built anew
            arithmetic._computations.cache_clear()  # and its sentences' arithmetic read anew
            steps, pruned = prune_trace(r["reasoning"], r["answer"], r["problem"])
            verify_path(pruned, steps, reasoning=r["reasoning"], question=r["problem"], answer=r["answer"])
        cpu.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
    return cpu, wall


def speed(rows: list[dict], count, unit: str, repeats: int = 7, target: int = 2000) -> None:
    """traces/s of ``prune_trace`` + ``check`` on one core, measured on ~``target``-token traces.

    The process is pinned to one CPU where the OS allows it. Both CPU time
    (``time.process_time``: what one core delivers, even on a shared machine) and wall time
    are printed, best and median over ``repeats`` passes.
    """
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    u = unit.split()[0]
    for name, chosen in ((f"{target:,}-{u.rstrip('s')} cuts", cut_to(rows, count, target)), ("full traces", rows)):
        tokens = [r.get("tokens") or count(r["reasoning"]) for r in chosen]
        time_traces(chosen[:3], 1)  # warm-up: imports, regex caches
        cpu, wall = time_traces(chosen, repeats)
        n = len(chosen)
        print(
            f"\nSpeed on {name}: {n} traces of mean {sum(tokens) / n:,.0f} {u} (min {min(tokens):,}, max {max(tokens):,}), "
            f"prune_trace + verify_path, {'one core' if pinned else 'not pinned'}, {repeats} repeats"
        )
        for what, secs in (("CPU time ", cpu), ("wall time", wall)):
            best, med = min(secs), statistics.median(secs)
            print(f"  {what}: best {n / best:6.0f} traces/s, median {n / med:6.0f} traces/s ({sum(tokens) / med:,.0f} {u}/s median)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="all 40 traces, not only the 20 correct ones")
    ap.add_argument("--show", type=int, default=0, help="print the first N pruned texts")
    args = ap.parse_args()
    count, unit = counter()
    rows = load()
    chosen = rows if args.all else [r for r in rows if r["is_correct"]]
    print(f"{len(chosen)} traces ({'all' if args.all else 'correct only'}); counting {unit}")
    results = evaluate(chosen, count)
    print_table(results, unit)
    if not args.all:
        others = evaluate([r for r in rows if not r["is_correct"]], count)
        print(
            f"(incorrect traces, for the record: {sum(x['before'] for x in others)} -> "
            f"{sum(x['after'] for x in others)} {unit}; invented numbers in "
            f"{sum(bool(x['invented']) for x in others)}; answer kept in "
            f"{sum(not ({'no_answer', 'answer_mismatch'} & set(x['fails'])) for x in others)}/{len(others)})"
        )
    print_skill_actions(results, count, unit)
    speed(rows, count, unit)  # speed does not depend on correctness: all 40 traces
    for x in results[: args.show]:
        print(f"\n===== {x['id']}\n{x['pruned']}")


if __name__ == "__main__":
    main()
