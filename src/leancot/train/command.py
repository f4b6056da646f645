"""``leancot train``: parse the flags into a TrainConfig and call ``leancot.train.stage.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from leancot.cli_utils import console, usage_errors_exit_2


def register(app: typer.Typer) -> None:
    """Add the ``train`` subcommand to ``app``."""
    app.command("train")(train)


@usage_errors_exit_2
def train(
    input: Annotated[Path, typer.Argument(help="Records: prune records.jsonl, JSONL of question/reasoning/answer, or chat messages.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (model/, metrics.json, loss.png, ...).")],
    student: Annotated[str, typer.Option(help="smollm2-135m, smollm2-135m:layers=<k>, tiny:<n_layer>x<hidden> or a local checkpoint.")] = "smollm2-135m",
    teacher: Annotated[Optional[str], typer.Option(help="KD teacher (same forms; must share the student's tokenizer). None: SFT.")] = None,
    teacher_device: Annotated[Optional[str], typer.Option(help="Device of the teacher, e.g. cuda:1.")] = None,
    reasoning_field: Annotated[Optional[str], typer.Option(help="Field with the reasoning to train on (pruned, original, reasoning).")] = None,
    loss_on: Annotated[str, typer.Option(help="Sections carrying the loss: comma list of prompt, cot, answer.")] = "cot,answer",
    policy: Annotated[str, typer.Option(help="lsp | lsp-cot | cut | drop | none.")] = "lsp",
    lsp: Annotated[float, typer.Option(help="Lead-span proportion: share of each sequence's tokens kept.")] = 1.0,
    max_length: Annotated[Optional[int], typer.Option(help="Hard cap on sequence length in tokens.")] = None,
    lora: Annotated[bool, typer.Option("--lora/--full", help="LoRA adapters (merged on save) or full fine-tuning.")] = True,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha.")] = 32,
    kd: Annotated[str, typer.Option(help="forward_kl | reverse_kl | jsd | tvd | skew_kl.")] = "forward_kl",
    kd_ratio: Annotated[float, typer.Option(help="loss = (1 - r) CE + r KD (with a teacher).")] = 0.5,
    temperature: Annotated[float, typer.Option(help="KD temperature (KD term scaled by T^2).")] = 1.0,
    jsd_beta: Annotated[float, typer.Option(help="beta of the generalised JSD.")] = 0.5,
    skew_alpha: Annotated[float, typer.Option(help="alpha of the skew KL.")] = 0.1,
    epochs: Annotated[float, typer.Option(help="Training epochs.")] = 3.0,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after N optimizer steps.")] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Sequences per device per micro-batch.")] = 4,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Recompute activations in backward.")] = False,
    precision: Annotated[str, typer.Option(help="auto | bf16 | fp32.")] = "auto",
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N input rows.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Start over instead of resuming DIR.")] = False,
) -> None:
    """Distil reasoning traces into a student: SFT or logit KD, section masks, lead-span truncation."""
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run

    config = TrainConfig(
        input=input, out=out, student=student, teacher=teacher, teacher_device=teacher_device, reasoning_field=reasoning_field,
        loss_on=loss_on, policy=policy, lsp=lsp, max_length=max_length, lora=lora, lora_r=lora_r, lora_alpha=lora_alpha,
        kd=kd, kd_ratio=kd_ratio, temperature=temperature, jsd_beta=jsd_beta, skew_alpha=skew_alpha, epochs=epochs,
        max_steps=max_steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum, gradient_checkpointing=gradient_checkpointing,
        precision=precision, save_steps=save_steps, limit=limit, seed=seed, overwrite=overwrite,
    )  # fmt: skip
    out_dir = run(config)
    _summary(out_dir)


def _summary(out_dir: Path) -> None:
    import json

    path = out_dir / "metrics.json"
    if not path.exists():
        console.print(f"[bold]{out_dir}[/bold]")
        return
    m = json.loads(path.read_text())
    console.print(
        f"[bold]{out_dir / 'model'}[/bold]: {m['sequences']} sequences, {m['trained_tokens']:,} tokens "
        f"({m['loss_tokens']:,} with loss), {m['flops']:.3g} FLOPs, {m['tokens_per_second']:.0f} tok/s, "
        f"loss {m['loss_first']} → {m['loss_last']}, peak memory {m['peak_memory_bytes'] / 2**30:.2f} GiB"
    )


def main() -> None:
    """``python -m leancot.train.command INPUT --out DIR ...``: the train command alone (e.g. under accelerate launch)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = typer.Typer(add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
