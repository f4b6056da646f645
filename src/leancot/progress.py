"""Progress bars for anything that takes more than a few seconds (rich, on stderr).

``LEANCOT_NO_PROGRESS=1`` turns them off (the lab's worker processes set it).
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr = Console(stderr=True)


def progress_bar(description: str = "", *, transient: bool = False) -> Progress:
    """A rich Progress for a stage; use as a context manager and ``add_task``."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=transient,
        disable=os.environ.get("LEANCOT_NO_PROGRESS", "") not in ("", "0"),
    )
