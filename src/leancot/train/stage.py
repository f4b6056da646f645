"""The ``train`` stage: records in, a trained student (``DIR/model``) and its compute account out.

``run(TrainConfig(...))``:

1. reads every input row and renders it with the student's chat template; rows that cannot be
   trained on (no reasoning, no answer, nothing left after truncation, ...) go to ``rejects.jsonl``
   with a reason, so ``sequences + rejects = input rows``; several inputs (``PATH:WEIGHT``) make a
   mixture whose every epoch is drawn by weight with the seed (``leancot.train.mixture``,
   ``prepare_mixture``), recorded in the manifest's ``mixture``;
2. writes ``preflight.json``: for every length policy, how many sequences it would truncate or skip
   and how many tokens would be trained;
3. with validation (``--val-fraction``: a seeded split of the trainable sequences, ids in
   ``validation.jsonl``; or ``--val-file``), evaluates the cross-entropy every ``--eval-every``;
4. trains with ``DistillTrainer`` (checkpoints in ``DIR/checkpoints``; an interrupted run resumes
   from the last complete one, skipping the batches already seen);
5. saves ``DIR/model``, the last model or with ``--keep best`` the one of lowest validation loss
   (LoRA merged: plain transformers / vLLM checkpoint), ``metrics.json``,
   ``loss.png`` and ``manifest.json``. A finished run with the same config and input is skipped.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leancot import manifest, stages
from leancot.errors import UsageError
from leancot.io import iter_rows, write_json_atomic, write_jsonl_atomic
from leancot.train.config import TrainConfig
from leancot.train.data import Sections, build_example, preflight, record_sections, skip_reason, think_close_tokens, tokenize_sections
from leancot.train.mixture import EpochMix, MixEpochRecord, MixSourceRecord, MixtureRecord, Source, draw_epoch, epoch_size, parse_sources

log = logging.getLogger(__name__)
OUTPUTS = (
    "model",
    "adapter",
    "checkpoints",
    "metrics.json",
    "loss.png",
    "preflight.json",
    "rejects.jsonl",
    "validation.jsonl",
    "train_log.jsonl",
    manifest.MANIFEST,
)


def run(config: TrainConfig) -> Path:
    """Train the student on ``config.input`` (one input, or a mixture of several) into ``config.out``; returns the output dir."""
    out = config.out
    paths = [s.path for s in config.sources] + ([config.val_file] if config.val_file is not None else [])
    inputs = {str(p): manifest.file_sha256(p) for p in paths}
    with manifest.stage_run(out, "train", config.fingerprint_config(), inputs, seed=config.seed, overwrite=config.overwrite,
                            allow_empty=config.allow_empty, skip_complete=lambda d: (d / "model").is_dir(),
                            outputs=OUTPUTS, kept_work=_kept_work) as stage:  # fmt: skip
        if stage.skipped:
            return out
        mixture = None
        if config.mixes:
            examples, val, counts, mixture = prepare_mixture(config)
        else:
            examples, val, counts = prepare(config)
        stage.total = counts["input"]
        epoch = mixture.epoch_size if mixture else len(examples)
        result = _train(config, examples, val, epoch_size=epoch, mixes=mixture.epochs if mixture else 0) if examples else {}
        metrics = {k: v for k, v in result.items() if k != "loss_curve"}
        if metrics.get("validation"):
            metrics["validation"] = {k: v for k, v in metrics["validation"].items() if k != "curve"}
        extra = {"mixture": mixture.model_dump()} if mixture else {}
        stage.complete({**counts, "records": counts["sequences"]}, metrics=metrics, **extra)
    return out


def _kept_work(out: Path) -> bool:
    """A checkpoint or a saved model: training worth resuming, not to be discarded."""
    return _last_checkpoint(out / "checkpoints") is not None or (out / "model").is_dir()


# --------------------------------------------------------------------------- data


Example = dict[str, list[int]]


@dataclass
class Item:
    """One trainable sequence: its record id, its question (``question_key``) and the example."""

    id: str
    key: str
    example: Example = field(default_factory=dict)


def prepare(config: TrainConfig) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """(training examples, validation examples, counts): tokenised, masked and truncated; writes
    rejects.jsonl, preflight.json and, with validation, validation.jsonl (the ids held out).

    ``counts``: input = sequences + validation (when split from the input) + unused (past
    --train-limit) + rejects. Validation from --val-file is counted apart (its rejects are dropped
    with a log line, not written)."""
    from leancot.train.trainer import load_tokenizer

    tokenizer = load_tokenizer(config.student, config.out, seed=config.seed)
    kept, rejects = _read_sections(config, tokenizer, config.sources[0].path, limit=config.limit)
    train = _build(config, kept, rejects)
    val = _val_file(config, tokenizer)
    if config.val_fraction is not None:
        train, val = split_validation(train, config.val_fraction, seed=config.seed)
    unused = max(0, len(train) - config.train_limit) if config.train_limit else 0
    train = train[: len(train) - unused]
    _write_side_files(config, rejects, [{"id": item.id} for item in val], [item for _, item in kept])
    held = len(val) if config.val_fraction is not None else 0
    counts = _counts(config, len(train), held, unused, rejects, len(val))
    _check_not_empty(config, counts, rejects, bool(train), bool(val))
    return [item.example for item in train], [item.example for item in val], counts


def prepare_mixture(config: TrainConfig) -> tuple[list[Example], list[Example], dict[str, Any], MixtureRecord]:
    """``prepare`` for several inputs (``leancot.train.mixture``): every input read and built as one is,
    validation (--val-fraction) and --train-limit taken by question over all of them, then the epochs'
    mixes drawn. Returns (the epochs' draws one after another, validation, counts, the manifest's record).

    --limit counts each input's rows; --val-fraction holds out questions (with every input's sequences
    of them), --train-limit keeps the first N questions left (in the order the inputs give them)."""
    from leancot.train.trainer import load_tokenizer

    tokenizer = load_tokenizer(config.student, config.out, seed=config.seed)
    sources = config.sources
    pools: list[list[Item]] = []
    rejects: list[dict[str, str]] = []
    every: list[tuple[Any, ...]] = []
    for src in sources:
        kept, src_rejects = _read_sections(config, tokenizer, src.path, limit=config.limit)
        pools.append(_build(config, kept, src_rejects))
        rejects += [r | {"input": src.given} for r in src_rejects]
        every += [item for _, item in kept]
    questions = list(dict.fromkeys(item.key for pool in pools for item in pool))
    held: set[str] = set()
    if config.val_fraction is not None and questions:
        held = set(split_validation(questions, config.val_fraction, seed=config.seed)[1])
    kept_questions = set([q for q in questions if q not in held][: config.train_limit or None])
    val = [(src, item) for src, pool in zip(sources, pools) for item in pool if item.key in held]
    trains = [[item for item in pool if item.key in kept_questions] for pool in pools]
    unused = sum(len(pool) for pool in pools) - len(val) - sum(len(t) for t in trains)
    val_items = _val_file(config, tokenizer) if config.val_file is not None else [item for _, item in val]
    _write_side_files(config, rejects, [{"id": item.id, "input": src.given} for src, item in val], every)
    counts = _counts(config, sum(len(t) for t in trains), len(val), unused, rejects, len(val_items))
    _check_not_empty(config, counts, rejects, any(trains), bool(val_items))
    record = _draw(config, sources, trains, rows=[len(p) + sum(r["input"] == s.given for r in rejects) for s, p in zip(sources, pools)],
                   rejects=[sum(r["input"] == s.given for r in rejects) for s in sources])  # fmt: skip
    stream = [trains[i][j].example for epoch in record.draws for i, j in epoch.picks]
    return stream, [item.example for item in val_items], counts, record.record


@dataclass
class _Drawn:
    record: MixtureRecord
    draws: list[EpochMix]


def _draw(config: TrainConfig, sources: list[Source], trains: list[list[Item]], *, rows: list[int], rejects: list[int]) -> _Drawn:
    """Every epoch's mix, and the manifest's record of it."""
    keys = [[item.key for item in pool] for pool in trains]
    size = epoch_size(keys, one_per_question=config.mix_one_per_question)
    draws = [draw_epoch(keys, [s.weight for s in sources], seed=config.seed, epoch=e, one_per_question=config.mix_one_per_question)
             for e in range(_mixes_needed(config, size))]  # fmt: skip
    per_source = [MixSourceRecord(input=s.given, path=str(s.path), weight=s.weight, rows=r, sequences=len(t), rejects=n)
                  for s, t, r, n in zip(sources, trains, rows, rejects)]  # fmt: skip
    per_epoch = []
    for e, mix in enumerate(draws, start=1):
        ids: dict[str, list[str]] = {s.given: [] for s in sources}
        for i, j in mix.picks:
            ids[sources[i].given].append(trains[i][j].id)
        named = lambda xs: {s.given: x for s, x in zip(sources, xs)}  # noqa: E731
        per_epoch.append(MixEpochRecord(epoch=e, counts=named(mix.counts), repeated=named(mix.repeated), shared=named(mix.shared), ids=ids))
    log.info("train: mixture of %d inputs (%s), %d sequences an epoch, %d epoch mixes drawn", len(sources),
             ", ".join(f"{s.given} {s.weight:.3g}" for s in sources), size, len(draws))  # fmt: skip
    record = MixtureRecord(seed=config.seed, one_per_question=config.mix_one_per_question, epoch_size=size, epochs=len(draws),
                           sources=per_source, per_epoch=per_epoch)  # fmt: skip
    return _Drawn(record, draws)


def _mixes_needed(config: TrainConfig, size: int) -> int:
    """Epoch mixes to draw: ceil(--epochs), or as many as --max-steps reads."""
    import os

    if config.max_steps is None:
        return math.ceil(config.epochs)
    per_step = config.batch_size * config.grad_accum * int(os.environ.get("WORLD_SIZE", "1"))
    return max(1, math.ceil(config.max_steps * per_step / max(size, 1)))


def _val_file(config: TrainConfig, tokenizer: Any) -> list[Item]:
    """The --val-file's sequences (its rejects dropped with a log line, not written); [] without one."""
    if config.val_file is None:
        return []
    val_rejects: list[dict[str, str]] = []
    val = _build(config, _read_sections(config, tokenizer, config.val_file, rejects=val_rejects)[0], val_rejects)
    if val_rejects:
        log.info("train: %d of %d --val-file rows cannot be used (%s)", len(val_rejects), len(val) + len(val_rejects),
                 ", ".join(sorted({r["reason"] for r in val_rejects})))  # fmt: skip
    return val


