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


def _summary() -> dict:
    from leancot.lab.stats import compare_arms as compare

    verbose = [_rec(str(i), i < 2, 400) for i in range(10)]
    pruned = [_rec(str(i), i < 5, 80) for i in range(10)]
    arms = {
        "verbose": {**arm_figures(verbose), "train_seconds": 60.0, "train_tokens": 1000, "accuracy_by_seed": [0.2]},
        "first-answer": {
            **arm_figures(pruned),
            "train_seconds": 20.0,
            "train_tokens": 300,
            "accuracy_by_seed": [0.5],
            "complete_paths": {"complete": 48, "paths": 50, "share": 0.96, "incomplete": {"retracted": 2}},
        },
    }
    return {
        "settings": {"size": "small"},
        "seeds": [0],
        "arms": arms,
        "baseline": "verbose",
        "wall_seconds": 1.0,
        "vs_baseline": {"first-answer": compare(verbose, pruned)},
        "targets": {},
        "skipped_arms": {"perplexity": "not registered"},
    }


def test_table_shows_each_arms_paired_difference_with_verbose():
    from leancot.lab.stats import table

    text = table(_summary())
    assert "| accuracy (95% CI) | complete paths | output tokens |" in text
    assert "| verbose | 20.0% (5.7%-51.0%) | – | 400 | 60 | 1,000 | – | – |" in text  # trained on verbose traces: no paths
    row = next(line for line in text.splitlines() if line.startswith("| first-answer |"))
    assert "| 50.0% (23.7%-76.3%) | 96.0% (48/50) | 80 |" in row
    assert "+30.0% (" in row and "| 20.0% (20.0%-20.0%) |" in row
    assert "- arm perplexity skipped: not registered" in text


def test_plot_is_written(tmp_path):
    from leancot.lab.plot import arms_plot

    assert arms_plot(_summary(), tmp_path / "lab_arms.png")
    assert (tmp_path / "lab_arms.png").read_bytes()[:4] == b"\x89PNG"


def test_print_summary_prints_every_arm(capsys, monkeypatch):
    from leancot.cli_utils import console
    from leancot.lab.command import print_summary

    monkeypatch.setattr(console, "width", 240)  # one line per arm
    print_summary(_summary())
    out = capsys.readouterr().out
    assert "first-answer" in out and "perplexity skipped" in out
    assert "complete" in out and "96.0% (48/50)" in out


def test_complete_paths_are_judged_by_the_annotations():
    from leancot.lab.stats import complete_paths, situations

    notes = {
        i: {"required": [{"id": "a", "expr": "3 * 4 = 12", "after": []}, {"id": "b", "expr": "12 + 5 = 17", "after": ["a"]}],
            "retracted": ["3 * 4 = 13"], "classes": classes}
        for i, classes in (("1", ["slip"]), ("2", []), ("3", ["slip", "aside"]), ("4", []))
    }  # fmt: skip
    records = {
        "1": {"pruned": "So 3 * 4 = 12 toys.\n12 + 5 = 17 toys."},
        "2": {"pruned": "12 + 5 = 17 toys."},  # the derivation of 12 dropped
        "3": {"pruned": "3 * 4 = 13, no: 3 * 4 = 12. Then 12 + 5 = 17."},  # a retracted slip kept
        "4": {"pruned": "12 + 5 = 17, as 3 * 4 = 12."},  # in the wrong order
    }
    c = complete_paths(records, ["1", "2", "3", "4"], notes)
    assert (c["complete"], c["paths"], c["share"]) == (1, 4, 0.25)
    assert c["incomplete"] == {"missing": 1, "retracted": 1, "order": 1}
    assert complete_paths(records, ["1"], notes)["share"] == 1.0 and complete_paths(records, [], notes)["share"] is None
    assert situations(list(notes.values())) == {"aside": 1, "slip": 2}
