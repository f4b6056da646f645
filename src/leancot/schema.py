"""The record types every stage reads and writes.

Stages talk only through files of these records (see ``leancot.io``). Every record
is a pydantic model, so a malformed row fails at the boundary with a message that
names the field, not deep inside a stage.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["keep", "delete", "compress", "merge"]
ACTIONS: tuple[str, ...] = ("keep", "delete", "compress", "merge")


class Record(BaseModel):
    """Base for all records: unknown fields are kept, so user metadata survives a stage."""

    model_config = ConfigDict(extra="allow")


class Problem(Record):
    """A benchmark or user problem with its normalised gold answer."""

    id: str
    question: str
    gold_answer: str | None = None  # normalised by leancot.grading.normalize_answer
    source: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


class Trace(Record):
    """One model output for a problem: the full text, split at ``</think>``."""

    id: str
    problem_id: str = ""
    question: str
    completion: str  # the full model text
    reasoning: str  # the part before </think> (the whole text when there is none)
    final: str = ""  # the part after </think>
    answer: str | None = None  # extracted from the completion
    gold_answer: str | None = None
    correct: bool | None = None  # answer vs gold (or the row's own ``correct``), None when no gold is known
    sample: int | None = None  # which of a problem's samples (eval's and generate's records say), None when unknown
    model: str = ""
    usage: dict[str, Any] = Field(default_factory=dict)


class Step(Record):
    """One skill-labelled step of a reasoning trace and what the pruner did with it.

    ``skill`` is the discourse role from leancot's taxonomy (what the pruner and the skill × action
    table use); ``atomic_skill`` is DRP's open-ended atomic mathematical skill when the teacher gave one
    (``prompt_style: drp-paper``), so the paper's "token capture" / "token shift" figures can be drawn
    by atomic skill, as the paper draws them."""

    index: int
    text: str
    skill: str  # the discourse role the pruner acts on: a key of leancot.prune.skills.SKILLS
    action: Action = "keep"
    rewritten: str | None = None  # the shorter text for compress/merge, else None
    tokens: int | None = None  # tokens of ``text`` (the prune stage counts them once, so stats need not)
    tokens_kept: int | None = None  # tokens of what is left of it in the pruned path
    # DRP's open-ended atomic mathematical skill ("addition", "applying a formula"), as the teacher named it
    # (``--prompt-style drp-paper``); None when the teacher gave only a discourse role. Grouping steps by it
    # (tokens per action) draws the paper's "token capture" / "token shift" figures as the paper draws them.
    atomic_skill: str | None = None

    def kept_text(self) -> str:
        """What is left of this step: nothing if deleted, its rewrite if it has one, else the text.

        (A merged run keeps its merged line on the first step and "" on the others.)"""
        if self.action == "delete":
            return ""
        return self.text if self.rewritten is None else self.rewritten


class PrunedTrace(Record):
    """A trace after DRP pruning: the concise path and the per-step decisions."""

    id: str
    question: str
    gold_answer: str | None = None
    original: str  # the original reasoning
    pruned: str  # the concise reasoning, ending with "The answer is \\boxed{X}"
    steps: list[Step]
    answer: str | None
    tokens_before: int
    tokens_after: int
    verified: bool
    method: str  # "heuristic" or "llm:<model>"


def sample_id(benchmark: str, problem_id: str, sample: int) -> str:
    """The id of one eval sample, ``benchmark/problem_id/sample``: its record's ``id``, or its reject's."""
    return f"{benchmark}/{problem_id}/{sample}"


class EvalRecord(Record):
    """One graded model output on a benchmark problem.

    With its ``id`` and ``question`` it is also a trace: ``leancot prune`` reads an eval's
    records.jsonl (``output`` split at ``</think>``, ``gold`` the gold answer, ``correct`` as graded)."""

    benchmark: str
    problem_id: str
    sample: int = 0
    id: str = ""  # sample_id(benchmark, problem_id, sample), filled in when not given
    question: str = ""  # the prompt's question ("" in records written before it was kept)
    output: str
    answer: str | None
    gold: str | None
    correct: bool
    reasoning_tokens: int
    answer_tokens: int
    total_tokens: int
    finish_reason: str = ""

    @model_validator(mode="after")
    def _fill_id(self) -> EvalRecord:
        if not self.id:
            self.id = sample_id(self.benchmark, self.problem_id, self.sample)
        return self


class Reject(BaseModel):
    """An input that did not become a record, and why. Input = records + rejects."""

    id: str
    reason: str
    detail: str = ""
