"""``PruneConfig``: the settings of the prune stage (``leancot prune``); each pruner's options are its own model, nested here."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from leancot.config import StageConfig, parse_shard
from leancot.errors import UsageError
from leancot.io import MAX_LINE_BYTES, InputPath
from leancot.prune.perplexity import PerplexityOptions
from leancot.prune.shortest import ShortestCorrectOptions
from leancot.prune.step_entropy import StepEntropyOptions
from leancot.prune.teacher.config import TeacherConfig


class PruneConfig(StageConfig):
    """Settings of the prune stage (``leancot prune``)."""

    input: InputPath = Field(description="Traces: JSONL, JSON, CSV, Parquet or a saved datasets dir.")
    method: str = Field(
        "heuristic",
        description="Who prunes: a registered pruner (heuristic: offline DRP rules; first-answer: cut where the answer is first derived; shortest-correct: each problem's shortest correct sample; perplexity: drop the functional steps a scorer LM finds least needed; step-entropy: drop the candidate steps of lowest token entropy under a scorer LM; llm: a teacher LLM).",
    )
    teacher: TeacherConfig | None = Field(None, description="Options of method 'llm': the teacher (stages.prune.teacher in a recipe).")
    fallback: Literal["heuristic", "reject"] = Field(
        "heuristic", description="A trace the method cannot prune (the teacher's answers stay invalid): prune it offline, or reject it."
    )
    tokenizer: str = Field("smollm2-135m", description="Tokenizer that counts tokens (built-in name or local dir).")
    derivation_check: bool = Field(
        True,
        description="Check every path as a derivation of the answer (each number from the question or an earlier kept computation; nothing the trace retracted) and repair it from the original. Off only for ablations: the paths as the pruner made them.",
    )
    on_fail: Literal["reject", "keep"] = Field(
        "reject", description="A pruned path that fails verification: reject it, or keep the original unpruned."
    )
    require_correct: bool = Field(True, description="Reject traces whose own answer is not the gold (DRP distils only correct paths).")
    id_field: str | None = Field(
        None,
        description="Input field with the id (default: auto-detect, else the line number). Fields may be paths into nested data: messages.-2.content.",
    )
    question_field: str | None = Field(
        None, description="Input field with the question (default: the format's: a column, or the last user turn)."
    )
    completion_field: str | None = Field(
        None, description="Input field with the model's full text (default: the format's: a column, or the assistant turn)."
    )
    answer_field: str | None = Field(None, description="Input column with the gold answer (default: auto-detect; none is fine).")
    reasoning_field: str | None = Field(
        None, description="A separate reasoning column (default: reasoning_content if present); the completion is then the answer."
    )
    reasoning_delimiter: str | None = Field(
        None, description="Text that ends the reasoning, for models that use neither </think> nor the Stratos markers."
    )
    max_reasoning_tokens: int | None = Field(65536, ge=1, description="Longer reasoning is rejected as too_long before any pruning work.")
    limit: int | None = Field(None, ge=1, description="Prune only the first N input rows.")
    workers: int | None = Field(
        None,
        ge=1,
        description="Processes for an offline pruner (default: the cores available); the records are the same, in the same order.",
    )
    shard: tuple[int, int] | None = Field(
        None,
        description="i/N: prune only the i-th of N slices of the input (rows i, i+N, ...), for a cluster; join them with leancot merge.",
    )
    max_line_bytes: int = Field(MAX_LINE_BYTES, ge=1024, description="Longer input lines are rejected as line_too_long.")
    perplexity: PerplexityOptions | None = Field(
        None, description="Options of method 'perplexity' (stages.prune.perplexity in a recipe; flags --scorer, --ratio ...)."
    )
    step_entropy: StepEntropyOptions | None = Field(
        None, description="Options of method 'step-entropy' (stages.prune.step_entropy in a recipe; flags --scorer, --ratio ...)."
    )
    shortest_correct: ShortestCorrectOptions | None = Field(
        None, description="Options of method 'shortest-correct' (stages.prune.shortest_correct in a recipe; flags --group-field, --then)."
    )

    @field_validator("shard", mode="before")
    @classmethod
    def _parse_shard(cls, v: Any) -> Any:
        return parse_shard(v)

    def worker_count(self) -> int:
        return self.workers or len(os.sched_getaffinity(0))

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        from leancot.prune.registry import PRUNERS

        if v not in PRUNERS:
            raise ValueError(f"unknown method {v!r}; choose one of: {', '.join(PRUNERS)}")
        return v

    @model_validator(mode="after")
    def _options_of_the_method(self) -> PruneConfig:
        """The chosen pruner's options are its model's (filled in from the defaults); another pruner's are refused."""
        from leancot.prune.registry import PRUNERS

        for name, entry in PRUNERS.items():
            if entry.field is None:
                continue
            block = getattr(self, entry.field)
            if name != self.method and block is not None:
                raise UsageError(f"{entry.field} options are for --method {name}; this run's method is {self.method}")
            if name == self.method and block is None:
                try:
                    object.__setattr__(self, entry.field, entry.options_model()())  # type: ignore[misc]
                except ValidationError:
                    raise UsageError(entry.needs or f"--method {name} needs its options") from None
        return self

    not_fingerprinted: ClassVar[set[str]] = {"workers"}

    def fingerprint_config(self) -> dict[str, Any]:
        """The settings that change the output: the stage's, and exactly the chosen pruner's options
        (``fingerprint_config`` of its options model: the teacher's transport settings do not count)."""
        from leancot.prune.registry import PRUNERS

        config = super().fingerprint_config()
        for name, entry in PRUNERS.items():
            if entry.field is not None:
                block = config.pop(entry.field, None) and getattr(self, entry.field)
                if name == self.method and block is not None:
                    config[entry.field] = block.fingerprint_config()
        return config
