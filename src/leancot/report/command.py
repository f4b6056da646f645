"""``leancot report``: parse the arguments into a ReportConfig and call ``leancot.report.stage.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leancot.cli_utils import console, handle_errors


def register(app: typer.Typer) -> None:
    """Add the ``report`` subcommand to ``app``."""
    app.command("report")(report)


@handle_errors
def report(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories (prune/train/eval outputs), or parents holding them up to two levels down.")
    ],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output directory (default: the first run directory).")] = None,
    title: Annotated[str, typer.Option(help="Title of the report.")] = "leancot report",
    max_records: Annotated[int, typer.Option(help="Pruned records per prune run shown in the trace viewer.")] = 200,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer for per-skill token counts (default: the prune run's).")] = None,
) -> None:
    """Write a self-contained report.html (plots, tables, trace viewer) and report.md for run directories."""
    from leancot.report.config import ReportConfig
    from leancot.report.stage import run

    path = run(ReportConfig(runs=runs, out=out, title=title, max_records=max_records, tokenizer=tokenizer))
    console.print(f"report: {path} (and {path.with_name('report.md')})", highlight=False, soft_wrap=True)
