"""Helpers shared by every CLI command module (kept apart from cli.py to avoid import cycles)."""

from __future__ import annotations

import functools

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from leancot.errors import UsageError

console = Console()
err = Console(stderr=True)


def usage_errors_exit_2(fn):
    """Turn a UsageError or an invalid config into 'error: ...' on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            err.print(f"[red]error:[/red] {escape(where)}: {escape(first['msg'])}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper
