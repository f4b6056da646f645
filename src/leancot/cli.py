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


def _register_prune() -> None:
    """``leancot prune``: its flags are PruneConfig's fields, each pruner's options in its own panel (the registry's)."""
    from leancot.flags import Nested, add_config_command
    from leancot.prune.config import PruneConfig
    from leancot.prune.registry import PRUNERS
    from leancot.prune.stage import run

    nested = {
        e.field: Nested(panel=f"{name} pruner (--method {name})", rename=dict(getattr(e.options_model(), "FLAG_NAMES", {})))
        for name, e in PRUNERS.items()
        if e.field is not None
    }
    add_config_command(
        app,
        "prune",
        PruneConfig,
        run=run,
        then=lambda config, out: print_prune_stats(out, config.tokenizer),
        arguments=("input",),
        decls={"out": ("--out", "-o"), "require_correct": ("--require-correct/--allow-incorrect",)},
        nested=nested,
        help="Prune long reasoning traces into concise, verified paths (DRP).",
    )


@app.command()
@handle_errors
def stats(
    dir: Annotated[Path, typer.Argument(help="A prune output directory.")],
    tokenizer: Annotated[str, typer.Option(help="Tokenizer for the per-skill token counts.")] = "smollm2-135m",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    answer_position: Annotated[
        bool,
        typer.Option(
            "--answer-position", help="Where the traces first derive their answer (DIR: a prune output's originals, or a traces file)."
        ),
    ] = False,
) -> None:
    """Counts, token reduction and the skill × action table of a prune output."""
    if answer_position:
        print_answer_positions(dir, as_json)
    elif as_json:
        from leancot.prune.stats import load_stats

        typer.echo(json.dumps(load_stats(dir, tokenizer).as_dict(), indent=2))
    else:
        print_prune_stats(dir, tokenizer)


def print_answer_positions(source: Path, as_json: bool) -> None:
    from leancot.prune.stats import answer_positions

    s = answer_positions(source).summary()
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    if not s["derived"]:
        console.print(f"{source}: no step of its {s['traces']} traces derives the final answer")
        return
    console.print(
        f"[bold]{source}[/bold]: answer first derived in {s['derived']} of {s['traces']} traces, at median "
        f"{s['median']:.0%} of the reasoning (quartiles {s['q1']:.0%}-{s['q3']:.0%}, range {s['min']:.0%}-{s['max']:.0%}); "
        f"within the first half in {s['within_first_half']}",
        highlight=False,
    )
    table = Table("position", "traces", "", title="first derivation of the answer, share of the reasoning")
    for k, n in enumerate(s["histogram"]):
        table.add_row(f"{k * 10}-{k * 10 + 10}%", str(n), "█" * round(40 * n / max(s["histogram"])))
    console.print(table)


def print_prune_stats(out_dir: Path, tokenizer: str | None) -> None:
    from leancot.prune.stats import load_stats
    from leancot.schema import ACTIONS

    s = load_stats(out_dir, tokenizer)
    reduction = f"{s.reduction:.1%}" if s.reduction is not None else "n/a"
    console.print(
        f"[bold]{out_dir}[/bold]: {s.records + s.rejects} in = {s.records} records ({s.verified} verified) + {s.rejects} rejects; "
        f"tokens {s.tokens_before:,} → {s.tokens_after:,} ([green]{reduction} fewer[/green])"
    )
    checked = s.records - s.unchecked
    if checked:
        console.print(
            f"complete derivations: {s.complete} of {checked} records ({s.repaired} completed from the original)", highlight=False
        )
    if s.reject_reasons:
        console.print("rejects: " + ", ".join(f"{k} {v}" for k, v in sorted(s.reject_reasons.items())))
    if len(s.methods) > 1 or any(m != "heuristic" for m in s.methods):
        console.print("made by: " + ", ".join(f"{k} {v}" for k, v in sorted(s.methods.items())), highlight=False)
    table = Table("skill", "steps", *ACTIONS, "tokens left", title="tokens of each skill, by action")
    for skill, row in s.skills.items():
        table.add_row(skill, str(row["steps"]), *(f"{row[a]:,}" for a in ACTIONS), f"{row['after']:,}")
    console.print(table)


@app.command("run")
@handle_errors
def run_recipe(
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
    out = pipeline.run(recipe, set_, from_stage=from_stage, allow_overlap=allow)
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
    """Each stage package adds its own subcommands (generate, train, eval, compare, report)."""
    from leancot.evaluate.command import register as register_eval
    from leancot.export.command import register as register_export
    from leancot.generate.command import register as register_generate
    from leancot.lab.command import register as register_lab
    from leancot.report.command import register as register_report
    from leancot.train.command import register as register_train

    _register_prune()
    register_generate(app)
    register_train(app)
    register_eval(app)
    register_report(app)
    register_lab(app)
    register_export(app)


_register_stage_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
