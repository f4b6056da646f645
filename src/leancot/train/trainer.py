"""The trainer: transformers' ``Trainer`` with our loss, a frozen KD teacher and a merged final save.

Distribution (DDP, FSDP, DeepSpeed ZeRO-3, multi-node) is accelerate's, through the Trainer:
launch ``leancot train`` with ``accelerate launch --config_file accelerate_configs/<x>.yaml``
(see ``accelerate_configs/README.md``); nothing here is specific to one process.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from leancot.errors import UsageError
from leancot.train.compute import Counters
from leancot.train.config import TrainConfig, parse_layers, parse_tiny
from leancot.train.losses import IGNORE_INDEX, distill_loss

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- models


def model_path(spec: str, work_dir: Path, *, seed: int = 0) -> Path:
    """The checkpoint dir a student/teacher spec names (tiny models are built under ``work_dir``)."""
    from leancot import models

    tiny = parse_tiny(spec)
    if tiny is not None:
        from leancot.tiny import make_tiny_model

        target = work_dir / f"tiny-{tiny[0]}x{tiny[1]}-seed{seed}"
        if not (target / "config.json").exists():
            make_tiny_model(target, n_layer=tiny[0], hidden=tiny[1], heads=_heads(tiny[1]), seed=seed)
        return target
    layered = parse_layers(spec)
    path = models.resolve(layered[0] if layered else spec)
    if not Path(path).is_dir():
        raise UsageError(f"model {spec!r} is not a local checkpoint (no model hub here); use smollm2-135m, tiny:<n>x<h> or a directory")
    return Path(path)


def _heads(hidden: int) -> int:
    return next(h for h in (8, 4, 2, 1) if hidden % h == 0)


def load_model(spec: str, work_dir: Path, *, dtype: torch.dtype = torch.float32, seed: int = 0):
    """Load a causal LM by spec; ``name:layers=k`` keeps k evenly spaced layers of the model."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_path(spec, work_dir, seed=seed)), dtype=dtype)
    layered = parse_layers(spec)
    if layered is not None:
        drop_layers(model, layered[1])
    return model


def drop_layers(model: Any, keep: int) -> Any:
    """Keep ``keep`` evenly spaced decoder layers (always the first and the last)."""
    layers = model.model.layers
    n = len(layers)
    if keep > n:
        raise UsageError(f"layers={keep} but the model has only {n}")
    idx = [round(i * (n - 1) / (keep - 1)) for i in range(keep)] if keep > 1 else [0]
    model.model.layers = torch.nn.ModuleList([layers[i] for i in idx])
    for new, layer in enumerate(model.model.layers):
        layer.self_attn.layer_idx = new  # the KV cache is indexed by position in the list
    model.config.num_hidden_layers = keep
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = [model.config.layer_types[i] for i in idx]
    return model


def load_tokenizer(spec: str, work_dir: Path, *, seed: int = 0):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_path(spec, work_dir, seed=seed)))


def check_same_tokenizer(student_tok: Any, teacher_tok: Any, student: str, teacher: str) -> None:
    """Logit KD compares distributions id by id: the two tokenizers must map text to the same ids."""
    s, t = student_tok.get_vocab(), teacher_tok.get_vocab()
    if s == t:
        return
    differ = sum(1 for tok, i in s.items() if t.get(tok) != i)
    raise UsageError(
        f"teacher {teacher!r} does not share the student's tokenizer ({len(s):,} vs {len(t):,} tokens, {differ:,} student tokens "
        f"with another id); logit KD needs the same token ids: pick a teacher of the student's family"
    )


def add_lora(model: Any, config: TrainConfig) -> Any:
    """Wrap the model in PEFT LoRA adapters (the base weights stay frozen)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise UsageError("LoRA needs peft: pip install 'leancot[train]' (or use --full)") from None
    targets = config.lora_targets if config.lora_targets == "all-linear" else [t.strip() for t in config.lora_targets.split(",")]
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def save_final(model: Any, tokenizer: Any, out: Path) -> Path:
    """Save a plain checkpoint (LoRA merged in) that AutoModelForCausalLM and vLLM load directly."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# --------------------------------------------------------------------------- the trainer


class DistillTrainer(Trainer):
    """``Trainer`` whose loss is ``leancot.train.losses.distill_loss`` (CE, or CE + KD from a teacher).

    The teacher is frozen (``requires_grad_(False)``), in eval mode, runs under ``no_grad`` and may sit
    on its own device; its logits are moved to the student's device for the loss.
    """

    loss_is_scaled_for_ga = False  # our loss is a per-micro-batch mean; the Trainer divides by grad_accum

    def __init__(self, *args: Any, loss_config: TrainConfig, teacher: Any = None, counters: Counters | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.loss_config = loss_config
        self.teacher = teacher
        self.counters = counters or Counters()
        if teacher is not None:
            teacher.eval().requires_grad_(False)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        labels = inputs["labels"]
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        teacher_logits = self._teacher_logits(inputs) if self.loss_config.kd_enabled else None
        c = self.loss_config
        loss = distill_loss(
            out.logits, labels, teacher_logits, kd=c.kd, kd_ratio=c.kd_ratio, temperature=c.temperature,
            beta=c.jsd_beta, alpha=c.skew_alpha, chunk_tokens=c.kd_chunk_tokens,
        )  # fmt: skip
        if model.training:
            self._count(inputs)
        return (loss, out) if return_outputs else loss

    @torch.no_grad()
    def _teacher_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        device = next(self.teacher.parameters()).device
        t = self.teacher(input_ids=inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device))
        return t.logits.to(inputs["input_ids"].device)

    def _count(self, inputs: dict[str, torch.Tensor]) -> None:
        mask, labels = inputs["attention_mask"], inputs["labels"]
        stats = torch.stack([torch.tensor(mask.shape[0], device=mask.device), mask.sum(), (labels[:, 1:] != IGNORE_INDEX).sum()])
        if self.accelerator.num_processes > 1:
            stats = self.accelerator.reduce(stats, reduction="sum")
        self.counters.sequences += int(stats[0])
        self.counters.tokens += int(stats[1])
        self.counters.loss_tokens += int(stats[2])


class CountersCallback(TrainerCallback):
    """Keeps the token counters and the training wall time in every checkpoint, so resume keeps totals."""

    def __init__(self, counters: Counters):
        self.counters = counters
        self._t0: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        self._t0 = time.perf_counter()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.counters.steps_seconds += now - (self._t0 or now)
        self._t0 = now

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
        self._tick()
        if state.is_world_process_zero:
            self.counters.save(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self._tick()
