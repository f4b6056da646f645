"""The ``leancot`` command: a thin layer that parses arguments and calls the library.

Each subcommand builds a stage config and calls the stage's ``run``. A
``UsageError`` (missing file, unknown name, bad value) becomes a one-line message
on stderr and exit code 2; typer itself exits 2 on an unknown flag.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from leancot.cli_utils import console, usage_errors_exit_2

app = typer.Typer(add_completion=False, no_args_is_help=True, help="leancot: make reasoning models think shorter.")
models_app = typer.Typer(no_args_is_help=True, help="Built-in and local models.")
app.add_typer(models_app, name="models")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@app.command()
@usage_errors_exit_2
def prune(
    input: Annotated[Path, typer.Argument(help="Traces: JSONL, JSON, CSV, Parquet or a saved datasets dir.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    method: Annotated[str, typer.Option(help="heuristic (offline, the default) or llm (a teacher model).")] = "heuristic",
    tokenizer: Annotated[str, typer.Option(help="Tokenizer for token counts.")] = "smollm2-135m",
    on_fail: Annotated[str, typer.Option("--on-fail", help="reject | keep (pass a failed trace through unpruned).")] = "reject",
    allow_incorrect: Annotated[bool, typer.Option("--allow-incorrect", help="Also prune traces whose answer is not the gold.")] = False,
    id_field: Annotated[Optional[str], typer.Option(help="Input column with the id.")] = None,
    question_field: Annotated[Optional[str], typer.Option(help="Input column with the question.")] = None,
    completion_field: Annotated[Optional[str], typer.Option(help="Input column with the model text.")] = None,
    answer_field: Annotated[Optional[str], typer.Option(help="Input column with the gold answer.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N rows.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start over instead of resuming DIR.")] = False,
    teacher_model: Annotated[Optional[str], typer.Option(help="[llm] Teacher model name, e.g. gpt-4o.", rich_help_panel="Teacher")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="[llm] OpenAI-compatible endpoint.", rich_help_panel="Teacher")] = None,
    api_key_env: Annotated[str, typer.Option(help="[llm] Env variable holding the key.", rich_help_panel="Teacher")] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option(help="[llm] Requests in flight.", rich_help_panel="Teacher")] = 16,
    timeout: Annotated[float, typer.Option(help="[llm] Seconds per request.", rich_help_panel="Teacher")] = 120.0,
    max_retries: Annotated[int, typer.Option(help="[llm] Retries per request.", rich_help_panel="Teacher")] = 6,
    max_cost: Annotated[Optional[float], typer.Option(help="[llm] Stop (resumably) after spending this many USD.", rich_help_panel="Teacher")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="[llm] Use the OpenAI Batch API.", rich_help_panel="Teacher")] = False,
    prices: Annotated[Optional[Path], typer.Option(help="[llm] JSON price table to add.", rich_help_panel="Teacher")] = None,
    structured: Annotated[bool, typer.Option(help="[llm] Ask for JSON-schema output.", rich_help_panel="Teacher")] = True,
) -> None:
    """Prune long reasoning traces into concise, verified paths (DRP)."""
    from leancot.prune.stage import PruneConfig, run

    teacher = None
    if method == "llm":
        teacher = {
            "model": teacher_model, "base_url": base_url, "api_key_env": api_key_env, "concurrency": concurrency,
            "timeout": timeout, "max_retries": max_retries, "max_cost": max_cost, "batch": batch, "prices": prices,
            "structured": structured,
        }
    config = PruneConfig(
        input=input, out=out, method=method, tokenizer=tokenizer, on_fail=on_fail, require_correct=not allow_incorrect,
        id_field=id_field, question_field=question_field, completion_field=completion_field, answer_field=answer_field,
        limit=limit, overwrite=overwrite, teacher=teacher,
    )
    out_dir = run(config)
    print_prune_stats(out_dir, tokenizer)


@app.command()
@usage_errors_exit_2
def stats(
    dir: Annotated[Path, typer.Argument(help="A prune output directory.")],
    tokenizer: Annotated[str, typer.Option(help="Tokenizer for the per-skill token counts.")] = "smollm2-135m",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts, token reduction and the skill × action table of a prune output."""
    if as_json:
        from leancot.prune.stats import load_stats

        typer.echo(json.dumps(load_stats(dir, tokenizer).as_dict(), indent=2))
    else:
        print_prune_stats(dir, tokenizer)


