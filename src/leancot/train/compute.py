"""Compute accounting for a training run: ``metrics.json`` and the loss plot ``loss.png``.

FLOPs are the usual dense-transformer estimate: 6 * N * T for the student (forward + backward
over T processed tokens, N parameters, LoRA or not: the backward pass still runs through the
frozen weights) plus 2 * N_teacher * T for a KD teacher's forward pass. T counts every token
fed to the model (padding excluded); loss-bearing tokens are reported beside it.

Peak memory: ``torch.cuda.max_memory_allocated`` on a GPU; on CPU the process's peak resident
set size (``resource.getrusage``: includes loading the models, so it bounds the step from above).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leancot.io import write_json_atomic

log = logging.getLogger(__name__)
COUNTERS = "leancot_counters.json"  # saved in each checkpoint so a resumed run keeps its totals


@dataclass
class Counters:
    """What the training steps actually processed (summed over micro-batches and processes)."""

    sequences: int = 0
    tokens: int = 0  # non-padding tokens fed to the student
    loss_tokens: int = 0  # positions that carried loss
    steps_seconds: float = 0.0  # wall time inside training (all invocations, for a resumed run)

    def save(self, directory: Path) -> None:
        write_json_atomic(Path(directory) / COUNTERS, asdict(self))

    @classmethod
    def load(cls, directory: Path | None) -> Counters:
        path = Path(directory) / COUNTERS if directory else None
        if path is None or not path.exists():
            return cls()
        return cls(**json.loads(path.read_text()))


def peak_memory_bytes() -> tuple[int, str]:
    """(peak bytes, how it was measured): CUDA allocator peak if a GPU is in use, else peak RSS."""
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return int(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated"
    except ImportError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "ru_maxrss (process peak RSS)"


@dataclass
class RunMetrics:
    """Everything ``metrics.json`` holds."""

    sequences: int
    trained_tokens: int
    loss_tokens: int
    student_params: int
    trainable_params: int
    teacher_params: int
    flops: float
    flops_student: float
    flops_teacher: float
    wall_seconds: float
    tokens_per_second: float
    peak_memory_bytes: int
    peak_memory_source: str
    optimizer_steps: int
    loss_first: float | None
    loss_last: float | None
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    # With validation: sequences, eval_steps, keep, kept_step (the step DIR/model holds), best_step /
    # best_eval_loss, last_step / last_eval_loss, curve [{step, eval_loss}]; None without.
    validation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_metrics(
    counters: Counters,
    *,
    student_params: int,
    trainable_params: int,
    teacher_params: int,
    log_history: list[dict[str, Any]],
    steps: int,
    validation: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> RunMetrics:
    """Combine the counters, parameter counts and the Trainer's log history into RunMetrics."""
    curve = [{"step": int(h["step"]), "loss": float(h["loss"])} for h in log_history if "loss" in h and "step" in h]
    f_student = 6.0 * student_params * counters.tokens
    f_teacher = 2.0 * teacher_params * counters.tokens
    peak, source = peak_memory_bytes()
    secs = counters.steps_seconds
    return RunMetrics(
        sequences=counters.sequences,
        trained_tokens=counters.tokens,
        loss_tokens=counters.loss_tokens,
        student_params=student_params,
        trainable_params=trainable_params,
        teacher_params=teacher_params,
        flops=f_student + f_teacher,
        flops_student=f_student,
        flops_teacher=f_teacher,
        wall_seconds=round(secs, 3),
        tokens_per_second=round(counters.tokens / secs, 2) if secs > 0 else 0.0,
        peak_memory_bytes=peak,
        peak_memory_source=source,
        optimizer_steps=steps,
        loss_first=curve[0]["loss"] if curve else None,
        loss_last=curve[-1]["loss"] if curve else None,
        loss_curve=curve,
        validation=validation,
        extra=extra or {},
    )


def write_metrics(out_dir: Path, metrics: RunMetrics) -> Path:
    """Write ``metrics.json`` and, with matplotlib installed, ``loss.png``."""
    path = Path(out_dir) / "metrics.json"
    write_json_atomic(path, asdict(metrics))
    plot_loss(metrics.loss_curve, Path(out_dir) / "loss.png")
    return path


def plot_loss(curve: list[dict[str, float]], path: Path) -> Path | None:
    """Training loss against optimizer step (nothing is written for an empty curve)."""
    if not curve:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no loss.png (pip install 'leancot[train]')")
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot([c["step"] for c in curve], [c["loss"] for c in curve], marker="." if len(curve) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
