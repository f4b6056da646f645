"""``leancot eval`` and ``leancot compare``: parse flags, build the config, call the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from leancot.cli_utils import console, handle_errors


def register(app: typer.Typer) -> None:
    """Add the ``eval`` and ``compare`` subcommands to ``app``."""
    from leancot.evaluate.config import EvalConfig
    from leancot.evaluate.stage import run
    from leancot.flags import add_config_command

    add_config_command(
        app,
        "eval",
        EvalConfig,
        run=run,
        then=_eval_summary,
        decls={"out": ("--out", "-o")},
        help="Accuracy and tokens per answer of a model on math benchmarks.",
    )
    app.command("compare")(handle_errors(compare_command))


def _eval_summary(config: Any, out_dir: Path) -> None:
    from leancot.evaluate.stage import load_summary

    print_summary(load_summary(out_dir))
    console.print(f"records: [bold]{out_dir / 'records.jsonl'}[/bold]")


def print_summary(summary: dict[str, Any]) -> None:
    table = Table("benchmark", "problems", "accuracy", "pass@k", "mean tok", "median tok", "median tok right / wrong", "budget eff.",
                  "truncated", "tok/s", title=f"{summary['model']} ({summary['backend']})")  # fmt: skip
    for name, s in summary["benchmarks"].items():
        passk = ", ".join(f"{k} {v:.1%}" for k, v in s.items() if k.startswith("pass@"))
        table.add_row(name, str(s["problems"]), _pct(s["accuracy"]), passk or "-", _num(s["mean_tokens"]), _num(s["median_tokens"]),
                      _right_wrong(s), _eff(s.get("budget_efficiency")), _pct(s["truncation_rate"]), _num(s.get("tokens_per_s")))  # fmt: skip
    console.print(table)
    console.print("budget eff.: area under accuracy within a token budget vs log2(budget), 256 tokens to max_new_tokens, "
                  "normalised to [0, 1] (leancot compare and leancot report show the curves)", style="dim", highlight=False)  # fmt: skip


def print_budgets(result: dict[str, Any]) -> None:
    """Per benchmark of a ``compare`` result: each run's accuracy within each token budget and its efficiency."""
    from leancot.evaluate.budget import budget_label

    for bench, b in result["benchmarks"].items():
        budgets = sorted({int(x) for s in b["runs"].values() for x, _ in s.get("budget_curve") or []})
        if not budgets:
            continue
        table = Table("run", *(f"≤ {budget_label(x)}" for x in budgets), "efficiency", title=f"{bench}: accuracy within a token budget")
        for name, s in b["runs"].items():
            curve = {int(x): a for x, a in s.get("budget_curve") or []}
            table.add_row(name, *(_pct(curve.get(x)) for x in budgets), _eff(s.get("budget_efficiency")))
        console.print(table)


def compare_command(
    dirs: Annotated[list[Path], typer.Argument(help="Eval output directories; the first is the baseline.")],
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    iters: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10_000,
    show: Annotated[int, typer.Option(help="Flipped problem ids to list per pair.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write the runs' accuracy-within-a-token-budget curves to this PNG.")] = None,
) -> None:
    """Accuracy and tokens side by side, flipped problems, McNemar p, a bootstrap 95% CI and accuracy within token budgets."""
    from leancot.evaluate.compare import compare

    result = compare(dirs, seed=seed, iters=iters)
    if plot is not None:
        _save_budget_plot(result, plot)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    base = result["runs"][0]
    for bench, b in result["benchmarks"].items():
        table = Table("run", "problems", "accuracy", "mean tok", "tok right / wrong", "truncated", "Δacc vs A [95% CI]", "McNemar p", "flips +/−",
                      "Δtok", title=f"{bench} (A = {base})")  # fmt: skip
        for name, s in b["runs"].items():
            p = b["pairs"].get(name)
            pair_cells = ["-"] * 4 if p is None else [
                f"{p['accuracy_diff']:+.1%} [{p['ci95'][0]:+.1%}, {p['ci95'][1]:+.1%}] (n={p['common_problems']})",
                f"{p['mcnemar_p']:.3g}", f"+{len(p['gained'])} / −{len(p['lost'])}",
                f"{p['token_change']:+.1%}" if p["token_change"] is not None else "-",
            ]  # fmt: skip
            table.add_row(name, str(s["problems"]), _pct(s["accuracy"]), _num(s["mean_tokens"]), _right_wrong(s, "mean"),
                          _pct(s["truncation_rate"]), *pair_cells)  # fmt: skip
        console.print(table)
        for name, p in b["pairs"].items():
            for label, ids in (("right only in", p["gained"]), ("wrong only in", p["lost"])):
                if ids and show:
                    more = f" (+{len(ids) - show} more)" if len(ids) > show else ""
                    console.print(f"  {label} {name}: {', '.join(ids[:show])}{more}", highlight=False)
    print_budgets(result)
    if plot is not None:
        console.print(f"budget curves: [bold]{plot}[/bold]")


def _save_budget_plot(result: dict[str, Any], path: Path) -> None:
    from leancot.report.plots import budget_figure, curves_by_benchmark

    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for bench, b in result["benchmarks"].items():
        for name, s in b["runs"].items():
            runs.setdefault(name, {})[bench] = s
    fig = budget_figure(curves_by_benchmark(runs))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _right_wrong(s: dict[str, Any], stat: str = "median") -> str:
    """Tokens of the correct and of the wrong answers of a summary: ``"812 / 2,048"``."""
    right, wrong = s.get(f"{stat}_tokens_correct"), s.get(f"{stat}_tokens_wrong")
    return f"{'-' if right is None else f'{right:,.0f}'} / {'-' if wrong is None else f'{wrong:,.0f}'}"


def _eff(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"