def _write_side_files(config: TrainConfig, rejects: list[dict[str, str]], held_out: list[dict[str, str]], sections: list[Any]) -> None:
    """rejects.jsonl, validation.jsonl (the ids held out) and preflight.json."""
    write_jsonl_atomic(config.out / "rejects.jsonl", rejects)
    if config.validates:
        write_jsonl_atomic(config.out / "validation.jsonl", held_out)
    report = preflight(sections, loss_on=config.loss_on, lsp=config.lsp, max_length=config.max_length, think_close=config.think_close)
    write_json_atomic(config.out / "preflight.json", {"chosen": _chosen(config), "lsp": config.lsp, "max_length": config.max_length,
                                                      "think_close": config.think_close, "policies": report})  # fmt: skip
    _log_preflight(report, _chosen(config))


def _counts(config: TrainConfig, sequences: int, held: int, unused: int, rejects: list[Any], n_val: int) -> dict[str, int]:
    """input = sequences + held (split from the input) + unused + rejects."""
    counts = {"input": sequences + held + unused + len(rejects), "sequences": sequences, "rejects": len(rejects)}
    return counts | ({"validation": n_val} if config.validates else {}) | ({"unused": unused} if unused else {})


def _check_not_empty(config: TrainConfig, counts: dict[str, int], rejects: list[dict[str, str]], train: bool, val: bool) -> None:
    if not train and not (config.allow_empty and counts["input"] == 0):
        reasons = ", ".join(sorted({r["reason"] for r in rejects})) or "the input is empty"
        raise UsageError(
            f"no trainable sequences in {' '.join(config.input)} ({len(rejects)} rejected: {reasons}); see {config.out / 'rejects.jsonl'}"
        )
    if train and config.validates and not val:
        raise UsageError(
            f"no validation sequences from {'--val-file ' + str(config.val_file) if config.val_file else f'--val-fraction {config.val_fraction:g}'}"
        )


