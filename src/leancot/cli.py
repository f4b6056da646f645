"""The ``leancot`` command: a thin layer that parses arguments and calls the library.

Each subcommand builds a stage config and calls the stage's ``run``. A
``UsageError`` (missing file, unknown name, bad value) becomes a one-line message
on stderr and exit code 2; typer itself exits 2 on an unknown flag.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leancot.cli_utils import console, handle_errors, quiet_libraries

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="leancot: make reasoning models think shorter.")
models_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Built-in and local models.")
app.add_typer(models_app, name="models")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages and show the libraries' progress bars.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries(verbose)


@app.command("run")
@handle_errors
def recipe_command(
    recipe: Annotated[Path, typer.Argument(help="A YAML recipe (see recipes/).")],
    from_stage: Annotated[str | None, typer.Option("--from", help="Re-run from this stage on, even if up to date.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a setting: stage.key=value (repeatable).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate the recipe, print every step with its resolved settings; run nothing.")
    ] = False,
    allow_overlap: Annotated[
        bool, typer.Option("--allow-overlap", help="Run even if training questions overlap evaluated ones (recorded in pipeline.json).")
    ] = False,
) -> None:
    """Run a recipe: its stages in order, sweeps expanded, finished stages skipped."""
    from leancot import pipeline

    allow = True if allow_overlap else None  # None: the recipe's allow_overlap
    if dry_run:
        import yaml

        plan = pipeline.plan(recipe, set_, from_stage=from_stage, allow_overlap=allow)
        for name, where in plan.missing_inputs.items():
            console.print(
                f"[yellow]input {name}: {where} does not exist yet[/yellow] (provide it before running: --set inputs.{name}=PATH)",
                soft_wrap=True,
                highlight=False,
            )
        if plan.leakage.problems:
            console.print(f"[yellow]leakage allowed:[/yellow] {'; '.join(plan.leakage.problems)}", soft_wrap=True, highlight=False)
        for step in plan.steps:
            console.print(f"[bold]{step.label:<24}[/bold] {step.variant or '':<16} → {step.out}", soft_wrap=True, highlight=False)
            settings = yaml.safe_dump(step.config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
            console.print("\n".join("    " + line for line in settings.splitlines()), soft_wrap=True, highlight=False, markup=False)
        return
    out = pipeline.run_recipe(recipe, set_, from_stage=from_stage, allow_overlap=allow)
    console.print(f"done: [bold]{out}[/bold]")


@app.command()
@handle_errors
def merge(
    dirs: Annotated[list[Path], typer.Argument(help="The shard directories of one run (prune, generate or eval with --shard i/N).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the merged stage output goes.")],
) -> None:
    """Join the shards of one stage run into one stage output (every shard once, none overlapping)."""
    from leancot.merge import merge as merge_shards

    done = merge_shards(dirs, out)
    m = json.loads((done / "manifest.json").read_text(encoding="utf-8"))
    console.print(f"[bold]{done}[/bold]: {len(dirs)} shards, {m['counts']['records']} records + {m['counts']['rejects']} rejects")


@models_app.command("fetch")
@handle_errors
def models_fetch(
    name: Annotated[str, typer.Argument(help="Built-in model name, e.g. smollm2-135m.")] = "smollm2-135m",
    force: Annotated[bool, typer.Option(help="Download and convert again.")] = False,
) -> None:
    """Download a built-in model once and save it as a normal checkpoint."""
    from leancot.models import fetch

    console.print(str(fetch(name, force=force)))


@app.command()
@handle_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the demo writes its runs.")] = Path("runs/demo"),
    quick: Annotated[bool, typer.Option("--quick", help="Only prune the real traces (under a minute).")] = False,
) -> None:
    """Prune the bundled real traces, run the small lab, fine-tune and evaluate SmolLM2-135M, write the report."""
    from leancot.demo import run_demo

    report = run_demo(out, quick=quick)
    print_demo_summary(out)
    console.print(f"report: [bold]{report}[/bold]", highlight=False, soft_wrap=True)


def print_demo_summary(out: Path) -> None:
    """The demo's last screen: pruning, the lab's students, SmolLM2 before and after fine-tuning."""
    from rich.table import Column

    from leancot.demo import EVALS, achieved
    from leancot.lab.command import accuracy_cell, lab_setting

    found = achieved(out)
    table = Table(Column("run", no_wrap=True), Column("records / accuracy", no_wrap=True), "tokens", title="leancot demo: what it achieved",
                  title_justify="left")  # fmt: skip
    notes = []
    if "prune" in found:
        c, t = found["prune"]["counts"], found["prune"]["tokens"]
        cut = f" (−{1 - t['after'] / t['before']:.1%})" if t.get("before") else ""
        table.add_row(f"pruning ({c['input']} R1 traces)", f"{c.get('verified', c['records'])} verified, {c['rejects']} rejected",
                      f"{t['before']:,} → {t['after']:,}{cut}")  # fmt: skip
        notes.append("pruning: reasoning tokens before → after")
    if "lab" in found:
        lab = found["lab"]
        table.add_section()
        for arm, f in lab["arms"].items():
            table.add_row(f"lab: {arm}", accuracy_cell(f), f"{f['mean_output_tokens']:.0f}")
        notes.append(f"lab: {lab_setting(lab)}; accuracy [95% CI] of {f['problems']} answers, mean output tokens")
    evals = [(name, found[name]) for name in EVALS if name in found]
    if evals:
        table.add_section()
        notes.append("SmolLM2-135M before and after LoRA on the pruned paths: accuracy, answers cut off, mean output tokens")
    for name, summary in evals:
        for bench, b in summary["benchmarks"].items():
            correct, cut_off = round(b["accuracy"] * b["records"]), round(b["truncation_rate"] * b["records"])
            table.add_row(
                f"{EVALS[name]} ({bench})",
                f"{b['accuracy']:.1%} ({correct}/{b['records']}), {cut_off} cut off",
                f"{b['mean_tokens']:.0f}",
            )
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    console.print(table)


def _register_stage_commands() -> None:
    """Each stage adds its own subcommand (the stage table, ``leancot.stages``); export and compare come with theirs."""
    from leancot import stages
    from leancot.export.command import register as register_export

    for stage in stages.all_stages():
        stages.load(stage.command)(app)
    register_export(app)


_register_stage_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
