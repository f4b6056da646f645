"""``leancot lab``: flags made from ``LabConfig``; runs the lab and prints its table."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Column, Table

from leancot.cli_utils import console


def register(app: typer.Typer) -> None:
    """Add the ``lab`` subcommand to ``app``: one flag per LabConfig field."""
    from leancot.flags import add_config_command
    from leancot.lab.config import LabConfig
    from leancot.lab.stage import run

    add_config_command(
        app,
        "lab",
        LabConfig,
        run=run,
        then=_show,
        decls={"out": ("--out", "-o")},
        help="A miniature of DRP and lead-span truncation on CPU: students trained from scratch, or a pretrained one (--student) fine-tuned with LoRA.",
    )


def _show(config: object, summary_path: Path) -> None:
    print_summary(json.loads(summary_path.read_text(encoding="utf-8")))
    console.print(f"summary: [bold]{summary_path}[/bold]")


def print_summary(summary: dict) -> None:
    """The students side by side (with each one's paired difference from verbose), then the paper targets."""
    console.print(arms_table(summary))
    for name, t in summary["targets"].items():
        mark = "[green]met[/green]" if t["met"] else "[red]not met[/red]"
        console.print(f"  {name}: {t['figure']} (target {t['target']}) {mark}", highlight=False)
    for spec, why in summary.get("skipped_arms", {}).items():
        console.print(f"  arm {spec} skipped: {why}", highlight=False, markup=False)
    if summary.get("plot"):
        console.print(f"plot: {summary['plot']}", highlight=False, markup=False)


def arms_table(summary: dict) -> Table:
    """The lab's table, rendered from ``lab_summary.json`` as it was written: one row per student."""
    from leancot.lab.stats import complete_cell, paired_cells

    base = summary.get("baseline", "verbose")
    table = Table(Column("student", no_wrap=True), "accuracy [95% CI]", "by seed", "complete paths", "output tokens", "train s", "train tokens", f"accuracy − {base} [paired 95%]",
                  f"tokens ÷ {base} [95%]", title=f"leancot lab ({lab_setting(summary)}, {summary['wall_seconds']:.0f} s)")  # fmt: skip
    for arm, f in summary["arms"].items():
        by_seed = " ".join(f"{a:.0%}" for a in f["accuracy_by_seed"])
        table.add_row(arm, accuracy_cell(f), by_seed, complete_cell(f.get("complete_paths")), f"{f['mean_output_tokens']:.0f}", f"{f['train_seconds']:.0f}",
                      f"{f['train_tokens']:,.0f}", *paired_cells(summary.get("vs_baseline", {}).get(arm)))  # fmt: skip
    return table


def accuracy_cell(arm: dict) -> str:
    """``56.0% [51.1%, 60.8%]``: an arm's pooled accuracy and its 95% interval."""
    lo, hi = arm["accuracy_ci95"]
    return f"{arm['accuracy']:.1%} [{lo:.1%}, {hi:.1%}]"


def lab_setting(summary: dict) -> str:
    """``from scratch, 2x128, small, seeds 0,1``: which students, which size, which seeds."""
    seeds = ",".join(str(s) for s in summary["seeds"])
    return f"{_student(summary['settings'])}, {summary['settings']['size']}, seeds {seeds}"


def _student(settings: dict) -> str:
    student = settings.get("student")
    if student:
        return f"{student} + LoRA"
    shape = f", {settings['layers']}x{settings['hidden']}" if settings.get("layers") and settings.get("hidden") else ""
    return "from scratch" + shape
