"""Helpers shared by every CLI command module (kept apart from cli.py to avoid import cycles)."""

from __future__ import annotations

import functools
import os
import sys

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from leancot.config import validation_message
from leancot.errors import Interrupted, StageFailed, StageIncomplete, UsageError

console = Console()
err = Console(stderr=True)


def handle_errors(fn):
    """Turn the errors that end a run into one line on stderr and their exit code (see leancot.errors)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UsageError, StageFailed, StageIncomplete, Interrupted) as e:
            _say(str(e), "interrupted" if isinstance(e, Interrupted) else "error")
            raise typer.Exit(e.exit_code) from None
        except ValidationError as e:
            _say(validation_message(e), "error")
            raise typer.Exit(2) from None

    return wrapper


def _say(message: str, label: str) -> None:
    colour = "yellow" if label == "interrupted" else "red"
    err.print(f"[{colour}]{label}:[/{colour}] {escape(message)}", highlight=False, soft_wrap=True)


def quiet_libraries(verbose: bool) -> None:
    """Without ``-v``: no progress bars from transformers, huggingface_hub and datasets ("Loading weights",
    "Writing model shards", "Saving the dataset"); leancot's own bars stay. Set through the environment,
    so worker processes (the lab's) inherit it; a variable the user set wins."""
    if verbose:
        return
    for var in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
    # The libraries read those variables once, at import; these calls cover one already imported.
    if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
        if "huggingface_hub" in sys.modules:
            sys.modules["huggingface_hub"].utils.disable_progress_bars()
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    if os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1" and "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
