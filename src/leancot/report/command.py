"""``leancot report``: flags made from ``ReportConfig``; calls ``leancot.report.stage.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from leancot.cli_utils import console


def register(app: typer.Typer) -> None:
    """Add the ``report`` subcommand to ``app``: one flag per ReportConfig field."""
    from leancot.flags import add_config_command
    from leancot.report.config import ReportConfig
    from leancot.report.stage import run

    add_config_command(
        app,
        "report",
        ReportConfig,
        run=run,
        then=_show,
        arguments=("runs",),
        decls={"out": ("--out", "-o")},
        help="Write a self-contained report.html (plots, tables, trace viewer) and report.md for run directories.",
    )


def _show(config: Any, path: Path) -> None:
    console.print(f"report: {path} (and {path.with_name('report.md')})", highlight=False, soft_wrap=True)
