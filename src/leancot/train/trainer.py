"""The trainer: transformers' ``Trainer`` with our loss, a frozen KD teacher and a merged final save.

Distribution (DDP, FSDP, DeepSpeed ZeRO-3, multi-node) is accelerate's, through the Trainer:
launch ``leancot train`` with ``accelerate launch --config_file accelerate_configs/<x>.yaml``
(see ``accelerate_configs/README.md``); nothing here is specific to one process.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from leancot.errors import UsageError
from leancot.models import parse_layers, parse_tiny
from leancot.train.compute import Counters
from leancot.train.config import TrainConfig
from leancot.train.fused_loss import fused_distill_loss
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
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, target_modules=targets, task_type="CAUSAL_LM"
    )
    with peft_reads_old_checkpointing_name():
        return get_peft_model(model, lora)


@contextlib.contextmanager
def peft_reads_old_checkpointing_name() -> Iterator[None]:
    """Around PEFT's ``PeftModel(...)`` (``get_peft_model``, ``PeftModel.from_pretrained``).

    transformers 5 renamed ``is_gradient_checkpointing`` to ``is_activation_checkpointing`` and made the
    old name a property that warns (FutureWarning). PEFT (0.21.2, the newest release) still reads the old
    name in ``PeftModel.__init__`` (``peft/peft_model.py``: ``getattr(model, "is_gradient_checkpointing",
    True)``), so every LoRA run warned though leancot never uses it. That one warning, from that one call,
    is left out here; any other warning shows. (leancot's own code uses the current names: see
    ``stage._checkpointing_args``.) Remove this when PEFT reads ``is_activation_checkpointing``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def save_final(model: Any, tokenizer: Any, out: Path) -> Path:
    """Save a plain checkpoint (LoRA merged in) that AutoModelForCausalLM and vLLM load directly."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# --------------------------------------------------------------------------- hidden states and heads


def _unwrapped(model: Any) -> Any:
    """The transformers model under DDP / DataParallel / compile (accelerate's unwrapping) and PEFT wrappers."""
    from accelerate.utils import extract_model_from_parallel

    model = extract_model_from_parallel(model)
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def head_weight(model: Any) -> torch.Tensor | None:
    """(V, H) weight of the output layer if the logits are exactly ``last_hidden @ W.T`` (a plain, bias-free
    Linear, no logit scale or softcapping, a forward that takes ``logits_to_keep``); else None. A LoRA-wrapped
    head or a bias is not a plain Linear: the caller then computes logits the ordinary way."""
    base = _unwrapped(model)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if type(head) is not torch.nn.Linear or head.bias is not None:
        return None
    cfg = base.config
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None) not in (None, 1.0):
        return None
    return head.weight if "logits_to_keep" in inspect.signature(base.forward).parameters else None


