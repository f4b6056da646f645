"""The demo's last screen: what each part achieved, read from the files the runs wrote, then the report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leancot.cli import app, print_demo_summary

runner = CliRunner()


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _eval_summary(accuracy: float, truncation: float, tokens: float) -> dict:
    return {
        "decoding": {"max_new_tokens": 192},
        "benchmarks": {"gsm8k": {"records": 8, "accuracy": accuracy, "truncation_rate": truncation, "mean_tokens": tokens}},
    }


def test_the_summary_reads_every_part_from_its_files(tmp_path, capsys):
    from test_lab_stats import _summary

    _write(tmp_path / "prune" / "manifest.json", {"stage": "prune", "counts": {"input": 40, "records": 20, "rejects": 20, "verified": 20},
                                                  "tokens": {"before": 80358, "after": 26271}})  # fmt: skip
    _write(tmp_path / "lab" / "lab_summary.json", _summary())
    _write(tmp_path / "eval-base" / "summary.json", _eval_summary(0.125, 0.75, 182.25))
    _write(tmp_path / "eval" / "summary.json", _eval_summary(0.25, 0.5, 150.0))
    print_demo_summary(tmp_path)
    out = capsys.readouterr().out
    assert "80,358 → 26,271 (−67.3%)" in out and "20 verified, 20 rejected" in out
    assert "lab: verbose" in out and "20.0% [5.7%, 51.0%]" in out and "lab: first-answer" in out and "50.0% [" in out
    assert "SmolLM2-135M (gsm8k)" in out and "12.5% (1/8), 6 cut off" in out
    assert "SmolLM2 + LoRA (gsm8k)" in out and "25.0% (2/8), 4 cut off" in out


def test_quick_demo_ends_with_the_summary_then_the_report(tmp_path, smollm2_dir):
    result = runner.invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1] == f"report: {tmp_path / 'pruning.md'}"
    assert "leancot demo: what it achieved" in result.output and "pruning (40 R1 traces)" in result.output
    assert "lab:" not in result.output  # --quick runs no lab