def split_validation(items: list[Any], size: float, *, seed: int) -> tuple[list[Any], list[Any]]:
    """(train, validation) as ``datasets``' ``train_test_split(test_size=size, seed=seed)`` splits them:
    a fraction below 1 is ``ceil(size * n)`` rows, else ``size`` rows; a permutation from
    ``numpy.random.default_rng(seed)``, its first rows the validation, the rest (in that order) train."""
    import numpy as np

    n = len(items)
    n_val = math.ceil(size * n) if size < 1 else int(size)
    if n_val >= n:
        raise UsageError(f"--val-fraction {size:g} leaves no training sequences ({n} in all)")
    order = np.random.default_rng(seed).permutation(n)
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def _read_sections(
    config: TrainConfig, tokenizer: Any, path: Path, *, limit: int | None = None, rejects: list[dict[str, str]] | None = None
):
    """([(Item without its example, (prompt, cot, answer, </think> tokens))], rejects) for every row of ``path``."""
    kept: list[tuple[Item, tuple[list[int], list[int], list[int], int]]] = []
    rejects = [] if rejects is None else rejects
    for n, row in enumerate(iter_rows(path), start=1):
        if limit and n > limit:
            break
        sec = (
            record_sections(row.data, reasoning_field=config.reasoning_field, line=row.line)
            if row.data is not None
            else (row.error or "unreadable", f"line {row.line}")
        )
        if isinstance(sec, Sections):
            p, c, a = tokenize_sections(tokenizer, sec)
            kept.append((Item(sec.id, question_key(sec)), (p, c, a, think_close_tokens(tokenizer, a))))
        else:
            rejects.append(
                {
                    "id": f"line-{row.line}" if row.data is None else str(row.data.get("id") or f"line-{row.line}"),
                    "reason": sec[0],
                    "detail": sec[1],
                }
            )
    return kept, rejects


