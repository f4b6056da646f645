"""The lab's interval and comparison arithmetic, against values worked out by hand."""

from __future__ import annotations

import pytest

from leancot.lab.stats import arm_figures, compare_arms, paired_bootstrap, wilson


def test_wilson_matches_the_textbook_interval():
    lo, hi = wilson(8, 10)  # 0.8 of 10: Wilson 95% is [0.490, 0.943]
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 0.0)


def test_paired_bootstrap_brackets_the_observed_difference():
    a = [1.0, 0.0] * 50
    b = [1.0, 1.0] * 50
    lo, hi = paired_bootstrap(a, b, "diff")
    assert lo <= 0.5 <= hi and lo > 0.3
    assert paired_bootstrap(a, a, "diff") == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


def _rec(pid: str, correct: bool, tokens: int, finish: str = "stop") -> dict:
    return {"problem_id": pid, "correct": correct, "total_tokens": tokens, "finish_reason": finish}


def test_arm_figures_and_comparison():
    base = [_rec("1", True, 100), _rec("2", False, 300, "length")]
    other = [_rec("1", True, 30), _rec("2", True, 30)]
    f = arm_figures(base)
    assert (f["correct"], f["accuracy"], f["mean_output_tokens"], f["truncated"]) == (1, 0.5, 200.0, 1)
    c = compare_arms(base, other)
    assert c["accuracy_diff"] == 0.5 and c["accuracy_ratio"] == 2.0 and c["token_ratio"] == pytest.approx(0.15)
