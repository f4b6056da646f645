"""``leancot generate``: the CLI layer over ``leancot.teacher.generate.run``.

``leancot prune --method llm`` is wired by the prune command itself (it builds a
``TeacherConfig`` and ``leancot.prune.stage.run`` dispatches to
``leancot.teacher.llm_prune.run_llm_prune``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leancot.cli_utils import console, usage_errors_exit_2


def register(app: typer.Typer) -> None:
    """Add the ``generate`` subcommand to ``app``."""

    @app.command()
    @usage_errors_exit_2
    def generate(
        source: Annotated[str, typer.Argument(help="Benchmark (gsm8k, math500, aime24, aime25, amc23) or a problem file.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
        model: Annotated[str, typer.Option("--model", "-m", help="Teacher reasoning model, as the server names it.")],
        base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint (e.g. http://localhost:8000/v1).")] = None,
        split: Annotated[str, typer.Option(help="Benchmark split.")] = "test",
        limit: Annotated[Optional[int], typer.Option(help="Only the first N problems.")] = None,
        n: Annotated[int, typer.Option("--n", "-n", help="Samples per problem.")] = 1,
        temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.6,
        top_p: Annotated[float, typer.Option(help="Nucleus sampling.")] = 0.95,
        max_tokens: Annotated[Optional[int], typer.Option(help="Completion token limit.")] = None,
        keep_incorrect: Annotated[bool, typer.Option("--keep-incorrect", help="Keep incorrect samples as records too.")] = False,
        api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
        concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 16,
        timeout: Annotated[float, typer.Option(help="Seconds per request before a retry.")] = 600.0,
        max_retries: Annotated[int, typer.Option(help="Retries per request on transient errors.")] = 6,
        max_cost: Annotated[Optional[float], typer.Option(help="Stop (resumably) after this many USD.")] = None,
        prices: Annotated[Optional[Path], typer.Option(help='JSON prices: {"model": {"input": X, "output": Y}} USD per 1M tokens.')] = None,
        overwrite: Annotated[bool, typer.Option(help="Start over instead of resuming DIR.")] = False,
    ) -> None:
        """Generate teacher reasoning traces and keep the correct ones (input of `leancot prune`)."""
        from leancot.teacher.generate import GenerateConfig, run

        config = GenerateConfig(
            source=source, out=out, model=model, base_url=base_url, split=split, limit=limit, n=n,
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, keep_incorrect=keep_incorrect,
            api_key_env=api_key_env, concurrency=concurrency, timeout=timeout, max_retries=max_retries,
            max_cost=max_cost, prices=prices, overwrite=overwrite,
        )
        out_dir = run(config)
        from leancot.manifest import read

        m = read(out_dir) or {}
        counts = m.get("counts", {})
        console.print(f"[bold]{counts.get('records', 0)}[/bold] traces kept, {counts.get('rejects', 0)} rejected "
                      f"({m.get('reject_reasons', {})}); {m.get('usage', {}).get('cost_usd', 0)} USD; status {m.get('status')} -> {out_dir}")
