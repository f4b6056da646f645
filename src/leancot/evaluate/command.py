"""``leancot eval`` and ``leancot compare``: parse flags, build the config, call the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from leancot.cli_utils import console, usage_errors_exit_2


def register(app: typer.Typer) -> None:
    """Add the ``eval`` and ``compare`` subcommands to ``app``."""
    app.command("eval")(usage_errors_exit_2(eval_command))
    app.command("compare")(usage_errors_exit_2(compare_command))


def eval_command(
    model: Annotated[str, typer.Option(help="Built-in name (smollm2-135m), a local checkpoint dir, or the served model (--backend openai).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (resumed if it exists).")],
    benchmarks: Annotated[str, typer.Option(help="Comma-separated: gsm8k, math500, aime24, aime25, amc23, or problem files.")] = "gsm8k",
    split: Annotated[str, typer.Option(help="Benchmark split.")] = "test",
    limit: Annotated[Optional[int], typer.Option(help="Only the first N problems of each benchmark.")] = None,
    backend: Annotated[Optional[str], typer.Option(help="hf | vllm | openai (default: vllm on a GPU when installed, else hf).")] = None,
    batch_size: Annotated[int, typer.Option(help="hf: prompts per batch.")] = 16,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per output; a cut-off output is graded wrong.")] = 2048,
    n: Annotated[int, typer.Option("--n", help="Samples per problem (pass@k, mean@k; needs --temperature > 0).")] = 1,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the per-sample seeds.")] = 0,
    base_url: Annotated[Optional[str], typer.Option(help="openai: an OpenAI-compatible endpoint URL.")] = None,
    api_key_env: Annotated[str, typer.Option(help="openai: env var holding the API key.")] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option(help="openai: requests in flight.")] = 16,
    max_retries: Annotated[int, typer.Option(help="openai: retries per request.")] = 4,
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm: GPUs per replica.")] = 1,
    data_parallel_size: Annotated[int, typer.Option(help="vllm: replicas.")] = 1,
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="hf on CPU: torch threads.")] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer that counts tokens (default: the model's).")] = None,
    system_prompt: Annotated[Optional[str], typer.Option(help="A system message (R1 advises none).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start over instead of resuming --out.")] = False,
) -> None:
    """Accuracy and tokens per answer of a model on math benchmarks."""
    from leancot.evaluate.run import EvalConfig, load_summary, run

    config = EvalConfig(
        model=model, benchmarks=benchmarks, out=out, split=split, limit=limit, backend=backend, batch_size=batch_size,
        max_new_tokens=max_new_tokens, n=n, temperature=temperature, top_p=top_p, seed=seed, base_url=base_url,
        api_key_env=api_key_env, concurrency=concurrency, max_retries=max_retries, tensor_parallel_size=tensor_parallel_size,
        data_parallel_size=data_parallel_size, dtype=dtype, threads=threads, tokenizer=tokenizer, system_prompt=system_prompt,
        overwrite=overwrite,
    )  # fmt: skip
    out_dir = run(config)
    print_summary(load_summary(out_dir))
    console.print(f"records: [bold]{out_dir / 'records.jsonl'}[/bold]")


def print_summary(summary: dict[str, Any]) -> None:
    table = Table("benchmark", "problems", "accuracy", "pass@k", "mean tok", "median tok", "tok (correct)", "truncated", "tok/s",
                  title=f"{summary['model']} ({summary['backend']})")  # fmt: skip
    for name, s in summary["benchmarks"].items():
        passk = ", ".join(f"{k} {v:.1%}" for k, v in s.items() if k.startswith("pass@"))
        table.add_row(name, str(s["problems"]), _pct(s["accuracy"]), passk or "-", _num(s["mean_tokens"]), _num(s["median_tokens"]),
                      _num(s["mean_tokens_correct"]), _pct(s["truncation_rate"]), _num(s.get("tokens_per_s")))  # fmt: skip
    console.print(table)


def compare_command(
    dirs: Annotated[list[Path], typer.Argument(help="Eval output directories; the first is the baseline.")],
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    iters: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10_000,
    show: Annotated[int, typer.Option(help="Flipped problem ids to list per pair.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Accuracy and tokens side by side, flipped problems, McNemar p and a bootstrap 95% CI."""
    from leancot.evaluate.compare import compare

    result = compare(dirs, seed=seed, iters=iters)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    base = result["runs"][0]
    for bench, b in result["benchmarks"].items():
        table = Table("run", "problems", "accuracy", "mean tok", "tok (correct)", "truncated", "Δacc vs A [95% CI]", "McNemar p", "flips +/−", "Δtok",
                      title=f"{bench} (A = {base})")  # fmt: skip
        for name, s in b["runs"].items():
            p = b["pairs"].get(name)
            pair_cells = ["-"] * 4 if p is None else [
                f"{p['accuracy_diff']:+.1%} [{p['ci95'][0]:+.1%}, {p['ci95'][1]:+.1%}] (n={p['common_problems']})",
                f"{p['mcnemar_p']:.3g}", f"+{len(p['gained'])} / −{len(p['lost'])}",
                f"{p['token_change']:+.1%}" if p["token_change"] is not None else "-",
            ]  # fmt: skip
            table.add_row(name, str(s["problems"]), _pct(s["accuracy"]), _num(s["mean_tokens"]), _num(s["mean_tokens_correct"]),
                          _pct(s["truncation_rate"]), *pair_cells)  # fmt: skip
        console.print(table)
        for name, p in b["pairs"].items():
            for label, ids in (("right only in", p["gained"]), ("wrong only in", p["lost"])):
                if ids and show:
                    more = f" (+{len(ids) - show} more)" if len(ids) > show else ""
                    console.print(f"  {label} {name}: {', '.join(ids[:show])}{more}", highlight=False)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"