def _build(config: TrainConfig, kept: list[tuple[Item, tuple[Any, ...]]], rejects: list[dict[str, str]]) -> list[Item]:
    """An Item with its example for every sequence ``build_example`` keeps; the others go to ``rejects`` with a reason."""
    kw = {"loss_on": config.loss_on, "policy": config.policy, "lsp": config.lsp, "max_length": config.max_length,
          "length_filter": config.length_filter, "think_close": config.think_close}  # fmt: skip
    out = []
    for item, (p, c, a, n_close) in kept:
        ex = build_example(p, c, a, close_tokens=n_close, **kw)
        if ex is None:
            rejects.append({"id": item.id, "reason": skip_reason(p, c, a, **kw)})
        else:
            out.append(Item(item.id, item.key, {"input_ids": ex[0], "labels": ex[1]}))
    return out


def question_key(s: Sections) -> str:
    """What makes two records versions of one question: the prompt's text, normalised as the leakage guard does."""
    from leancot.leakage import normalise_question

    return normalise_question("\n".join(m["content"] for m in s.messages))


def _chosen(config: TrainConfig) -> str:
    """The preflight row of the chosen policy."""
    return f"drop+{config.policy}" if config.length_filter == "drop" else config.policy


def _log_preflight(report: dict[str, dict[str, int]], chosen: str) -> None:
    """The chosen policy in one line; every policy's figures at debug level (-v) and in preflight.json."""
    for policy, r in report.items():
        mark = " <- chosen" if policy == chosen else ""
        log.debug("preflight %-8s sequences %d (touched %d, skipped %d), tokens %d, loss tokens %d%s",
                  policy, r["sequences"], r["touched"], r["skipped"], r["tokens"], r["loss_tokens"], mark)  # fmt: skip
    r = report.get(chosen)
    if r is not None:
        log.info("train: %d sequences under %s (%d truncated, %d skipped), %d tokens, %d with loss; other policies in preflight.json",
                 r["sequences"], chosen, r["touched"], r["skipped"], r["tokens"], r["loss_tokens"])  # fmt: skip


# --------------------------------------------------------------------------- training


def _train(config: TrainConfig, examples: list[Example], val: list[Example] | None = None, *, epoch_size: int | None = None,
           mixes: int = 0) -> dict[str, Any]:  # fmt: skip
    """Train on ``examples``: one epoch's data the Trainer shuffles, or (``mixes`` > 0) a mixture's epochs
    one after another (``epoch_size`` sequences each), read in order."""
    import torch
    from transformers import TrainingArguments, set_seed

    from leancot.train import compute
    from leancot.train import trainer as tr
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
        learning_rate=config.lr, num_train_epochs=config.epochs / mixes if mixes else config.epochs, max_steps=config.max_steps or -1,
        warmup_steps=config.warmup, weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm, lr_scheduler_type="cosine",
        logging_steps=1, save_total_limit=config.save_total_limit, seed=config.seed, bf16=bf16, **_eval_args(config, epoch_size or len(examples)),
        **_checkpointing_args(TrainingArguments, config.gradient_checkpointing),
        report_to="none", remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not gpu, optim="adamw_torch",
        disable_tqdm=True,  # the bar is ours (quiet_trainer)
    )  # fmt: skip
    teacher = _teacher(config, tokenizer, bf16, args.device) if config.kd_enabled else None
    trainer = tr.DistillTrainer(
        model=student, args=args, train_dataset=examples, eval_dataset=val or None, data_collator=PadToLongest(tokenizer.pad_token_id or 0),
        loss_config=config, teacher=teacher, counters=counters, callbacks=[tr.CountersCallback(counters)], in_order=bool(mixes),
    )  # fmt: skip
    tr.quiet_trainer(trainer, config.out / "train_log.jsonl")
    if last is not None:
        log.info("train: resuming from %s", last)
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    _save(trainer, config, tokenizer)
    n_teacher = sum(p.numel() for p in teacher.parameters()) if teacher is not None else 0
    metrics = compute.build_metrics(
        counters, student_params=n_student, trainable_params=trainable, teacher_params=n_teacher,
        log_history=trainer.state.log_history, steps=trainer.state.global_step, validation=_validation_summary(config, trainer.state, len(val or [])),
        extra={"bf16": bf16, "device": str(args.device), "processes": trainer.accelerator.num_processes, "distributed": trainer.accelerator.distributed_type.value, "resumed_from": str(last) if last else None},
    )  # fmt: skip
    if trainer.is_world_process_zero():
        compute.write_metrics(config.out, metrics)
    from dataclasses import asdict

    return asdict(metrics)


