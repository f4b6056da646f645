"""``leancot lab``: parse flags, build a LabConfig, run the lab, print its table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from leancot.cli_utils import console, handle_errors


def register(app: typer.Typer) -> None:
    """Add the ``lab`` subcommand to ``app``."""
    app.command("lab")(handle_errors(lab_command))


def lab_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (resumed if it exists).")] = Path("lab"),
    size: Annotated[str, typer.Option(help="small (a few minutes) | full (the paper targets, ~15 minutes on 2 cores).")] = "full",
    seeds: Annotated[str, typer.Option(help="Comma-separated student seeds, e.g. 0,1,2 (each seed trains three students).")] = "0,1",
    train_problems: Annotated[Optional[int], typer.Option(help="Training problems (default: the size preset).")] = None,
    test_problems: Annotated[Optional[int], typer.Option(help="Held-out problems (default: the size preset).")] = None,
    layers: Annotated[Optional[int], typer.Option(help="Student layers (default: the size preset).")] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Student width (default: the size preset).")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Training epochs, the same for every student.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per optimizer step.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate.")] = None,
    lsp: Annotated[float, typer.Option(help="Lead-span proportion of the lsp student.")] = 0.5,
    data_seed: Annotated[int, typer.Option(help="Seed of the problems and the teacher's phrasing.")] = 0,
    workers: Annotated[int, typer.Option(help="Seeds trained at once, each in its own process (1: one after another).")] = 2,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads per process (default 1: fastest on busy shared cores).")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Redo every stage instead of resuming --out.")] = False,
) -> None:
    """A miniature of DRP and lead-span truncation: three students trained from scratch on CPU."""
    from leancot.lab.run import LabConfig, run

    given = {"train_problems": train_problems, "test_problems": test_problems, "layers": layers, "hidden": hidden,
             "epochs": epochs, "batch_size": batch_size, "lr": lr}  # fmt: skip
    config = LabConfig(out=out, size=size, seeds=seeds, lsp=lsp, data_seed=data_seed, workers=workers, threads=threads, overwrite=overwrite,
                       **{k: v for k, v in given.items() if v is not None})  # fmt: skip
    summary_path = run(config)
    print_summary(json.loads(summary_path.read_text(encoding="utf-8")))
    console.print(f"summary: [bold]{summary_path}[/bold]")


def print_summary(summary: dict) -> None:
    """The students side by side, then the paper targets (met or not)."""
    seeds = ",".join(str(s) for s in summary["seeds"])
    table = Table("student", "accuracy [95% CI]", "by seed", "output tokens", "train s", "train tokens",
                  title=f"leancot lab ({summary['settings']['size']}, seeds {seeds}, {summary['wall_seconds']:.0f} s)")  # fmt: skip
    for arm, f in summary["arms"].items():
        lo, hi = f["accuracy_ci95"]
        by_seed = " ".join(f"{a:.0%}" for a in f["accuracy_by_seed"])
        table.add_row(arm, f"{f['accuracy']:.1%} [{lo:.1%}, {hi:.1%}]", by_seed, f"{f['mean_output_tokens']:.0f}",
                      f"{f['train_seconds']:.0f}", f"{f['train_tokens']:,.0f}")  # fmt: skip
    console.print(table)
    for name, t in summary["targets"].items():
        mark = "[green]met[/green]" if t["met"] else "[red]not met[/red]"
        console.print(f"  {name}: {t['figure']} (target {t['target']}) {mark}", highlight=False)
