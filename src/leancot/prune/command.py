"""``leancot prune`` (flags made from ``PruneConfig``) and ``leancot stats`` (what a prune output holds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leancot.cli_utils import console, handle_errors


def register(app: typer.Typer) -> None:
    """``leancot prune``: its flags are PruneConfig's fields, each pruner's options in its own panel (the registry's);
    and ``leancot stats``."""
    from leancot.flags import Nested, add_config_command
    from leancot.prune.config import PruneConfig
    from leancot.prune.registry import PRUNERS
    from leancot.prune.stage import run

    nested = {
        e.field: Nested(
            panel=f"{name} pruner (--method {name})", rename=dict(getattr(e.options_model(), "FLAG_NAMES", {})), when=("method", name)
        )
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
    app.command("stats")(stats)


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
