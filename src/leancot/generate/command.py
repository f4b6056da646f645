"""``leancot generate``: flags made from ``GenerateConfig``; calls ``leancot.generate.stage.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from leancot.cli_utils import console


def register(app: typer.Typer) -> None:
    """Add the ``generate`` subcommand to ``app``."""
    from leancot.flags import add_config_command
    from leancot.generate.config import GenerateConfig
    from leancot.generate.stage import run

    add_config_command(
        app,
        "generate",
        GenerateConfig,
        run=run,
        then=_summary,
        arguments=("source",),
        decls={"out": ("--out", "-o"), "model": ("--model", "-m"), "n": ("--n", "-n")},
        help="Generate teacher reasoning traces and keep the correct ones (input of `leancot prune`).",
    )


def _summary(config: Any, out_dir: Path) -> None:
    from leancot.manifest import read

    m = read(out_dir) or {}
    counts = m.get("counts", {})
    console.print(
        f"[bold]{counts.get('records', 0)}[/bold] traces kept, {counts.get('rejects', 0)} rejected "
        f"({m.get('reject_reasons', {})}); {((m.get('usage') or {}).get('total') or {}).get('cost_usd', 0)} USD (all runs over this directory); status {m.get('status')} -> {out_dir}"
    )