def last_hidden_states(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, S, H) output of the model's decoder (after its final norm: what the head projects).

    The call goes through ``model`` itself, so DDP's and PEFT's forward hooks run, with
    ``logits_to_keep`` an empty index: the head projects no position. A forward hook on the decoder
    keeps its output.
    """
    decoder = _unwrapped(model).get_decoder()
    seen: dict[str, torch.Tensor] = {}

    def keep(module: Any, args: Any, out: Any) -> None:
        seen["h"] = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]

    ids = inputs["input_ids"]
    handle = decoder.register_forward_hook(keep)
    try:
        model(input_ids=ids, attention_mask=inputs["attention_mask"], logits_to_keep=torch.empty(0, dtype=torch.long, device=ids.device))
    finally:
        handle.remove()
    return seen["h"]


# --------------------------------------------------------------------------- the trainer


class DistillTrainer(Trainer):
    """``Trainer`` whose loss is leancot's CE + KD: ``fused_distill_loss`` from the models' last hidden
    states and output layers (no full logits) where the heads allow it, else ``distill_loss`` on logits.

    The teacher is frozen (``requires_grad_(False)``), in eval mode, runs under ``no_grad`` and may sit
    on its own device; its hidden states (or logits) are moved to the student's device for the loss.
    ``in_order``: read the training data in its order (a mixture's epochs, drawn by ``leancot.train.mixture``)
    instead of shuffling it.
    """

    loss_is_scaled_for_ga = False  # our loss is a per-micro-batch mean; the Trainer divides by grad_accum

    def __init__(
        self,
        *args: Any,
        loss_config: TrainConfig,
        teacher: Any = None,
        counters: Counters | None = None,
        in_order: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.in_order = in_order  # a mixture's epochs, already drawn and shuffled: read them as they are
        self.loss_config = loss_config
        self.teacher = teacher
        self.counters = counters or Counters()
        self._teacher_head: torch.Tensor | None = None
        if teacher is not None:
            teacher.eval().requires_grad_(False)

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        if self.in_order:
            return torch.utils.data.SequentialSampler(self.train_dataset if train_dataset is None else train_dataset)
        return super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        loss, out = self._loss(model, inputs, kd=self.loss_config.kd_enabled, logits=return_outputs)
        if model.training:
            self._count(inputs)
        return (loss, out) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):  # noqa: ANN001
        """Validation: the cross-entropy of the loss-bearing tokens only, no KD term (the Essence code's
        ``val_include_distill_loss=False``), so runs with and without a teacher compare; no logits kept."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss, _ = self._loss(model, inputs, kd=False, logits=False)
        return loss.detach(), None, None

    def _loss(self, model: Any, inputs: dict[str, torch.Tensor], *, kd: bool, logits: bool) -> tuple[torch.Tensor, Any]:
        """(loss, model outputs or None): CE (+ KD when ``kd``); fused unless ``logits`` are asked for."""
        c = self.loss_config
        kw = {"kd": c.kd, "kd_ratio": c.kd_ratio if kd else 0.0, "temperature": c.temperature, "beta": c.jsd_beta, "alpha": c.skew_alpha,
              "forward_ratio": c.kd_forward_ratio, "chunk_tokens": c.kd_chunk_tokens}  # fmt: skip
        if logits or not self._can_fuse(model, kd):  # outputs must carry logits (evaluation, predictions)
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            return distill_loss(out.logits, inputs["labels"], self._teacher_logits(inputs) if kd else None, **kw), out
        hidden = last_hidden_states(model, inputs)
        t_hidden, t_weight = self._teacher_hidden(inputs) if kd else (None, None)
        return fused_distill_loss(hidden, head_weight(model), inputs["labels"], t_hidden, t_weight, **kw), None

    def _can_fuse(self, model: Any, kd: bool | None = None) -> bool:
        """Sharded weights (FSDP, ZeRO-3) are only whole inside the wrapper's forward: there, full logits."""
        kd = self.loss_config.kd_enabled if kd is None else kd
        if not self.loss_config.fused_loss or self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return False
        return head_weight(model) is not None and (not kd or self.teacher is None or head_weight(self.teacher) is not None)

    @torch.no_grad()
    def _teacher_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        device = next(self.teacher.parameters()).device
        t = self.teacher(input_ids=inputs["input_ids"].to(device), attention_mask=inputs["attention_mask"].to(device))
        return t.logits.to(inputs["input_ids"].device)

    @torch.no_grad()
    def _teacher_hidden(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.teacher.parameters()).device
        hidden = last_hidden_states(self.teacher, {k: v.to(device) for k, v in inputs.items()})
        target = inputs["input_ids"].device
        if self._teacher_head is None:  # frozen: one copy on the student's device, kept
            self._teacher_head = head_weight(self.teacher).detach().to(target)
        return hidden.to(target), self._teacher_head

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


class RichProgressCallback(TrainerCallback):
    """One rich progress bar for training (steps, loss, learning rate, ETA), on the main process only,
    in place of transformers' tqdm bar and printed log dicts (``quiet_trainer``)."""

    def __init__(self, description: str = "training"):
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        from leancot.progress import progress_bar

        if not state.is_world_process_zero:
            return
        self._progress = progress_bar(self.description, status=True)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=state.max_steps, completed=state.global_step, status="")

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if self._progress is not None and logs and "loss" in logs:
            status = f"loss {float(logs['loss']):.4f}"
            if "learning_rate" in logs:
                status += f"  lr {float(logs['learning_rate']):.2e}"
            self._progress.update(self._task, status=status)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
            self._progress.stop()
            self._progress = None


class LogFileCallback(TrainerCallback):
    """Appends every log of the Trainer (loss, grad norm, learning rate, eval loss ...) to a JSONL file:
    the full log, kept in the output directory rather than printed. A resumed run appends."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": state.global_step, **logs}, default=float) + "\n")


def quiet_trainer(trainer: Trainer, log_file: Path) -> Trainer:
    """No tqdm bar and no printed dict per step: one rich bar, and every log line in ``log_file``."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(RichProgressCallback())
    trainer.add_callback(LogFileCallback(log_file))
    return trainer
