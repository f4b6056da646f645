"""The stage table: every stage of leancot declared once.

A stage is a package with ``config.py`` (its config, a ``StageConfig``), ``stage.py`` (its ``run(config) ->
Path`` under ``manifest.stage_run``, and its declaration ``STAGE``) and ``command.py`` (``register(app)``,
its CLI subcommand). :data:`STAGES` names them, in the order a recipe runs them. The recipe runner
(``leancot.pipeline``), ``leancot merge``, the report, the leakage guard and the CLI read this table; none
keeps a list of its own.

| stage | config | reads from upstream | record key | shards | trains on / evaluates |
|---|---|---|---|---|---|
| generate | GenerateConfig | – | id | yes | trains on its problems |
| prune | PruneConfig | generate's records.jsonl -> input | id | yes | trains on its input |
| train | TrainConfig | prune's records.jsonl -> input | – (a model) | no | trains on its inputs (a mixture's every one) |
| eval | EvalConfig | train's model -> model | benchmark, problem_id, sample | yes | evaluates its benchmarks |
| report | ReportConfig | every step's output -> runs | – | no | – |
| lab | LabConfig | – (its own problems) | – | no | – |

How to add a stage: a package ``leancot/<name>/`` with those three modules, and one entry in
:data:`STAGES` (``"name": "leancot.<name>.stage:STAGE"``). Everything else reads the declaration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problems:
    """Questions a stage reads as problems: a bundled benchmark's split or a user's problem file."""

    source: str
    split: str = "test"
    limit: int | None = None
    fields: dict[str, str | None] = field(default_factory=dict)  # question_field, answer_field, id_field


@dataclass(frozen=True)
class InputFile:
    """A file of traces or training records a stage reads (its questions, in any format leancot reads)."""

    path: Path


@dataclass(frozen=True)
class Feed:
    """A config field a recipe fills from an earlier stage's output when the recipe does not set it:
    ``prune.input`` <- ``generate``'s ``records.jsonl``."""

    field: str
    stage: str
    path: str


@dataclass(frozen=True)
class Stage:
    """What a stage is, for everything that is not the stage itself."""

    name: str
    config: type[Any]
    run: Callable[[Any], Path]
    command: str  # "module:function" adding its subcommand to the CLI app
    feeds: tuple[Feed, ...] = ()
    collects: bool = False  # reads every earlier step's output (the report): runs once, last, over every sweep variant
    record_key: tuple[str, ...] = ()  # what identifies a record in records.jsonl (empty: the stage writes no records)
    shards: bool = False  # takes --shard i/N; ``leancot merge`` joins the shards
    in_recipes: bool = True  # a recipe may name it
    pipeline_keys: frozenset[str] = frozenset()  # settings the recipe runner reads, not the stage (eval's compare_to_base)
    trains_on: Callable[[Any], Problems | InputFile | list[InputFile] | None] | None = None  # for the leakage guard (every input)
    evaluates: Callable[[Any], list[Problems]] | None = None  # for the leakage guard
    after_merge: Callable[[Path, dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None  # more manifest fields after a merge


#: name -> where its declaration lives, in the order a recipe runs the stages.
STAGES: dict[str, str] = {
    "generate": "leancot.generate.stage:STAGE",
    "prune": "leancot.prune.stage:STAGE",
    "train": "leancot.train.stage:STAGE",
    "eval": "leancot.evaluate.stage:STAGE",
    "report": "leancot.report.stage:STAGE",
    "lab": "leancot.lab.stage:STAGE",
}


@cache
def get(name: str) -> Stage:
    """The declaration of stage ``name`` (its module is imported now, not before)."""
    module, attr = STAGES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def all_stages() -> list[Stage]:
    return [get(name) for name in STAGES]


def recipe_order() -> tuple[str, ...]:
    """The stages a recipe may name, in the order they run."""
    return tuple(name for name in STAGES if get(name).in_recipes)


def load(ref: str) -> Any:
    """``"module:name"`` -> the object."""
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)
