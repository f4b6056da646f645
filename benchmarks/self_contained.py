"""Share of pruned paths that are self-contained before repair, per pruner, on real and lab traces.

A path is self-contained when every number a computation uses stands in the question or
earlier in the path (``leancot.prune.contained``). The prune stage repairs a path that is not
(it puts back the deriving steps) or rejects it as ``not_self_contained``; this prints, per
offline pruner, how many paths pass before repair, how many the repair fixes, and how many
would be rejected, on the 20 correct real R1-Distill traces and on the lab teacher's traces.
The originals are checked too: a gap in an original is a number the trace itself never derives
(a trial quotient in a long division), the floor of what any pruner can reach.

    PYTHONPATH=src python benchmarks/self_contained.py [--problems 300] [--pruners heuristic,first-answer]
"""

from __future__ import annotations

import argparse
import asyncio

from leancot import grading
from leancot.prune.contained import contain, is_self_contained
from leancot.prune.registry import PRUNERS
from leancot.schema import Trace


def real_traces() -> list[Trace]:
    from leancot.data import correct_traces

    return correct_traces()


def lab_traces(n: int) -> list[Trace]:
    from leancot.lab.problems import generate
    from leancot.lab.teacher import write_trace

    out = []
    for p in generate(n, seed=0):
        completion = write_trace(p)
        reasoning, final, _ = grading.split_think(completion)
        out.append(
            Trace(
                id=p.id,
                problem_id=p.id,
                question=p.question,
                completion=completion,
                reasoning=reasoning,
                final=final,
                answer=str(p.answer),
                gold_answer=str(p.answer),
                correct=True,
            )
        )
    return out


def make(name: str):
    from leancot.prune.registry import make as make_pruner
    from leancot.prune.stage import PruneConfig

    return make_pruner(name, PruneConfig.model_construct(method=name))


def measure(name: str, traces: list[Trace]) -> str:
    if name == "original":
        passed = sum(is_self_contained(t.reasoning, t.question) for t in traces)
        return f"{passed}/{len(traces)} ({passed / len(traces):.0%}) self-contained"
    pruner = make(name)
    passed = repaired = rejected = failed = 0
    for t in traces:
        try:
            p = asyncio.run(pruner.prune(t))
        except Exception:  # noqa: BLE001 - a pruner's reject is a figure here, not an error
            failed += 1
            continue
        result = contain(p.pruned, p.steps, t.question)
        passed += result is not None and not result[2]
        repaired += result is not None and bool(result[2])
        rejected += result is None
    n = len(traces)
    return f"{passed}/{n} ({passed / n:.0%}) pass before repair; repaired {repaired}; not_self_contained {rejected}" + (
        f"; pruner rejected {failed}" if failed else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=300, help="lab problems (seed 0)")
    parser.add_argument(
        "--pruners",
        default=",".join(n for n in PRUNERS if n not in ("llm", "perplexity")),
        help="offline pruners to measure (the teacher needs a server; perplexity a scorer: add it by name)",
    )
    args = parser.parse_args()
    sets = {"real R1-Distill traces (20 correct)": real_traces(), f"lab teacher traces ({args.problems})": lab_traces(args.problems)}
    for set_name, traces in sets.items():
        print(set_name)
        for name in ["original", *args.pruners.split(",")]:
            print(f"  {name:<14} {measure(name, traces)}")


if __name__ == "__main__":
    main()
