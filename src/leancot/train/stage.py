"""The ``train`` stage: records in, a trained student (``DIR/model``) and its compute account out.

``run(TrainConfig(...))``:

1. reads every input row and renders it with the student's chat template; rows that cannot be
   trained on (no reasoning, no answer, nothing left after truncation, ...) go to ``rejects.jsonl``
   with a reason, so ``sequences + rejects = input rows``;
2. writes ``preflight.json``: for every length policy, how many sequences it would truncate or skip
   and how many tokens would be trained;
3. trains with ``DistillTrainer`` (checkpoints in ``DIR/checkpoints``; an interrupted run resumes
   from the last complete one, skipping the batches already seen);
4. saves ``DIR/model`` (LoRA merged: plain transformers / vLLM checkpoint), ``metrics.json``,
   ``loss.png`` and ``manifest.json``. A finished run with the same config and input is skipped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import UsageError
from leancot.io import iter_rows, write_json_atomic, write_jsonl_atomic
from leancot.train.config import TrainConfig
from leancot.train.data import Sections, build_example, preflight, record_sections, skip_reason, tokenize_sections

log = logging.getLogger(__name__)
OUTPUTS = ("model", "adapter", "checkpoints", "metrics.json", "loss.png", "preflight.json", "rejects.jsonl", manifest.MANIFEST)


def run(config: TrainConfig) -> Path:
    """Train the student on ``config.input`` into ``config.out``; returns the output dir."""
    out = config.out
    inputs = {str(config.input): manifest.file_sha256(config.input)}
    with manifest.stage_run(out, "train", config.fingerprint_config(), inputs, seed=config.seed, overwrite=config.overwrite,
                            allow_empty=config.allow_empty, skip_complete=lambda d: (d / "model").is_dir(),
                            outputs=OUTPUTS, kept_work=_kept_work) as stage:  # fmt: skip
        if stage.skipped:
            return out
        examples, counts = prepare(config)
        stage.total = counts["input"]
        result = _train(config, examples) if examples else {}
        stage.complete({**counts, "records": counts["sequences"]}, metrics={k: v for k, v in result.items() if k != "loss_curve"})
    return out


def _kept_work(out: Path) -> bool:
    """A checkpoint or a saved model: training worth resuming, not to be discarded."""
    return _last_checkpoint(out / "checkpoints") is not None or (out / "model").is_dir()


# --------------------------------------------------------------------------- data


def prepare(config: TrainConfig) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Tokenised, masked, truncated examples plus counts; writes rejects.jsonl and preflight.json."""
    from leancot.train.trainer import load_tokenizer

    tokenizer = load_tokenizer(config.student, config.out, seed=config.seed)
    kept: list[tuple[str, tuple[list[int], list[int], list[int]]]] = []
    rejects: list[dict[str, str]] = []
    for n, row in enumerate(iter_rows(config.input), start=1):
        if config.limit and n > config.limit:
            break
        sec = record_sections(row.data, reasoning_field=config.reasoning_field, line=row.line) if row.data is not None else (row.error or "unreadable", f"line {row.line}")
        if isinstance(sec, Sections):
            kept.append((sec.id, tokenize_sections(tokenizer, sec)))
        else:
            rejects.append({"id": f"line-{row.line}" if row.data is None else str(row.data.get("id") or f"line-{row.line}"), "reason": sec[0], "detail": sec[1]})
    kw = {"loss_on": config.loss_on, "policy": config.policy, "lsp": config.lsp, "max_length": config.max_length}
    examples = []
    for item_id, (p, c, a) in kept:
        ex = build_example(p, c, a, **kw)
        if ex is None:
            rejects.append({"id": item_id, "reason": skip_reason(p, c, a, **kw)})
        else:
            examples.append({"input_ids": ex[0], "labels": ex[1]})
    write_jsonl_atomic(config.out / "rejects.jsonl", rejects)
    report = preflight([s for _, s in kept], loss_on=config.loss_on, lsp=config.lsp, max_length=config.max_length)
    write_json_atomic(config.out / "preflight.json", {"chosen": config.policy, "lsp": config.lsp, "max_length": config.max_length, "policies": report})
    _log_preflight(report, config)
    counts = {"input": len(examples) + len(rejects), "sequences": len(examples), "rejects": len(rejects)}
    if not examples and not (config.allow_empty and counts["input"] == 0):
        reasons = ", ".join(sorted({r["reason"] for r in rejects})) or "the input is empty"
        raise UsageError(f"no trainable sequences in {config.input} ({len(rejects)} rejected: {reasons}); see {config.out / 'rejects.jsonl'}")
    return examples, counts


def _log_preflight(report: dict[str, dict[str, int]], config: TrainConfig) -> None:
    for policy, r in report.items():
        mark = " <- chosen" if policy == config.policy else ""
        log.info("preflight %-8s sequences %d (touched %d, skipped %d), tokens %d, loss tokens %d%s",
                 policy, r["sequences"], r["touched"], r["skipped"], r["tokens"], r["loss_tokens"], mark)  # fmt: skip


