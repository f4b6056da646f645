"""``leancot run RECIPE``: recipes are validated whole before any work, sweeps expand, stages chain."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from leancot import pipeline
from leancot.cli import app
from leancot.errors import UsageError

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def write_recipe(tmp_path, stages, **top):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"out": str(tmp_path / "runs"), **top, "stages": stages}))
    return path


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_shipped_recipes_are_valid_and_say_how_to_run_them(recipe):
    header = [line for line in recipe.read_text().splitlines() if line.startswith("#")]
    assert any(f"leancot run recipes/{recipe.name}" in line for line in header)
    assert pipeline.plan(recipe).steps


def test_stages_chain_their_inputs_and_outputs(tmp_path):
    plan = pipeline.plan(
        write_recipe(
            tmp_path,
            {
                "prune": {"input": "bundled:r1-traces"},
                "train": {"student": "tiny:2x64", "max_steps": 2},
                "eval": {"benchmarks": ["gsm8k"], "limit": 2},
                "report": {},
            },
        )
    )
    runs = tmp_path / "runs"
    by_stage = {s.stage: s.config for s in plan.steps}
    assert by_stage["train"].input == [str(runs / "prune" / "records.jsonl")]
    assert Path(by_stage["eval"].model) == runs / "train" / "model"
    assert [Path(r) for r in by_stage["report"].runs] == [runs / "prune", runs / "train", runs / "eval"]


def test_a_list_setting_is_a_sweep_and_earlier_stages_are_shared(tmp_path):
    plan = pipeline.plan(
        write_recipe(
            tmp_path,
            {
                "prune": {"input": "bundled:r1-traces"},
                "train": {"student": "tiny:2x64", "lsp": [0.5, 1.0], "loss_on": ["cot", "answer"]},
            },
        )
    )
    assert [(s.stage, s.variant) for s in plan.steps] == [("prune", ""), ("train", "lsp0.5"), ("train", "lsp1.0")]
    assert [s.config.lsp for s in plan.steps[1:]] == [0.5, 1.0]
    assert plan.steps[1].config.loss_on == ["cot", "answer"]  # a list-typed field is not a sweep


@pytest.mark.parametrize(
    "stages, message",
    [
        ({"distil": {}}, "unknown stage 'distil'"),
        ({"train": {"input": "bundled:r1-traces", "learning_rate": 1e-3}}, "stages.train.learning_rate: unknown key"),
        ({"train": {"input": "bundled:r1-traces", "lssp": [0.5, 1.0]}}, "stages.train.lssp: unknown key"),
        ({"prune": {"input": "no/such/file.jsonl"}}, "input not found"),
        ({"train": {"input": "bundled:r1-traces", "lsp": 2.0}}, "stages.train.lsp"),
        ({"train": {"input": "{prunee}/records.jsonl"}}, "cannot resolve"),
        (
            {"prune": {"input": "bundled:r1-traces", "method": "llm", "teacher": {"model": "gpt-4o", "concurrancy": 8}}},
            "recipe.yaml: stages.prune.teacher.concurrancy: unknown key",
        ),
        ({"prune": {"input": "bundled:r1-traces", "method": "llm"}}, "needs a teacher model"),
        ({"prune": {"input": "bundled:r1-traces", "method": "rules"}}, "stages.prune.method: .*unknown method"),
    ],
)
def test_bad_recipes_fail_before_any_work_naming_the_key(tmp_path, stages, message):
    path = write_recipe(tmp_path, stages)
    with pytest.raises(UsageError, match=message) as err:
        pipeline.run_recipe(path)
    assert str(path) in str(err.value) or "not found" in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_a_later_stage_is_validated_even_when_its_input_does_not_exist_yet(tmp_path):
    path = write_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces"}, "train": {"lsp": 0}})
    with pytest.raises(UsageError, match="stages.train.lsp"):
        pipeline.plan(path)


def test_overrides_and_the_cli_exit_2_on_a_bad_key(tmp_path):
    path = write_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces"}})
    plan = pipeline.plan(path, ["prune.on_fail=keep"])
    assert plan.steps[0].config.on_fail == "keep"
    result = CliRunner().invoke(app, ["run", str(path), "--set", "prune.no_such=1"])
    assert result.exit_code == 2 and "stages.prune.no_such" in result.output
    assert CliRunner().invoke(app, ["run", str(tmp_path / "missing.yaml")]).exit_code == 2


def test_set_reaches_nested_keys_and_the_dry_run_prints_them(tmp_path):
    stages = {"prune": {"input": "bundled:r1-traces", "method": "llm", "teacher": {"model": "gpt-4o"}}}
    path = write_recipe(tmp_path, stages)
    plan = pipeline.plan(path, ["prune.teacher.model=gpt-4o-mini", "prune.teacher.concurrency=4"])
    teacher = plan.steps[0].config.teacher
    assert (teacher.model, teacher.concurrency) == ("gpt-4o-mini", 4)
    dry = CliRunner().invoke(app, ["run", str(path), "--dry-run", "--set", "prune.teacher.max_tokens=512"])
    assert dry.exit_code == 0, dry.output
    assert "teacher:" in dry.output and "max_tokens: 512" in dry.output and "model: gpt-4o" in dry.output
    bad = CliRunner().invoke(app, ["run", str(path), "--dry-run", "--set", "prune.teacher.modle=x"])
    assert bad.exit_code == 2 and "stages.prune.teacher.modle: unknown key" in bad.output


def test_run_skips_finished_stages_and_from_reruns_them(tmp_path):
    path = write_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces", "limit": 4}})
    out = pipeline.run_recipe(path)
    manifest = out / "prune" / "manifest.json"
    first = json.loads(manifest.read_text())["started_at"], manifest.stat().st_mtime_ns
    pipeline.run_recipe(path)
    assert manifest.stat().st_mtime_ns == first[1]  # skipped: the manifest was not rewritten
    pipeline.run_recipe(path, from_stage="prune")
    assert manifest.stat().st_mtime_ns != first[1]
    assert json.loads((out / "pipeline.json").read_text())["steps"][0]["stage"] == "prune"


def test_an_eval_model_that_does_not_exist_fails_before_work(tmp_path):
    path = write_recipe(
        tmp_path, {"prune": {"input": "bundled:r1-traces"}, "eval": {"model": str(tmp_path / "nope"), "benchmarks": ["gsm8k"]}}
    )
    with pytest.raises(UsageError, match="stages.eval.model"):
        pipeline.run_recipe(path)
    tiny_base = write_recipe(
        tmp_path,
        {"train": {"input": "bundled:r1-traces", "student": "tiny:2x64"}, "eval": {"benchmarks": ["gsm8k"], "compare_to_base": True}},
    )
    with pytest.raises(UsageError, match="compare_to_base"):
        pipeline.plan(tiny_base)
    assert not (tmp_path / "runs").exists()


def test_a_tiny_recipe_runs_end_to_end(tmp_path, tiny_model_dir):
    """prune -> train (two LSP variants) -> eval -> report, all for real on tiny things."""
    path = write_recipe(
        tmp_path,
        {
            "prune": {"input": "bundled:r1-traces", "limit": 4},
            "train": {"student": str(tiny_model_dir), "max_steps": 1, "max_length": 128, "lsp": [0.5, 1.0], "batch_size": 2, "lora": False},
            "eval": {"benchmarks": ["gsm8k"], "limit": 2, "max_new_tokens": 8, "batch_size": 2},
            "report": {},
        },
    )
    out = pipeline.run_recipe(path)
    for variant in ("lsp0.5", "lsp1.0"):
        assert (out / variant / "train" / "metrics.json").exists()
        summary = json.loads((out / variant / "eval" / "summary.json").read_text())
        assert summary  # one entry per benchmark
    html = (out / "report" / "report.html").read_text()
    assert "lsp0.5" in html and "lsp1.0" in html
