"""``leancot export``: flags made from ``ExportConfig``; prints one line saying what was written."""

from __future__ import annotations

import typer
from rich.markup import escape

from leancot.cli_utils import console


def register(app: typer.Typer) -> None:
    """Add the ``export`` subcommand to ``app``: one flag per ExportConfig field."""
    from leancot.export.config import ExportConfig
    from leancot.export.run import run
    from leancot.flags import add_config_command

    add_config_command(
        app,
        "export",
        ExportConfig,
        run=run,
        then=_show,
        arguments=("dir",),
        decls={"out": ("--out", "-o"), "only_verified": ("--only-verified/--all",)},
        help="Write a prune, generate or eval output in the formats other trainers read (TRL, LLaMA-Factory, axolotl, datasets).",
    )


def _show(config: object, result: object) -> None:
    from leancot.export.run import summary_line

    console.print(escape(summary_line(result)), highlight=False, soft_wrap=True)
