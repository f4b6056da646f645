"""Summary maths of the eval stage, checked against definitions written out by hand."""

import itertools
import json
import math

import pytest

from leancot.evaluate.compare import compare
from leancot.evaluate.metrics import ks_for, mcnemar_exact, paired_bootstrap, pass_at_k, summarize_benchmark


def brute_pass_at_k(outcomes: list[bool], k: int) -> float:
    """pass@k by definition: the share of k-subsets of the samples holding a correct one."""
    subsets = list(itertools.combinations(outcomes, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_matches_the_brute_force_definition(n):
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(outcomes, k))


def test_pass_at_1_is_the_share_correct_and_bad_arguments_raise():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 2, 5)


def test_ks_reported_are_powers_of_two_and_n():
    assert ks_for(1) == [1]
    assert ks_for(8) == [1, 2, 4, 8]
    assert ks_for(6) == [1, 2, 4, 6]


def _rec(pid, sample, correct, tokens=10, finish="stop", bench="b"):
    return {
        "benchmark": bench,
        "problem_id": pid,
        "sample": sample,
        "correct": correct,
        "answer": "1" if correct else None,
        "total_tokens": tokens,
        "reasoning_tokens": tokens,
        "answer_tokens": 0,
        "finish_reason": finish,
    }


def test_summary_of_sampled_records():
    records = [_rec("p1", 0, True, 10), _rec("p1", 1, False, 30, "length"), _rec("p2", 0, False, 20), _rec("p2", 1, False, 40)]
    s = summarize_benchmark(records, {"wall_s": 2.0, "generated_tokens": 100})
    assert s["problems"] == 2 and s["samples_per_problem"] == 2
    assert s["accuracy"] == s["mean@2"] == 0.25
    assert s["pass@1"] == pytest.approx(0.25) and s["pass@2"] == pytest.approx(0.5)
    assert s["mean_tokens"] == 25 and s["median_tokens"] == 25 and s["mean_tokens_correct"] == 10
    assert s["truncation_rate"] == 0.25
    assert s["tokens_per_s"] == 50.0


def test_mcnemar_exact_on_a_hand_made_table():
    # 10 discordant pairs split 1 vs 9: p = 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_paired_bootstrap_interval():
    a = [0, 0, 1, 1, 0, 1, 0, 0, 1, 0] * 5
    b = [1, 0, 1, 1, 1, 1, 0, 1, 1, 0] * 5
    diff, low, high = paired_bootstrap(a, b, iters=4000, seed=1)
    assert diff == pytest.approx(0.3)
    assert low < 0.3 < high and low > 0  # every pair moves up or stays: the interval excludes 0
    assert paired_bootstrap(a, b, iters=4000, seed=1) == (diff, low, high)  # seeded: reproducible
    assert paired_bootstrap([1, 1], [1, 1]) == (0.0, 0.0, 0.0)


def test_compare_two_hand_made_runs(tmp_path):
    # A right on p0..p5; B flips p0, p1 to wrong and p6..p9 to right.
    a = [_rec(f"p{i}", 0, i < 6, 100) for i in range(10)]
    b = [_rec(f"p{i}", 0, (2 <= i < 6) or i >= 6, 50) for i in range(10)]
    for name, recs in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    result = compare([tmp_path / "a", tmp_path / "b"], seed=0, iters=2000)
    pair = result["benchmarks"]["b"]["pairs"][str(tmp_path / "b")]
    assert pair["lost"] == ["p0", "p1"] and pair["gained"] == ["p6", "p7", "p8", "p9"]
    assert pair["mcnemar_p"] == pytest.approx(2 * (1 + 6 + 15) / 64)
    assert pair["accuracy_diff"] == pytest.approx(0.2)
    assert pair["token_change"] == pytest.approx(-0.5)
    assert math.isclose(result["benchmarks"]["b"]["runs"][str(tmp_path / "a")]["accuracy"], 0.6)
