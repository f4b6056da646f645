"""The stage table (``leancot.stages``): every stage declared once, in a package of its own."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from leancot import stages


@pytest.mark.parametrize("name", list(stages.STAGES))
def test_every_stage_is_a_package_with_config_stage_and_command(name):
    stage = stages.get(name)
    package = Path(importlib.import_module(stages.STAGES[name].split(":")[0]).__file__).parent
    assert {"config.py", "stage.py", "command.py"} <= {p.name for p in package.iterdir()}
    assert stage.name == name and stage.run.__name__ == "run" and stage.run.__module__.endswith(".stage")
    assert "out" in stage.config.model_fields
    assert callable(stages.load(stage.command))


def test_every_feed_names_an_earlier_stage_and_a_field_of_the_config():
    order = list(stages.STAGES)
    for stage in stages.all_stages():
        for feed in stage.feeds:
            assert order.index(feed.stage) < order.index(stage.name)
            assert feed.field in stage.config.model_fields


def test_the_lab_is_a_stage_but_not_a_recipe_step():
    assert "lab" in stages.STAGES and "lab" not in stages.recipe_order()
    assert stages.recipe_order() == ("generate", "prune", "train", "eval", "report")


def test_the_cli_has_one_subcommand_per_stage():
    from leancot.cli import app

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert set(stages.STAGES) <= names
