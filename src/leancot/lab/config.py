"""``LabConfig``: the settings of ``leancot lab`` (its flags are made from them), with the size presets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot.errors import UsageError
from leancot.lab.arms import DEFAULT_ARMS

#: Presets of ``--size``; a field given explicitly in the config wins over its preset.
SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_problems": 300, "test_problems": 100, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
    "full": {"train_problems": 1000, "test_problems": 200, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
}
#: Presets of a pretrained ``--student`` (LoRA fine-tuning instead of training from scratch), sized
#: for SmolLM2-135M on 2 CPU cores (``benchmarks/lab_pretrained.py``); ``size`` picks one as above.
PRETRAINED_SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_problems": 48, "test_problems": 40, "epochs": 1.0, "batch_size": 4, "lr": 1e-3, "max_length": 704},
    "full": {"train_problems": 240, "test_problems": 100, "epochs": 1.0, "batch_size": 4, "lr": 1e-3, "max_length": 704},
}
#: The default three students: which reasoning they are trained on, and the length policy
#: (``--arms`` chooses others: ``leancot.lab.arms``).
ARMS: dict[str, dict[str, Any]] = {
    "verbose": {"data": "verbose", "policy": "lsp", "lsp": 1.0},
    "pruned": {"data": "pruned", "policy": "lsp", "lsp": 1.0},
    "lsp": {"data": "verbose", "policy": "lsp-cot", "lsp": 0.5},
}


class LabConfig(BaseModel):
    """Settings of ``leancot lab``; ``None`` takes the value of the ``size`` preset."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(
        Path("lab"), description="Output directory (problems, traces, prune, data, seed*/<student>/{train,eval}, lab_summary.json)."
    )
    size: Literal["small", "full"] = Field(
        "full", description="Preset: small (a few minutes, used by `leancot demo`) or full (the targets)."
    )
    arms: list[str] = Field(
        list(DEFAULT_ARMS),
        description="Students to compare: verbose, a pruner (heuristic, first-answer, perplexity, step-entropy, ...; pruned = heuristic), <pruner>-unchecked, lsp:X, lsp-cot:X (lsp = lsp-cot at --lsp), self-shortest:k and self-first-answer:k (the verbose student on its own shortest correct samples), mix:<pruner>:W.",
    )
    seeds: list[int] = Field([0, 1], description="Seeds of the students (weights, data order); the problems are fixed by data_seed.")
    data_seed: int = Field(0, description="Seed of the problems and of the teacher's phrasing.")
    train_problems: int | None = Field(None, ge=1, description="Training problems (before pruning rejects).")
    test_problems: int | None = Field(None, ge=1, description="Held-out problems for evaluation.")
    layers: int | None = Field(None, ge=1, description="Student depth (a Llama with the lab's own BPE vocabulary).")
    hidden: int | None = Field(None, ge=8, description="Student width.")
    epochs: float | None = Field(None, gt=0, description="Training epochs (the same for every student, as in DRP).")
    batch_size: int | None = Field(None, ge=1, description="Sequences per optimizer step.")
    vocab_size: int | None = Field(None, ge=300, description="Most tokens of the students' BPE (trained on the teacher's traces).")
    student: str | None = Field(
        None,
        description="A pretrained student to fine-tune with LoRA (e.g. smollm2-135m, or a model dir) instead of small ones trained from scratch; its tokenizer counts the tokens.",
    )
    max_length: int | None = Field(
        None, ge=16, description="Cut training sequences at this many tokens (default: none from scratch, the preset's with --student)."
    )
    lr: float | None = Field(
        None,
        gt=0,
        description="Peak learning rate (default 1e-3: from scratch with warm-up and cosine decay; LoRA on a pretrained student likewise).",
    )
    warmup: float = Field(0.05, ge=0, description="Warm-up: a fraction of the steps if < 1, else steps.")
    lsp: float = Field(0.5, gt=0, le=1, description="Lead-span proportion of the reasoning kept for the lsp student.")
    self_temperature: float = Field(
        0.7, gt=0, description="Sampling temperature of the self-sampling arms (self-shortest:k, self-first-answer:k)."
    )
    scorer: str | None = Field(
        None,
        description="Scorer model of the perplexity and step-entropy arms (default: --student, else a lab student trained on every verbose trace).",
    )
    max_new_tokens: int | None = Field(None, ge=8, description="Generation budget (default: the longest verbose trace + 64).")
    eval_batch_size: int = Field(64, ge=1, description="Prompts per generate batch.")
    sample_batch_size: int = Field(
        256, ge=1, description="Prompts per generate batch when the self-sampling arms sample the verbose student (k per problem)."
    )
    workers: int = Field(2, ge=1, description="Seeds trained at once, each in its own process (2 suits 2 cores; 1: one after another).")
    threads: int | None = Field(
        1, ge=1, description="Torch threads for training and evaluation (1 is fastest on busy shared cores; None: torch's choice)."
    )
    overwrite: bool = Field(False, description="Redo every stage instead of resuming.")

    @field_validator("seeds", mode="before")
    @classmethod
    def _split_seeds(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = [int(s) for s in v.split(",") if s.strip()]
            except ValueError:
                raise UsageError(f"--seeds takes comma-separated integers, got {v!r}") from None
        if not v:
            raise UsageError("--seeds needs at least one seed")
        return v

    @field_validator("arms", mode="before")
    @classmethod
    def _split_arms(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [a.strip() for a in v.split(",") if a.strip()]
        if not v:
            raise UsageError("--arms needs at least one arm")
        return v

    def fingerprint_config(self) -> dict[str, Any]:
        """What the lab's problems, traces and students depend on. The arms and seeds only choose
        which students run (each train and eval run fingerprints itself), so a re-run over the same
        ``out`` may add an arm or a seed; how many processes and threads only changes the speed."""
        speed = {"arms", "seeds", "workers", "threads", "eval_batch_size", "sample_batch_size", "overwrite", "out"}
        return {k: v for k, v in self.resolved().items() if k not in speed}

    def resolved(self) -> dict[str, Any]:
        """Every setting with the size preset filled in."""
        values = self.model_dump(mode="json")
        presets = PRETRAINED_SIZES[self.size] if self.student else {**SIZES[self.size], "lr": 1e-3}
        for key, preset in presets.items():
            if values[key] is None:
                values[key] = preset
        if self.student:  # the pretrained student's own architecture and vocabulary
            for key in ("layers", "hidden", "vocab_size"):
                values[key] = None
        return values
