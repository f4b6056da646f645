"""Progress bars for anything that takes more than a few seconds (rich, on stderr).

``LEANCOT_NO_PROGRESS=1`` turns them off (the lab's worker processes set it).
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr = Console(stderr=True)


def progress_bar(description: str = "", *, transient: bool = False, status: bool = False) -> Progress:
    """A rich Progress for a stage; use as a context manager and ``add_task``.

    ``status``: one more column, the task's ``status`` field (``add_task(..., status="loss 0.61")``)."""
    extra = (TextColumn("{task.fields[status]}"),) if status else ()
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra,
        console=stderr,
        transient=transient,
        disable=os.environ.get("LEANCOT_NO_PROGRESS", "") not in ("", "0"),
    )
