"""Input rows to ``Trace`` records for the prune stage, in whatever format the user holds.

``TraceReader`` settles the format (``leancot.data.formats``: flat columns, OpenAI messages,
ShareGPT, Bespoke-Stratos / OpenThoughts, Alpaca) and the fields from the first readable row,
then turns each row into a ``Trace`` or a ``(reason, detail)`` reject: an unreadable line, a
defective conversation, a field that is not text, a trace over ``--max-reasoning-tokens``.
It counts the rows that had no reasoning delimiter (their whole text is taken as reasoning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leancot import grading
from leancot.data import formats
from leancot.io import RawRow
from leancot.schema import Trace

if TYPE_CHECKING:
    from leancot.prune.config import PruneConfig

Reject = tuple[str, str]


class TraceReader:
    """Reads the rows of one input; the format and fields are fixed by its first readable row."""

    def __init__(self, config: PruneConfig):
        self.config = config
        self.format: str | None = None
        self.spec = formats.FieldSpec(id=config.id_field, question=config.question_field, completion=config.completion_field,
                                      answer=config.answer_field, reasoning=config.reasoning_field)  # fmt: skip
        self.without_delimiter = 0  # rows whose whole text was taken as reasoning

    def _settle(self, data: dict[str, Any]) -> None:
        if self.format is None:
            self.format = formats.detect_format(data)
            self.spec = formats.resolve_fields(data, self.format, self.spec)  # a named field it lacks: UsageError

    def row_id(self, row: RawRow) -> str:
        """The row's id field, else its line number."""
        if row.data is None:
            return f"line-{row.line}"
        self._settle(row.data)
        return formats.id_of(row.data, self.spec.id) or f"line-{row.line}"

    def trace(self, row: RawRow, item_id: str) -> Trace | Reject:
        """The row as a Trace, or why it cannot be pruned."""
        if row.data is None:
            return (row.error or "unreadable", f"input line {row.line}")
        self._settle(row.data)
        got = formats.extract(row.data, self.format, self.spec, delimiter=self.config.reasoning_delimiter)
        if isinstance(got, formats.Reject):
            return (got.reason, f"input line {row.line}: {got.detail}" if got.detail else f"input line {row.line}")
        tokens = formats.check_length(got.reasoning, self.config.max_reasoning_tokens, self.config.tokenizer)
        if isinstance(tokens, formats.Reject):
            return tuple(tokens)
        if got.delimiter == "none":
            self.without_delimiter += 1
        gold = gold_answer(got.gold)
        sample = row.data.get("sample")
        return Trace(
            id=item_id, problem_id=str(row.data.get("problem_id") or row.data.get("source_problem") or ""),
            question=got.question, completion=got.completion, reasoning=got.reasoning, final=got.final, answer=got.answer,
            gold_answer=gold, correct=correctness(row.data, got.answer, gold),
            sample=sample if isinstance(sample, int) and not isinstance(sample, bool) else None, model=str(row.data.get("model") or ""),
        )  # fmt: skip


def correctness(row: dict[str, Any], answer: str | None, gold: str | None) -> bool | None:
    """The row's own ``correct`` when it has one (eval and generate grade what they write: a truncated
    output is wrong there even with the right number), else its answer graded against the gold."""
    if isinstance(row.get("correct"), bool):
        return row["correct"]
    return None if gold is None or answer is None else grading.is_equivalent(answer, gold)


def gold_answer(value: Any) -> str | None:
    """A gold field may hold a bare answer or a whole solution (GSM8K '#### 18', MATH '\\boxed{}')."""
    if value in (None, ""):
        return None
    text = str(value)
    if "####" in text or "\\boxed" in text:
        return grading.extract_answer(text, must_conclude=False)  # a solution may explain on after its answer
    return grading.normalize_answer(value)
