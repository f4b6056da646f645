"""The offline pruner is linear in a trace's length: a long single line is no longer quadratic.

The segmenter used to rescan the current line at every sentence candidate, so one line of
60 KB took 2.8 s and 600 KB 221 s (see benchmarks/prune_scaling.py for the figures now).
"""

import json
import time

from leancot import grading
from leancot.data import traces_path
from leancot.prune.heuristic import prune_trace
from leancot.prune.segment import units


def _single_line(size: int) -> str:
    rows = [json.loads(line) for line in traces_path().open(encoding="utf-8")]
    text = " ".join(grading.split_think(r["completion"])[0] for r in rows)
    while len(text) < size:
        text += " " + text
    return " ".join(text[:size].split("\n"))


def _seconds(fn, *args) -> float:
    """The best of three runs: one run on a shared, busy machine may wait behind another process."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def test_a_200_kb_single_line_is_cut_in_time_linear_in_its_length():
    small, big = _single_line(50_000), _single_line(200_000)
    assert "\n" not in big
    assert len(units(big)) > 1000  # it is cut into sentences, not kept whole
    # 4x the text: about 4x the time, never 16x (ratios in one run: the absolute figures are the benchmark's)
    assert _seconds(units, big) < 10 * _seconds(units, small) + 0.1
    assert _seconds(prune_trace, big, "5") < 10 * _seconds(prune_trace, small, "5") + 0.2


def test_one_giant_step_of_computations_is_linear():
    # one paragraph of computations is one step: compressing it used to slice from the step start per sentence
    small, big = (" ".join(f"Then {i} + {i + 7} = {2 * i + 7}." for i in range(n)) for n in (1_500, 6_000))
    t_small, t_big = _seconds(prune_trace, small, "7"), _seconds(prune_trace, big, "7")
    assert t_big < 10 * t_small + 0.2  # 4x the text: about 4x the time, never 16x