def _eval_args(config: TrainConfig, n_train: int) -> dict[str, Any]:
    """TrainingArguments for checkpoints and validation: the evaluation loss every ``eval_every`` of an
    epoch, or every ``eval_every`` optimizer steps when it is >= 1 (transformers also evaluates after
    the last step); with ``keep best`` a checkpoint at every
    evaluation and the lowest ``eval_loss`` loaded back at the end (``load_best_model_at_end``)."""
    import os

    args: dict[str, Any] = {"save_strategy": "steps", "save_steps": config.save_steps}
    if not config.validates:
        return args
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    per_epoch = max(1, math.ceil(math.ceil(n_train / (config.batch_size * processes)) / config.grad_accum))
    every = int(config.eval_every) if config.eval_every >= 1 else max(1, round(config.eval_every * per_epoch))
    args |= {"eval_strategy": "steps", "eval_steps": every, "per_device_eval_batch_size": config.batch_size, "prediction_loss_only": True}
    if config.keep == "best":
        args |= {"save_steps": every, "load_best_model_at_end": True, "metric_for_best_model": "eval_loss", "greater_is_better": False}
    return args


def _validation_summary(config: TrainConfig, state: Any, n_val: int) -> dict[str, Any] | None:
    """What metrics.json records of validation: every evaluation, the best and the last, which was kept."""
    if not config.validates:
        return None
    curve = [{"step": int(h["step"]), "eval_loss": float(h["eval_loss"])} for h in state.log_history if "eval_loss" in h]
    best = min(curve, key=lambda c: c["eval_loss"], default=None)  # the first of equal losses, as transformers keeps it
    last = max(curve, key=lambda c: c["step"], default=None)
    kept = state.best_global_step if config.keep == "best" and state.best_global_step else state.global_step
    return {"sequences": n_val, "eval_steps": state.eval_steps, "keep": config.keep, "kept_step": kept,
            "best_step": best and best["step"], "best_eval_loss": best and best["eval_loss"],
            "last_step": last and last["step"], "last_eval_loss": last and last["eval_loss"], "curve": curve}  # fmt: skip


def _checkpointing_args(args_cls: Any, enabled: bool) -> dict[str, Any]:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing; accept both."""
    import dataclasses

    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in {f.name for f in dataclasses.fields(args_cls)}
        else "gradient_checkpointing"
    )
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False}}


def _teacher(config: TrainConfig, student_tok: Any, bf16: bool, device: Any):
    import torch

    from leancot.train import trainer as tr

    assert config.teacher is not None
    tr.check_same_tokenizer(
        student_tok, tr.load_tokenizer(config.teacher, config.out, seed=config.seed + 1), config.student, config.teacher
    )
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
        with tr.peft_reads_old_checkpointing_name():
            merged = PeftModel.from_pretrained(base, str(adapter))
        tr.save_final(merged, tokenizer, target)
    trainer.accelerator.wait_for_everyone()
    return target


STAGE = stages.Stage(
    "train",
    TrainConfig,
    run,
    command="leancot.train.command:register",
    feeds=(stages.Feed("input", "prune", "records.jsonl"),),
    trains_on=lambda c: [stages.InputFile(s.path) for s in parse_sources(c.input, must_exist=False)],
)