def print_prune_stats(out_dir: Path, tokenizer: str | None) -> None:
    from leancot.prune.stats import load_stats
    from leancot.schema import ACTIONS

    s = load_stats(out_dir, tokenizer)
    reduction = f"{s.reduction:.1%}" if s.reduction is not None else "n/a"
    console.print(
        f"[bold]{out_dir}[/bold]: {s.records + s.rejects} in = {s.records} records ({s.verified} verified) + {s.rejects} rejects; "
        f"tokens {s.tokens_before:,} → {s.tokens_after:,} ([green]{reduction} fewer[/green])"
    )
    if s.reject_reasons:
        console.print("rejects: " + ", ".join(f"{k} {v}" for k, v in sorted(s.reject_reasons.items())))
    table = Table("skill", "steps", *ACTIONS, "tokens left", title="tokens of each skill, by action")
    for skill, row in s.skills.items():
        table.add_row(skill, str(row["steps"]), *(f"{row[a]:,}" for a in ACTIONS), f"{row['after']:,}")
    console.print(table)


@app.command("run")
@usage_errors_exit_2
def run_recipe(
    recipe: Annotated[Path, typer.Argument(help="A YAML recipe (see recipes/).")],
    from_stage: Annotated[Optional[str], typer.Option("--from", help="Re-run from this stage on, even if up to date.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting: stage.key=value (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the recipe and print the steps; run nothing.")] = False,
) -> None:
    """Run a recipe: its stages in order, sweeps expanded, finished stages skipped."""
    from leancot import pipeline

    if dry_run:
        plan = pipeline.plan(recipe, set_, from_stage=from_stage)
        for step in plan.steps:
            console.print(f"{step.label:<24} {step.variant or '':<16} → {step.out}", soft_wrap=True)
        return
    out = pipeline.run(recipe, set_, from_stage=from_stage)
    console.print(f"done: [bold]{out}[/bold]")


@models_app.command("fetch")
@usage_errors_exit_2
def models_fetch(
    name: Annotated[str, typer.Argument(help="Built-in model name, e.g. smollm2-135m.")] = "smollm2-135m",
    force: Annotated[bool, typer.Option(help="Download and convert again.")] = False,
) -> None:
    """Download a built-in model once and save it as a normal checkpoint."""
    from leancot.models import fetch

    console.print(str(fetch(name, force=force)))


@app.command()
@usage_errors_exit_2
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the demo writes its runs.")] = Path("runs/demo"),
    quick: Annotated[bool, typer.Option("--quick", help="Only prune the real traces (under a minute).")] = False,
) -> None:
    """Prune the bundled real traces, run the small lab, fine-tune and evaluate SmolLM2-135M, write the report."""
    from leancot.demo import run_demo

    report = run_demo(out, quick=quick)
    print_prune_stats(out / "prune", None)
    console.print(f"report: [bold]{report}[/bold]")


def _register_stage_commands() -> None:
    """Each stage package adds its own subcommands (generate, train, eval, compare, report)."""
    from leancot.evaluate.command import register as register_eval
    from leancot.lab.command import register as register_lab
    from leancot.report.command import register as register_report
    from leancot.teacher.command import register as register_teacher
    from leancot.train.command import register as register_train

    register_teacher(app)
    register_train(app)
    register_eval(app)
    register_report(app)
    register_lab(app)


_register_stage_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
