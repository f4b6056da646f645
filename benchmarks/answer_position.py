"""Where a trace first writes its final answer, as a share of its reasoning: real R1 traces
against the lab's verbose teacher.

Lead-span training (LSP 0.5) keeps the first half of the reasoning; what it keeps depends on
how early a trace has its answer and spends the rest re-checking it. This prints, for the 20
correct real R1-Distill traces bundled with leancot and for the lab teacher's traces, the
position (in characters of the reasoning) of the first standalone occurrence of the final answer.

    PYTHONPATH=src python benchmarks/answer_position.py [--problems 1000]
"""

from __future__ import annotations

import argparse
import re
import statistics

from leancot import grading


def first_position(reasoning: str, answer: str) -> float | None:
    """Share of ``reasoning`` before the first standalone ``answer`` (None when absent)."""
    match = re.search(r"(?<![\d.])" + re.escape(answer.strip()) + r"(?![\d.])", reasoning)
    return match.start() / len(reasoning) if match and reasoning else None


def describe(name: str, positions: list[float | None]) -> None:
    found = sorted(p for p in positions if p is not None)
    if not found:
        print(f"{name}: answer never found in {len(positions)} traces")
        return
    half = sum(p <= 0.5 for p in found)
    print(
        f"{name}: answer found in {len(found)} of {len(positions)} traces; first at median {statistics.median(found):.1%} "
        f"of the reasoning (quartiles {found[len(found) // 4]:.1%}-{found[3 * len(found) // 4]:.1%}); "
        f"within the first half in {half} of {len(found)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=1000)
    args = parser.parse_args()

    from leancot.data import load_traces
    from leancot.lab.problems import generate
    from leancot.lab.teacher import write_trace

    real = [t for t in load_traces() if t["is_correct"]]
    describe("real R1-Distill traces (correct)", [first_position(grading.split_think(t["completion"])[0], t["gt_answer"]) for t in real])
    lab = [(grading.split_think(write_trace(p))[0], str(p.answer)) for p in generate(args.problems, seed=0)]
    describe("lab verbose teacher", [first_position(r, a) for r, a in lab])


if __name__ == "__main__":
    main()
