"""Grade every bundled benchmark's own gold solutions with leancot.grading.

    python benchmarks/grade_gold_solutions.py [--verbose]

A worked solution (GSM8K ``#### N``, MATH-500 ``\\boxed{}``) is graded as it stands, as a
final text (``must_conclude=False``: 74 MATH-500 solutions explain on after their box); a
benchmark with only a final answer (AIME, AMC) is graded as a model would write it:
``\\boxed{<raw answer>}``. Prints N, correct, % and seconds per benchmark and exits 1
when any benchmark is below 100 %.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from leancot import data
from leancot.grading import grade

logger = logging.getLogger("grade_gold_solutions")


def gold_output(problem, raw_answer) -> str:
    """The text to grade: the worked solution, or the raw answer in a model's box."""
    solution = problem.meta.get("solution")
    if isinstance(solution, str) and data.gold_from_solution(solution) is not None:
        return solution
    return f"The answer is \\boxed{{{raw_answer}}}."


def grade_benchmark(name: str, split: str = "test") -> tuple[int, int, float, list[str]]:
    """(N, correct, seconds, ids of failures) for one benchmark split."""
    bench = data.find_benchmark(name)
    raw = data.read_records(data.files_dir() / "benchmarks" / bench.splits[split])
    problems = data.load(name, split)
    start, failures = time.perf_counter(), []
    for problem, row in zip(problems, raw):
        if not grade(gold_output(problem, row[bench.answer_field]), problem.gold_answer, must_conclude=False):
            failures.append(problem.id)
    return len(problems), len(problems) - len(failures), time.perf_counter() - start, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list the failing ids")
    parser.add_argument("--train", action="store_true", help="also grade GSM8K train (7473)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    jobs = [(name, "test") for name in data.list_benchmarks()]
    if args.train:
        jobs.append(("gsm8k", "train"))
    print(f"{'benchmark':<14}{'N':>6}{'correct':>9}{'%':>8}{'time s':>9}")
    all_pass = True
    for name, split in jobs:
        n, correct, seconds, failures = grade_benchmark(name, split)
        label = name if split == "test" else f"{name}/{split}"
        print(f"{label:<14}{n:>6}{correct:>9}{100 * correct / n:>8.2f}{seconds:>9.2f}")
        if failures:
            all_pass = False
            if args.verbose:
                print("  failing:", ", ".join(failures))
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
