"""A micro lab, end to end through the real prune, train and eval stages, and its CLI."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from leancot.errors import UsageError
from leancot.lab.command import register
from leancot.lab.config import ARMS, LabConfig
from leancot.lab.stage import run

MICRO = {"train_problems": 24, "test_problems": 6, "layers": 1, "hidden": 32, "epochs": 1.0, "batch_size": 8}


@pytest.fixture(scope="module")
def micro_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    return out, run(LabConfig(out=out, seeds=[0], max_new_tokens=48, **MICRO))


def test_micro_lab_writes_every_file(micro_lab):
    out, summary_path = micro_lab
    for rel in (
        "problems/train.jsonl",
        "problems/test.jsonl",
        "teacher/traces.jsonl",
        "prune/records.jsonl",
        "prune/manifest.json",
        "data/verbose.jsonl",
        "data/pruned.jsonl",
        "lab_table.md",
        "manifest.json",
    ):
        assert (out / rel).is_file(), rel
    for arm in ARMS:
        assert (out / "seed0" / arm / "train" / "model" / "config.json").is_file()
        assert len((out / "seed0" / arm / "eval" / "records.jsonl").read_text().splitlines()) == MICRO["test_problems"]
    summary = json.loads(summary_path.read_text())
    assert set(summary["arms"]) == set(ARMS) and summary["seeds"] == [0]
    assert summary["data"]["trained_on"] + summary["data"]["prune_rejects"] == MICRO["train_problems"]
    # the pruned data is shorter and the lsp student trained on fewer tokens than the verbose one
    assert summary["data"]["pruned_reasoning_tokens"] < 0.4 * summary["data"]["teacher_reasoning_tokens"]
    assert summary["arms"]["lsp"]["train_tokens"] < summary["arms"]["verbose"]["train_tokens"]
    assert summary["arms"]["pruned"]["train_tokens"] < summary["arms"]["lsp"]["train_tokens"]
    assert set(summary["targets"]) and all(isinstance(t["met"], bool) for t in summary["targets"].values())
    # every trace carries its annotation; the pruned arm's paths are counted by it, the verbose arms have none
    traces = [json.loads(line) for line in (out / "teacher" / "traces.jsonl").read_text().splitlines()]
    assert all({"required", "retracted", "asides", "classes"} <= set(t["annotation"]) for t in traces)
    assert sum(summary["data"]["teacher_situations"].values()) == sum(len(t["annotation"]["classes"]) for t in traces)
    paths = summary["arms"]["pruned"]["complete_paths"]
    assert paths["paths"] == summary["data"]["trained_on"] and 0 <= paths["complete"] <= paths["paths"]
    assert summary["arms"]["verbose"]["complete_paths"] is None and summary["arms"]["lsp"]["complete_paths"] is None
    assert "| complete paths |" in (out / "lab_table.md").read_text()


def test_training_prompt_is_the_evaluators_prompt(micro_lab):
    from leancot.evaluate.prompts import build_prompt

    out, _ = micro_lab
    row = json.loads((out / "data" / "pruned.jsonl").read_text().splitlines()[0])
    trace = json.loads((out / "teacher" / "traces.jsonl").read_text().splitlines()[0])
    assert row["question"] == build_prompt(trace["question"], "lab")


def test_rerun_resumes_without_retraining(micro_lab):
    out, _ = micro_lab
    before = (out / "seed0" / "verbose" / "train" / "model" / "model.safetensors").stat().st_mtime_ns
    run(LabConfig(out=out, seeds=[0], max_new_tokens=48, **MICRO))
    assert (out / "seed0" / "verbose" / "train" / "model" / "model.safetensors").stat().st_mtime_ns == before


def test_the_lab_runs_under_the_stage_lifecycle(micro_lab):
    """The lab's own manifest is a stage's (fingerprint, counts: records + rejects = training problems),
    and every prune, train and eval run under it wrote its own."""
    from leancot import manifest

    out, _ = micro_lab
    lab = manifest.read(out)
    assert lab["stage"] == "lab" and lab["status"] == "complete" and lab["fingerprint"]
    counts = lab["counts"]
    assert counts["input"] == MICRO["train_problems"] == counts["records"] + counts["rejects"]
    for stage_dir, stage in (
        (out / "prune", "prune"),
        (out / "seed0" / "verbose" / "train", "train"),
        (out / "seed0" / "verbose" / "eval", "eval"),
    ):
        m = manifest.read(stage_dir)
        assert (m["stage"], m["status"]) == (stage, "complete") and m["fingerprint"]


def test_another_lab_over_the_same_out_is_refused_before_any_work(micro_lab):
    """Other problems over the same directory would mix two labs' stage runs: one line, exit 2."""
    out, _ = micro_lab
    with pytest.raises(UsageError, match="another config"):
        run(LabConfig(out=out, seeds=[0], max_new_tokens=48, **{**MICRO, "train_problems": 25}))


