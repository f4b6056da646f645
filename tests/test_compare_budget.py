"""``leancot compare`` with the budget figures: each run's curve up to its own max, the table and the plot."""

import json

import pytest
import typer
from test_eval_budget import TABLE, _rec
from typer.testing import CliRunner

from leancot.evaluate.command import print_summary, register
from leancot.evaluate.compare import compare
from leancot.evaluate.metrics import summarize_benchmark


def test_compare_reports_each_runs_curve_up_to_its_own_max(tmp_path):
    for name, recs, top in (("a", TABLE, 2048), ("b", [_rec(r["problem_id"], r["sample"], r["correct"], 100) for r in TABLE], 512)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (tmp_path / name / "manifest.json").write_text(json.dumps({"stage": "eval", "config": {"max_new_tokens": top}}))
    runs = compare([tmp_path / "a", tmp_path / "b"], iters=100)["benchmarks"]["b"]["runs"]
    a, b = runs[str(tmp_path / "a")], runs[str(tmp_path / "b")]
    assert [x for x, _ in a["budget_curve"]] == [256, 512, 1024, 2048]
    assert b["budget_curve"] == [[256, 4 / 6], [512, 4 / 6]] and b["budget_efficiency"] == pytest.approx(4 / 6)


def test_compare_command_prints_the_budget_table_and_plots_the_curves(tmp_path):
    app = typer.Typer()
    register(app)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TABLE))
        (tmp_path / name / "manifest.json").write_text(json.dumps({"stage": "eval", "config": {"max_new_tokens": 2048}}))
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--plot", str(tmp_path / "budget.png")])
    assert res.exit_code == 0, res.output
    assert "accuracy within a token budget" in res.output and "≤ 2k" in res.output and "0.278" in res.output  # (2/12 + 3/12 + 5/12) / 3
    assert (tmp_path / "budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = {"model": "m", "backend": "hf", "benchmarks": {"b": summarize_benchmark(TABLE, max_tokens=2048)}}
    print_summary(summary)  # the eval summary's efficiency and right/wrong lengths render