# --------------------------------------------------------------------------- training


def _train(config: TrainConfig, examples: list[dict[str, list[int]]]) -> dict[str, Any]:
    import torch
    from transformers import TrainingArguments, set_seed

    from leancot.train import compute, trainer as tr
    from leancot.train.data import PadToLongest

    # Before anything draws a random number: the LoRA initialisation (add_lora) runs before the
    # Trainer seeds torch itself, so without this the same --seed gave other adapters, other losses.
    set_seed(config.seed)
    gpu = torch.cuda.is_available()
    bf16 = config.precision == "bf16" or (config.precision == "auto" and gpu and torch.cuda.is_bf16_supported())
    if config.precision == "bf16" and not (gpu and torch.cuda.is_bf16_supported()):
        raise UsageError("--precision bf16 needs a GPU with bf16 support")
    tokenizer = tr.load_tokenizer(config.student, config.out, seed=config.seed)
    student = tr.load_model(config.student, config.out, dtype=torch.bfloat16 if bf16 and config.lora else torch.float32, seed=config.seed)
    n_student = sum(p.numel() for p in student.parameters())
    if config.lora:
        student = tr.add_lora(student, config)
    trainable = sum(p.numel() for p in student.parameters() if p.requires_grad)
    ckpt_dir = config.out / "checkpoints"
    last = _last_checkpoint(ckpt_dir)
    counters = compute.Counters.load(last)
    args = TrainingArguments(
        output_dir=str(ckpt_dir), per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr, num_train_epochs=config.epochs, max_steps=config.max_steps or -1, warmup_steps=config.warmup,
        weight_decay=config.weight_decay, lr_scheduler_type="cosine", logging_steps=1, save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=config.save_total_limit, seed=config.seed, bf16=bf16,
        **_checkpointing_args(TrainingArguments, config.gradient_checkpointing),
        report_to="none", remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not gpu, optim="adamw_torch",
    )  # fmt: skip
    teacher = _teacher(config, tokenizer, bf16, args.device) if config.kd_enabled else None
    trainer = tr.DistillTrainer(
        model=student, args=args, train_dataset=examples, data_collator=PadToLongest(tokenizer.pad_token_id or 0),
        loss_config=config, teacher=teacher, counters=counters, callbacks=[tr.CountersCallback(counters)],
    )  # fmt: skip
    if last is not None:
        log.info("train: resuming from %s", last)
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    _save(trainer, config, tokenizer)
    n_teacher = sum(p.numel() for p in teacher.parameters()) if teacher is not None else 0
    metrics = compute.build_metrics(
        counters, student_params=n_student, trainable_params=trainable, teacher_params=n_teacher,
        log_history=trainer.state.log_history, steps=trainer.state.global_step,
        extra={"bf16": bf16, "device": str(args.device), "processes": trainer.accelerator.num_processes, "distributed": trainer.accelerator.distributed_type.value, "resumed_from": str(last) if last else None},
    )  # fmt: skip
    if trainer.is_world_process_zero():
        compute.write_metrics(config.out, metrics)
    from dataclasses import asdict

    return asdict(metrics)


def _checkpointing_args(args_cls: Any, enabled: bool) -> dict[str, Any]:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing; accept both."""
    import dataclasses

    name = "activation_checkpointing" if "activation_checkpointing" in {f.name for f in dataclasses.fields(args_cls)} else "gradient_checkpointing"
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False}}


def _teacher(config: TrainConfig, student_tok: Any, bf16: bool, device: Any):
    import torch

    from leancot.train import trainer as tr

    assert config.teacher is not None
    tr.check_same_tokenizer(student_tok, tr.load_tokenizer(config.teacher, config.out, seed=config.seed + 1), config.student, config.teacher)
    teacher = tr.load_model(config.teacher, config.out, dtype=torch.bfloat16 if bf16 else torch.float32, seed=config.seed + 1)
    # Default: this process's own device (under DDP each rank has its own GPU).
    return teacher.to(config.teacher_device or device).eval().requires_grad_(False)


def _last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint whose save completed (our counters file is written after everything else)."""
    from leancot.train.compute import COUNTERS

    if not ckpt_dir.is_dir():
        return None
    done = [p for p in ckpt_dir.glob("checkpoint-*") if (p / COUNTERS).exists() and p.name.split("-")[-1].isdigit()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _save(trainer: Any, config: TrainConfig, tokenizer: Any) -> Path:
    """``DIR/model``: the full model; with LoRA, the adapter is saved (gathered across shards by the
    Trainer) and merged into a freshly loaded base on the main process."""
    from leancot.train import trainer as tr

    target = config.out / "model"
    if not config.lora:
        trainer.save_model(str(target))
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(target)
        return target
    adapter = config.out / "adapter"
    trainer.save_model(str(adapter))
    if trainer.is_world_process_zero():
        from peft import PeftModel

        base = tr.load_model(config.student, config.out, seed=config.seed)
        tr.save_final(PeftModel.from_pretrained(base, str(adapter)), tokenizer, target)
    trainer.accelerator.wait_for_everyone()
    return target