def test_cli_rejects_bad_seeds_with_exit_2(tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command, so typer keeps `lab` as a subcommand
    result = CliRunner().invoke(app, ["lab", "--out", str(tmp_path), "--seeds", "zero"])
    assert result.exit_code == 2
    assert "--seeds" in result.output
    result = CliRunner().invoke(app, ["lab", "--out", str(tmp_path), "--size", "huge"])
    assert result.exit_code == 2


def test_two_seeds_train_side_by_side_and_pool(tmp_path):
    summary = json.loads(run(LabConfig(out=tmp_path, seeds=[0, 1], workers=2, max_new_tokens=32, **MICRO)).read_text())
    assert summary["seeds"] == [0, 1]
    for arm in ARMS:
        assert set(summary["per_seed"]["0"]) == set(summary["per_seed"]["1"]) == set(ARMS)
        assert summary["arms"][arm]["problems"] == 2 * MICRO["test_problems"]  # pooled over both seeds
        assert len(summary["arms"][arm]["accuracy_by_seed"]) == 2
    # the two seeds are different students
    weights = [(tmp_path / f"seed{s}" / "pruned" / "train" / "model" / "model.safetensors").read_bytes() for s in (0, 1)]
    assert weights[0] != weights[1]


def test_a_pretrained_student_is_fine_tuned_with_lora_in_its_own_vocabulary(tmp_path, tiny_model_dir):
    from leancot.io import read_jsonl
    from leancot.tokens import count_tokens

    sizes = {"train_problems": 6, "test_problems": 3, "epochs": 1.0, "batch_size": 3, "max_length": 1024}
    config = LabConfig(
        out=tmp_path, student=str(tiny_model_dir), seeds=[0], workers=1, max_new_tokens=16, arms="verbose,heuristic", **sizes
    )
    summary = json.loads(run(config).read_text())
    assert summary["settings"]["student"] == str(tiny_model_dir)
    assert summary["settings"]["layers"] is None and summary["settings"]["lr"] == 1e-3  # the preset's, not a from-scratch shape
    assert not (tmp_path / "tokenizer").exists() and not (tmp_path / "students").exists()  # no BPE, no random student
    longest = max(count_tokens(t["completion"], str(tiny_model_dir)) for t in read_jsonl(tmp_path / "teacher" / "traces.jsonl"))
    assert summary["data"]["longest_trace_tokens"] == longest  # counted by the student's own tokenizer
    for arm in ("verbose", "heuristic"):
        train = json.loads((tmp_path / "seed0" / arm / "train" / "manifest.json").read_text())
        assert train["config"]["student"] == str(tiny_model_dir) and train["config"]["lora"] is True
        assert train["config"]["max_length"] == 1024
        assert (tmp_path / "seed0" / arm / "train" / "adapter").is_dir()  # LoRA, merged into model/ for the evaluator
        assert (tmp_path / "seed0" / arm / "train" / "model" / "config.json").is_file()
    assert summary["arms"]["heuristic"]["train_tokens"] < summary["arms"]["verbose"]["train_tokens"]


def test_an_unknown_student_is_one_line_and_exit_2(tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["lab", "--out", str(tmp_path), "--student", "no-such-model", "--size", "small"])
    assert result.exit_code == 2
    assert "no-such-model" in result.output and "Traceback" not in result.output
