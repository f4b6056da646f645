"""A stage's records as training examples: one reader per stage, one set of rules for all.

Each reader turns a record into a ``Draft`` (id, question, reasoning, answer, the record's own
answer text, whether it is verified); ``example`` then applies ``--only-verified`` and
``--answer-style`` and says why a record is skipped when it cannot be a training example.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leancot import data, grading
from leancot.errors import UsageError
from leancot.schema import sample_id

#: The answer turn under ``--answer-style boxed``: the sentence ``leancot train`` appends and the grader reads.
BOXED = "The answer is \\boxed{{{}}}"


@dataclass(frozen=True)
class Example:
    """One training example: the user turn and the two parts of the assistant turn."""

    id: str
    question: str
    reasoning: str
    answer: str


@dataclass(frozen=True)
class Draft:
    """A record as the stage wrote it, before the export's rules."""

    id: str
    question: str
    reasoning: str
    answer: str | None  # the extracted answer (X of \boxed{X})
    final: str  # the record's own answer text (after </think>), "" when it has none
    verified: bool
    unverified: str  # the skip reason when not verified
    problem: str = ""  # a reason this record cannot be used at all ("" when it can)


def example(draft: Draft, *, only_verified: bool, answer_style: str) -> Example | str:
    """The training example of a record, or the reason it is skipped."""
    if draft.problem:
        return draft.problem
    if only_verified and not draft.verified:
        return draft.unverified
    if not draft.question.strip():
        return "no_question"
    if not draft.reasoning.strip():
        return "no_reasoning"
    if answer_style == "boxed":
        answer = BOXED.format(draft.answer) if draft.answer not in (None, "") else ""
    else:
        answer = draft.final.strip() or (draft.answer or "")
    if not answer:
        return "no_answer"
    return Example(draft.id, draft.question.strip(), draft.reasoning.strip(), answer)


# --------------------------------------------------------------------------- one reader per stage


def from_prune(row: dict[str, Any]) -> Draft:
    """A ``PrunedTrace``: the concise path is the reasoning."""
    return Draft(
        id=str(row["id"]), question=str(row.get("question") or ""), reasoning=str(row.get("pruned") or ""),
        answer=_text(row.get("answer")), final=str(row.get("final") or ""), verified=row.get("verified") is True,
        unverified="not_verified",
    )  # fmt: skip


def from_generate(row: dict[str, Any]) -> Draft:
    """A ``Trace``: its reasoning and its text after ``</think>``; verified = graded correct."""
    correct = row.get("correct")
    return Draft(
        id=str(row["id"]), question=str(row.get("question") or ""), reasoning=str(row.get("reasoning") or ""),
        answer=_text(row.get("answer")), final=str(row.get("final") or ""), verified=correct is True,
        unverified="ungraded" if correct is None else "not_correct",
    )  # fmt: skip


def eval_reader(manifest: dict[str, Any]) -> Callable[[dict[str, Any]], Draft]:
    """An ``EvalRecord`` reader: its output split at ``</think>``; the question from the benchmark it ran on."""
    config = manifest.get("config", {})
    questions = _questions(config.get("benchmarks") or [], config.get("split") or "test")

    def from_eval(row: dict[str, Any]) -> Draft:
        bench, problem_id = str(row["benchmark"]), str(row["problem_id"])
        reasoning, final, closed = grading.split_think(str(row.get("output") or ""))
        question = row.get("question") or questions.get(bench, {}).get(problem_id, "")  # older records hold none
        return Draft(
            id=sample_id(bench, problem_id, row.get("sample", 0)), question=question, reasoning=reasoning, answer=_text(row.get("answer")),
            final=final, verified=row.get("correct") is True, unverified="not_correct",
            problem="" if closed else "unclosed_think",
        )  # fmt: skip

    return from_eval


def _questions(benchmarks: list[str], split: str) -> dict[str, dict[str, str]]:
    """{benchmark name as the records spell it: {problem id: question}} of every benchmark the eval ran."""
    out: dict[str, dict[str, str]] = {}
    for name in benchmarks:
        bench = data.find_benchmark(name)
        key = bench.name if bench else Path(name).stem  # as leancot.evaluate.stage names it in the records
        try:
            problems = data.load(name, split=split)
        except UsageError as e:
            raise UsageError(f"export: the questions of {name} are needed and cannot be read: {e}") from None
        out[key] = {p.id: p.question for p in problems}
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------- reading


def drafts(directory: Path, manifest: dict[str, Any]) -> Iterator[Draft]:
    """Every record of a stage output, as a Draft, in file order."""
    stage = manifest["stage"]
    reader = {"prune": from_prune, "generate": from_generate}.get(stage) or eval_reader(manifest)
    path = directory / "records.jsonl"
    if not path.exists():
        raise UsageError(f"export: {directory} has no records.jsonl")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield reader(json.loads(line))
