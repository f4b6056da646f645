"""Time per trace of the offline pruner as traces grow: is it linear in their length?

    PYTHONPATH=src python benchmarks/prune_scaling.py [--sizes 1000,10000,100000,1000000] [--repeats 3]

Builds traces of 1k, 10k, 100k and 1M characters from the 40 bundled real R1-Distill
traces (their reasoning parts, one after another, cut at a space near the size), in two
shapes: as written (multi-line) and as a single line (every line break a space, as a
model that never breaks lines, or a JSON export that lost them, gives). The answer given
to the pruner is that of the last real trace the text ends in, so the answer step lies
near the end and the whole trace is walked. Prints, per shape and size, the best wall time
of ``prune_trace`` + ``verify_path`` (what the prune stage runs per trace, token counting aside)
and the time per 1k characters, which stays flat when the pruner is linear.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from leancot import grading
from leancot.data import traces_path
from leancot.prune import derivation
from leancot.prune.heuristic import prune_trace
from leancot.prune.verify import verify_path

SIZES = (1_000, 10_000, 100_000, 1_000_000)


def real_reasonings(path: Path) -> list[tuple[str, str | None]]:
    """``(reasoning, answer)`` of every bundled trace."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return [(grading.split_think(r["completion"])[0], grading.extract_answer(r["completion"])) for r in rows]


def build(traces: list[tuple[str, str | None]], size: int, single_line: bool) -> tuple[str, str | None]:
    """A text of about ``size`` characters made of real traces, and the answer of the last one in it."""
    parts, total, answer, k = [], 0, None, 0
    while total < size:
        reasoning, ans = traces[k % len(traces)]
        parts.append(reasoning)
        total += len(reasoning) + 2
        answer = ans if ans is not None else answer
        k += 1
    text = "\n\n".join(parts)
    cut = text.rfind(" ", 0, size)
    text = text[: cut if cut > size // 2 else size]
    return (" ".join(text.split("\n")) if single_line else text), answer


def time_one(text: str, answer: str | None, repeats: int) -> float:
    """Best wall time (s) of pruning and verifying ``text`` once."""
    best = float("inf")
    for _ in range(repeats):
        derivation._build.cache_clear()  # each repeat builds the trace's derivation graph anew, as a run does
        start = time.perf_counter()
        steps, pruned = prune_trace(text, answer)
        verify_path(pruned, steps, reasoning=text, question="", answer=answer)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated sizes in characters")
    parser.add_argument("--repeats", type=int, default=3, help="runs per trace; the best is printed")
    args = parser.parse_args()
    traces = real_reasonings(traces_path())
    print(f"prune_trace + verify_path, best of {args.repeats}, one process")
    print(f"{'shape':<12}{'characters':>12}{'lines':>8}{'ms / trace':>12}{'ms / 1k chars':>15}")
    for single_line in (False, True):
        for size in (int(s) for s in args.sizes.split(",")):
            text, answer = build(traces, size, single_line)
            seconds = time_one(text, answer, args.repeats)
            shape = "single line" if single_line else "multi-line"
            per_1k = 1000 * seconds / len(text) * 1000
            print(f"{shape:<12}{len(text):>12,}{text.count(chr(10)) + 1:>8,}{1000 * seconds:>12.1f}{per_1k:>15.3f}")


if __name__ == "__main__":
    main()
