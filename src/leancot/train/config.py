"""``TrainConfig``: every setting of ``leancot train``, typed, documented and validated.

Students (``student``): the built-in ``smollm2-135m``; ``smollm2-135m:layers=<k>`` (the built-in
with only k of its 30 layers kept, evenly spaced: a smaller student the full model can teach on
CPU); ``tiny:<n_layer>x<hidden>`` (a random Llama with the SmolLM2 tokenizer, for tests and the
miniature lab); or a local checkpoint directory. Teachers take the same forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from leancot import models
from leancot.config import StageConfig
from leancot.errors import UsageError
from leancot.io import InputPath

if TYPE_CHECKING:
    from leancot.train.mixture import Source

Section = Literal["prompt", "cot", "answer"]
Policy = Literal["lsp", "lsp-cot", "drop", "cut", "none"]
LengthFilter = Literal["cut", "drop"]
ThinkClose = Literal["answer", "cot"]
# KD divergences between the teacher's P and the student's Q (both at temperature T), per position, in nats:
#   forward_kl   KL(P||Q) = sum p log(p/q)                       mode-covering, the classic KD
#   reverse_kl   KL(Q||P) = sum q log(q/p)                       mode-seeking
#   jsd          beta KL(P||M) + (1-beta) KL(Q||M), M = beta P + (1-beta) Q   (jsd_beta)
#   tvd          1/2 sum |p - q|                                 total variation
#   skew_kl      KL(P || a P + (1-a) Q)                          DistiLLM's skew KL (skew_alpha)
#   srkl         KL(Q || a Q + (1-a) P)                          DistiLLM's skew reverse KL (skew_alpha); Essence's srkl
#   combined_kl  r KL(P||Q) + (1-r) KL(Q||P)                     Essence's combined_kl (kd_forward_ratio); Essence's
#                forward term is the cross-entropy -sum p log q, r H(P) higher, same gradient
#   tvd_log      1/2 sum |log p - log q|                         TVD on log-probabilities: Essence's tvd with tvd_log_scale
KDKind = Literal["forward_kl", "reverse_kl", "jsd", "tvd", "skew_kl", "srkl", "combined_kl", "tvd_log"]


class TrainConfig(StageConfig):
    """Settings of the train stage (``leancot train``)."""

    not_fingerprinted: ClassVar[set[str]] = {"teacher_device"}

    # --- data
    input: list[str] = Field(
        description="Training records: a prune records.jsonl or a stage's output dir, any JSONL/JSON/CSV/Parquet of question/reasoning/answer, or chat `messages`. Several, each PATH[:WEIGHT] (runs/pruned:0.5 runs/verbose:0.5), make a mixture drawn anew every epoch (weights on all or none: equal)."
    )
    out: Path = Field(
        description="Output dir: model/ (merged, loadable), checkpoints/, metrics.json, loss.png, preflight.json, rejects.jsonl, manifest.json."
    )
    reasoning_field: str | None = Field(
        None,
        description="Record field holding the reasoning to train on (e.g. pruned, original, reasoning). Default: the first of pruned, reasoning, original present.",
    )
    loss_on: list[Section] = Field(
        ["cot", "answer"],
        description="Sections that carry the loss: a non-empty subset of prompt, cot, answer, or an Essence section_inclusion name: promptcotAns, cotAns, ans, promptAns, cot, promptCot (those count </think> as cot: pair them with --think-close cot).",
    )
    think_close: ThinkClose = Field(
        "answer",
        description="Which section the </think> closing tag counts as for the loss: answer (default) or cot (the Essence collator). Truncation keeps it either way under lsp-cot.",
    )
    policy: Policy = Field(
        "lsp",
        description="Length policy: lsp (the first int(L*X) tokens of each sequence, the paper), lsp-cot (truncate only the chain of thought, keep the answer), cut / drop (sequences over max_length), none.",
    )
    lsp: float = Field(
        1.0, gt=0.0, le=1.0, description="Lead-span proportion X for lsp / lsp-cot: the share of tokens kept (1.0 keeps all)."
    )
    max_length: int | None = Field(
        None,
        ge=8,
        description="Hard cap on sequence length in tokens (None: no cap). lsp/lsp-cot/cut cut to it, drop skips longer sequences.",
    )
    length_filter: LengthFilter = Field(
        "cut",
        description="How lsp / lsp-cot apply --max-length: cut (truncate by the policy, then cut at max_length) or drop (first skip every sequence over max_length, then truncate the rest: the Essence code's drop over 4k, then LSP).",
    )
    limit: int | None = Field(
        None, ge=1, description="Use only the first N input rows (before the validation split, as LLaMA-Factory's max_samples)."
    )
    train_limit: int | None = Field(
        None,
        ge=1,
        description="Train on at most N sequences: the first N left after the validation split (Essence: n_train 8000 after n_val 1000 are set aside).",
    )
    mix_one_per_question: bool = Field(
        True,
        description="With several inputs: each epoch trains on one version of a question (an epoch is as many sequences as there are distinct questions); off: the inputs are drawn independently (an epoch is their sequences summed).",
    )
    # --- validation
    val_fraction: float | None = Field(
        None,
        gt=0.0,
        description="Validation split of the trainable sequences: a fraction if < 1, else a number of rows; seeded by --seed, chosen as datasets' train_test_split(test_size, seed) chooses (Essence: 1000, DRP: 0.05).",
    )
    val_file: InputPath | None = Field(
        None,
        description="Validation records in any training input format (instead of --val-fraction); the same rendering, policy and masks apply.",
    )
    eval_every: float = Field(
        0.1,
        gt=0.0,
        description="With validation: the evaluation loss (cross-entropy only, no KD term) every this fraction of an epoch if < 1, else every this many optimizer steps, and after the last step (Essence: 0.1; DRP: 300 steps).",
    )
    keep: Literal["best", "last"] = Field(
        "last",
        description="Which model DIR/model holds: last (after the last step) or best (the lowest validation loss; needs validation; checkpoints are then saved at every evaluation).",
    )
    # --- models
    student: str = Field(
        "smollm2-135m", description="Student: smollm2-135m, smollm2-135m:layers=<k>, tiny:<n_layer>x<hidden>, or a local checkpoint dir."
    )
    teacher: str | None = Field(None, description="KD teacher (same forms as student; must share the student's tokenizer). None: SFT only.")
    teacher_device: str | None = Field(None, description="Device for the teacher, e.g. cuda:1 (default: the student's device).")
    lora: bool = Field(True, description="Train LoRA adapters (merged into the saved model) instead of all weights.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    lora_targets: str = Field(
        "all-linear",
        description="PEFT target_modules: 'all-linear' (every linear layer but the output head) or a comma-separated list of module names.",
    )
    # --- loss
    kd: KDKind = Field(
        "forward_kl",
        description="KD divergence between teacher P and student Q: forward_kl KL(P||Q), reverse_kl KL(Q||P), jsd (generalised JSD(beta)), tvd 1/2 sum|p-q|, skew_kl KL(P||aP+(1-a)Q), srkl KL(Q||aQ+(1-a)P), combined_kl r KL(P||Q)+(1-r) KL(Q||P), tvd_log 1/2 sum|log p - log q|.",
    )
    kd_ratio: float = Field(0.5, ge=0.0, le=1.0, description="Mix: loss = (1 - kd_ratio) * CE + kd_ratio * KD (only with a teacher).")
    temperature: float = Field(1.0, gt=0.0, description="KD softmax temperature; the KD term is scaled by T^2.")
    jsd_beta: float = Field(
        0.5, gt=0.0, lt=1.0, description="beta of JSD(beta): beta*KL(P||M) + (1-beta)*KL(Q||M), M = beta*P + (1-beta)*Q."
    )
    skew_alpha: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="alpha of skew_kl KL(P || alpha*P + (1-alpha)*Q) and of srkl KL(Q || alpha*Q + (1-alpha)*P) (Essence: skl_alpha 0.1).",
    )
    kd_forward_ratio: float = Field(
        0.5, gt=0.0, lt=1.0, description="r of combined_kl: r*KL(P||Q) + (1-r)*KL(Q||P) (Essence: forward_ratio 0.5)."
    )
    fused_loss: bool = Field(
        True,
        description="Compute CE and KD from the last hidden states and output layers chunk by chunk, never building full logits (full logits instead for a head with a bias, softcapping or LoRA, and under FSDP / ZeRO-3).",
    )
    kd_chunk_tokens: int | None = Field(
        None, ge=1, description="Positions per KD chunk (default: ~4M logits per chunk, e.g. 85 positions at vocab 49,152)."
    )
    # --- optimisation
    epochs: float = Field(3.0, gt=0.0, description="Training epochs (DRP: 3).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    lr: float = Field(2e-4, gt=0.0, description="Peak learning rate (DRP's LoRA recipe uses 3e-5 on a 7B model; small students like more).")
    batch_size: int = Field(4, ge=1, description="Sequences per device per micro-batch.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    warmup: float = Field(0.03, ge=0.0, description="Warm-up: a fraction of the steps if < 1, else a number of steps.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0.0, description="Clip the gradient norm to this (0 disables clipping; DRP and Essence: 1.0).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass (less memory, ~30% more time).")
    precision: Literal["auto", "bf16", "fp32"] = Field("auto", description="auto: bf16 where the GPU supports it, else fp32.")
    save_steps: int = Field(50, ge=1, description="Save a checkpoint every N optimizer steps (resume starts from the last one).")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept on disk.")
    seed: int = Field(0, description="Seed for data order, LoRA init and tiny students.")

    @field_validator("input", mode="before")
    @classmethod
    def _input_list(cls, v: Any) -> Any:
        return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] if isinstance(v, (str, Path)) else v

    @field_validator("input")
    @classmethod
    def _input_sources(cls, v: list[str]) -> list[str]:
        from leancot.train.mixture import parse_sources

        # Every path there, weights on all or none, all positive. Two the same are refused when the run
        # starts (``sources``): a recipe validates inputs not written yet as one stand-in path.
        parse_sources(v, distinct=False)
        return v

    @field_validator("loss_on", mode="before")
    @classmethod
    def _split_sections(cls, v: Any) -> Any:
        from leancot.train.data import loss_sections

        if not isinstance(v, (str, list, tuple, set)):
            return v
        try:
            return loss_sections(v)
        except ValueError as e:
            raise UsageError(f"--loss-on: {e}") from None

    @field_validator("student", "teacher")
    @classmethod
    def _model_spec(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = models.LAYERS.match(v)
        if m and int(m.group(2)) < 1:
            raise UsageError(f"{v}: layers must be >= 1")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.policy in ("drop", "cut") and self.max_length is None:
            raise UsageError(f"--policy {self.policy} needs --max-length")
        if self.lsp < 1.0 and self.policy not in ("lsp", "lsp-cot"):
            raise UsageError(f"--lsp {self.lsp} needs --policy lsp or lsp-cot (got {self.policy})")
        if self.policy == "none" and self.max_length is not None:
            raise UsageError("--policy none keeps every sequence whole; drop --max-length or pick cut/drop/lsp")
        if self.length_filter == "drop" and (self.policy not in ("lsp", "lsp-cot") or self.max_length is None):
            raise UsageError(f"--length-filter drop composes with --policy lsp or lsp-cot and needs --max-length (got --policy {self.policy}"
                             f"{', no --max-length' if self.max_length is None else ''}; --policy drop alone drops long sequences)")  # fmt: skip
        if self.val_fraction is not None and self.val_file is not None:
            raise UsageError("give --val-fraction or --val-file, not both")
        if self.val_fraction is not None and self.val_fraction >= 1 and self.val_fraction != int(self.val_fraction):
            raise UsageError(f"--val-fraction {self.val_fraction}: a fraction below 1 or a whole number of rows")
        if self.eval_every >= 1 and self.eval_every != int(self.eval_every):
            raise UsageError(f"--eval-every {self.eval_every}: a fraction of an epoch below 1 or a whole number of steps")
        if self.keep == "best" and not self.validates:
            raise UsageError("--keep best needs validation: --val-fraction or --val-file")
        return self

    @property
    def sources(self) -> list[Source]:
        """The inputs, parsed: the file each reads and its share of an epoch (``leancot.train.mixture``)."""
        from leancot.train.mixture import parse_sources

        return parse_sources(self.input)

    @property
    def mixes(self) -> bool:
        """Whether there are several inputs to mix."""
        return len(self.input) > 1

    def fingerprint_config(self) -> dict[str, Any]:
        """A mixture's inputs and weights count (their contents are the stage's inputs); one input's do not."""
        config = super().fingerprint_config()
        if not self.mixes:
            config.pop("mix_one_per_question")  # a setting of mixtures: one input's fingerprint stays as it was
            return config
        return config | {"mix": [{"input": str(s.path), "weight": round(s.weight, 12)} for s in self.sources]}

    @property
    def validates(self) -> bool:
        return self.val_fraction is not None or self.val_file is not None

    @property
    def kd_enabled(self) -> bool:
        return self.teacher is not None and self.kd_ratio > 0
