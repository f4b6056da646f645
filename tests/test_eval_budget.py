"""Accuracy under a token budget (leancot.evaluate.budget), computed by hand for a small table of records."""

import json
import math

import pytest

from leancot.evaluate.budget import (
    BUDGETS,
    accuracy_at,
    budget_curve,
    budget_efficiency,
    budget_label,
    budget_of,
    budget_summary,
    budgets_for,
    length_stats,
)
from leancot.evaluate.metrics import summarize_benchmark


def _rec(pid, sample, correct, tokens, finish="stop"):
    return {"benchmark": "b", "problem_id": pid, "sample": sample, "correct": correct, "answer": "1", "total_tokens": tokens,
            "reasoning_tokens": tokens, "answer_tokens": 0, "finish_reason": finish}  # fmt: skip


# 3 problems x 2 samples, run with max_new_tokens 2048:
#   p1: right in 200 and in 600 tokens; p2: right in 1500, wrong in 300;
#   p3: "right" but cut off at 2048 (never counts), wrong in 900.
TABLE = [
    _rec("p1", 0, True, 200),
    _rec("p1", 1, True, 600),
    _rec("p2", 0, True, 1500),
    _rec("p2", 1, False, 300),
    _rec("p3", 0, True, 2048, "length"),
    _rec("p3", 1, False, 900),
]


def test_budgets_stop_at_the_run_maximum_and_end_on_it():
    assert BUDGETS == (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
    assert budgets_for(2048) == [256, 512, 1024, 2048]
    assert budgets_for(3000) == [256, 512, 1024, 2048, 3000]  # the run's own max closes the curve
    assert budgets_for(32768) == list(BUDGETS)
    assert budgets_for(40000) == [*BUDGETS, 40000]
    assert budgets_for(192) == [192]  # under the smallest budget: the one point
    with pytest.raises(ValueError):
        budgets_for(0)


def test_accuracy_at_each_budget_by_hand():
    # out of 6 samples: <=256: p1/0; <=512: the same; <=1024: + p1/1 (600); <=2048: + p2/0 (1500); the cut-off p3/0 never
    assert budget_curve(TABLE, 2048) == [(256, 1 / 6), (512, 1 / 6), (1024, 2 / 6), (2048, 3 / 6)]
    assert accuracy_at(TABLE, 2048) == pytest.approx(0.5) == summarize_benchmark(TABLE)["accuracy"] - 1 / 6
    assert accuracy_at([], 256) is None and budget_curve([]) == []


def test_a_truncated_answer_never_counts_even_when_marked_only_by_the_flag():
    rec = {**_rec("p", 0, True, 100), "truncated": True}
    assert accuracy_at([rec], 32768) == 0.0


def test_efficiency_is_the_normalised_trapezoid_area_over_log2_budget():
    # x = log2 b = 8, 9, 10, 11; a = 1/6, 1/6, 2/6, 3/6; width 3
    area = 1 * (1 / 6 + 1 / 6) / 2 + 1 * (1 / 6 + 2 / 6) / 2 + 1 * (2 / 6 + 3 / 6) / 2
    assert budget_efficiency(budget_curve(TABLE, 2048)) == pytest.approx(area / 3)
    # an uneven last step: 2048 -> 3000 is log2(3000/2048) wide
    curve = [(256, 0.5), (512, 0.5), (1024, 0.5), (2048, 0.5), (3000, 1.0)]
    last = math.log2(3000) - 11
    assert budget_efficiency(curve) == pytest.approx((3 * 0.5 + last * 0.75) / (3 + last))


def test_efficiency_ends_a_run_right_early_at_its_accuracy_and_a_late_one_low():
    early = [_rec(f"p{i}", 0, i < 8, 100) for i in range(10)]  # 80% right, all within 256 tokens
    late = [_rec(f"p{i}", 0, i < 8, 32000) for i in range(10)]  # the same 80%, each needing ~32k tokens
    assert budget_efficiency(budget_curve(early, 32768)) == pytest.approx(0.8)
    assert budget_efficiency(budget_curve(late, 32768)) == pytest.approx(0.8 * 1 / 2 / 7)
    assert budget_efficiency([(192, 0.25)]) == 0.25 and budget_efficiency([]) is None


def test_lengths_of_correct_and_wrong_answers():
    # correct: 200, 600, 1500, 2048 (a cut-off answer graded correct still has its length); wrong: 300, 900
    stats = length_stats(TABLE)
    assert stats == {"mean_tokens_correct": (200 + 600 + 1500 + 2048) / 4, "median_tokens_correct": (600 + 1500) / 2,
                     "mean_tokens_wrong": 600, "median_tokens_wrong": 600}  # fmt: skip
    assert length_stats([_rec("p", 0, False, 5)])["mean_tokens_correct"] is None


def test_the_summary_holds_the_budget_figures():
    s = summarize_benchmark(TABLE, max_tokens=2048)
    assert s["budget_max"] == 2048
    assert s["budget_curve"] == [[256, 1 / 6], [512, 1 / 6], [1024, 2 / 6], [2048, 3 / 6]]
    assert s["budget_efficiency"] == pytest.approx(budget_efficiency(budget_curve(TABLE, 2048)))
    assert s["mean_tokens_wrong"] == 600 and s["median_tokens_correct"] == 1050
    # no max known: the longest output is the maximum
    assert summarize_benchmark(TABLE)["budget_max"] == 2048
    assert budget_summary(TABLE, 1000)["budget_curve"][-1] == [1000, 2 / 6]


def test_budget_of_reads_the_benchmark_budget_then_the_default():
    config = {"max_new_tokens": 4096, "max_new_tokens_by_benchmark": {"aime24": 32768}}
    assert budget_of(config, "aime24") == 32768 and budget_of(config, "gsm8k") == 4096
    assert budget_of({}, "gsm8k") is None
    assert [budget_label(b) for b in (256, 1024, 32768, 192, 3000)] == ["256", "1k", "32k", "192", "3000"]


def test_merged_shards_summary_takes_each_benchmarks_budget(tmp_path):
    from leancot.evaluate.stage import merged_summary

    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TABLE))
    config = {"max_new_tokens": 4096, "max_new_tokens_by_benchmark": {"b": 2048}}
    s = merged_summary(tmp_path, config, {})["b"]
    assert s["budget_max"] == 2048 and s["budget_curve"][-1] == [2048, 3 / 6]
    assert json.loads((tmp_path / "summary.json").read_text())["decoding"]["max_new_tokens_by_benchmark"] == {"b": 2048}
