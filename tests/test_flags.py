"""Every config field is a flag, with its default and help from the config, readable at 80 columns."""

from __future__ import annotations

import re

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from leancot.cli import app
from leancot.config import StageConfig
from leancot.evaluate.config import EvalConfig
from leancot.flags import Nested, add_config_command
from leancot.generate.config import GenerateConfig
from leancot.prune.config import PruneConfig
from leancot.prune.perplexity import PerplexityOptions
from leancot.prune.shortest import ShortestCorrectOptions
from leancot.prune.step_entropy import StepEntropyOptions
from leancot.prune.teacher.config import TeacherConfig
from leancot.train.config import TrainConfig

COMMANDS = {"prune": PruneConfig, "generate": GenerateConfig, "train": TrainConfig, "eval": EvalConfig}
NESTED = {
    "prune": {
        "teacher": (TeacherConfig, {"model": "teacher_model"}),
        "perplexity": (PerplexityOptions, {k: v.replace("-", "_") for k, v in PerplexityOptions.FLAG_NAMES.items()}),
        "step_entropy": (StepEntropyOptions, {k: v.replace("-", "_") for k, v in StepEntropyOptions.FLAG_NAMES.items()}),
        "shortest_correct": (ShortestCorrectOptions, {}),
    }
}


def params_of(command: str) -> dict[str, object]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_config_field_has_a_flag(command):
    params = params_of(command)
    for name in COMMANDS[command].model_fields:
        if name in NESTED.get(command, {}):
            model, rename = NESTED[command][name]
            assert {rename.get(n, n) for n in model.model_fields} <= set(params)
        else:
            assert name in params, f"{command}: no flag for {name}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_at_80_columns_shows_every_flag_whole(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    text = result.output
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "<bool>" not in text
    squashed = re.sub(r"\s+", "", text)
    for param in params_of(command).values():
        if param.help:
            assert re.sub(r"\s+", "", param.help) in squashed, f"{command}: help of {param.name} is cut"
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert opt in text


def test_defaults_come_from_the_config(tmp_path):
    params = params_of("train")
    assert params["lora_r"].default == TrainConfig.model_fields["lora_r"].default
    assert params["warmup"].default == TrainConfig.model_fields["warmup"].default
    assert params["loss_on"].default == "cot,answer"


class Inner(BaseModel):
    model: str = Field(description="Inner model.")
    depth: int = Field(2, description="Inner depth.")


class Toy(StageConfig):
    names: list[str] = Field(["a"], description="Names.")
    mode: str = Field("x", description="Mode.")
    inner: Inner | None = Field(None, description="Inner settings.")


def toy_app(seen: list[Toy]) -> typer.Typer:
    toy = typer.Typer()
    add_config_command(toy, "toy", Toy, run=seen.append, nested={"inner": Nested(prefix="inner-")})

    @toy.callback()
    def _root() -> None:
        pass

    return toy


def test_lists_nested_blocks_and_validation_errors():
    seen: list[Toy] = []
    ok = CliRunner().invoke(toy_app(seen), ["toy", "--out", "o", "--names", "p, q", "--inner-model", "m"])
    assert ok.exit_code == 0, ok.output
    assert seen[-1].names == ["p", "q"] and seen[-1].inner == Inner(model="m")
    CliRunner().invoke(toy_app(seen), ["toy", "--out", "o"])
    assert seen[-1].inner is None  # no flag of the block given: no block
    bad = CliRunner().invoke(toy_app(seen), ["toy", "--out", "o", "--inner-depth", "3"])
    assert bad.exit_code == 2 and "--inner-model: Field required" in bad.output
