"""``StageConfig``: the settings every stage has, and what its fingerprint leaves out.

Each stage's config (``PruneConfig``, ``GenerateConfig``, ``TrainConfig``, ``EvalConfig``)
is a pydantic model derived from this one: typed, documented field by field, validated at
construction, unknown keys refused. The CLI's flags are made from these fields
(``leancot.flags``), and a recipe sets the same fields, so a setting lives in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class StageConfig(BaseModel):
    """Where a stage writes, and how a re-run treats what is there."""

    model_config = ConfigDict(extra="forbid")

    #: Fields that do not change the output (where it goes, how fast, how it is reached).
    not_fingerprinted: ClassVar[set[str]] = set()
    #: Fields shown in the CLI's "Run" panel, after the stage's own.
    RUN_FIELDS: ClassVar[tuple[str, ...]] = ("out", "overwrite", "allow_empty")

    out: Path = Field(description="Output directory (records.jsonl, rejects.jsonl, manifest.json).")
    overwrite: bool = Field(False, description="Discard an existing output directory instead of resuming it.")
    allow_empty: bool = Field(False, description="Accept an input with no rows (exit 0); otherwise that is an error.")

    def fingerprint_config(self) -> dict[str, Any]:
        """The settings that change the output (not where it goes, whether to overwrite, or transport)."""
        skip = {*self.RUN_FIELDS, "input", *self.not_fingerprinted}
        return self.model_dump(mode="json", exclude=skip)


class ProblemFields(BaseModel):
    """Which columns of a user's problem file hold what (a bundled benchmark knows its own).

    Mixed into the configs of the stages that read problems (``generate``, ``eval``), so that a file
    with a ``query`` column or an Excel CSV reads the same everywhere; unnamed fields are found by
    ``leancot.io.FIELD_ALIASES``."""

    question_field: str | None = Field(
        None, description="A problem file's question column (default: question, problem, prompt, query, input)."
    )
    answer_field: str | None = Field(
        None,
        description="A problem file's gold-answer column (default: gold_answer, gt_answer, answer, final_answer, ground_truth, solution).",
    )
    id_field: str | None = Field(
        None, description="A problem file's id column (default: id, uid, unique_id, problem_id, idx; else file stem + row)."
    )

    def field_kwargs(self) -> dict[str, str | None]:
        """The keyword arguments of ``leancot.data.load`` that name the fields."""
        return {"question_field": self.question_field, "answer_field": self.answer_field, "id_field": self.id_field}


def validation_message(e: ValidationError) -> str:
    """The first problem of an invalid config as ``key.path: what is wrong`` (one line)."""
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{where}: {msg}"


def parse_shard(value: Any) -> Any:
    """``"2/8"`` -> ``(2, 8)``: the i-th (0-based) of N deterministic slices; checked to be in range."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        i, sep, n = value.partition("/")
        if not sep or not i.strip().isdigit() or not n.strip().isdigit():
            raise ValueError(f"--shard takes i/N, e.g. 0/4 (got {value!r})")
        value = (int(i), int(n))
    i, n = value
    if not 0 <= i < n:
        raise ValueError(f"--shard {i}/{n}: i must be from 0 to {n - 1}")
    return (i, n)
