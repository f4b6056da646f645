"""``leancot train``: flags made from ``TrainConfig``; calls ``leancot.train.stage.run``."""

from __future__ import annotations

from pathlib import Path

import typer

from leancot.cli_utils import console


def register(app: typer.Typer) -> None:
    """Add the ``train`` subcommand to ``app``: one flag per TrainConfig field."""
    from leancot.flags import add_config_command
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run

    add_config_command(
        app,
        "train",
        TrainConfig,
        run=run,
        then=lambda config, out: _summary(out),
        arguments=("input",),
        decls={"out": ("--out", "-o"), "lora": ("--lora/--full",)},
        help="Distil reasoning traces into a student: SFT or logit KD, section masks, lead-span truncation.",
    )


def _summary(out_dir: Path) -> None:
    import json

    path = out_dir / "metrics.json"
    if not path.exists():
        console.print(f"[bold]{out_dir}[/bold]")
        return
    m = json.loads(path.read_text())
    loss = f"loss {m['loss_first']:.4f} → {m['loss_last']:.4f}" if m.get("loss_first") is not None else "no loss logged"
    console.print(
        f"[bold]{out_dir / 'model'}[/bold]: {m['optimizer_steps']} steps, {m['sequences']} sequences, {m['trained_tokens']:,} tokens "
        f"({m['loss_tokens']:,} with loss) in {m['wall_seconds']:.1f} s ({m['tokens_per_second']:.0f} tok/s), {loss}, "
        f"{m['flops']:.3g} FLOPs, peak memory {m['peak_memory_bytes'] / 2**30:.2f} GiB; log: {out_dir / 'train_log.jsonl'}",
        highlight=False,
        soft_wrap=True,
    )
    v = m.get("validation")
    if v and v.get("best_step") is not None:
        console.print(f"validation: best eval loss {v['best_eval_loss']:.4f} at step {v['best_step']}, last {v['last_eval_loss']:.4f} "
                      f"at step {v['last_step']}; kept step {v['kept_step']} ({v['keep']})")  # fmt: skip


def main() -> None:
    """``python -m leancot.train.command INPUT --out DIR ...``: the train command alone (e.g. under accelerate launch)."""
    import logging

    from leancot.cli_utils import quiet_libraries

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries(verbose=False)
    app = typer.Typer(add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
