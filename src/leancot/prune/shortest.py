"""Shortest-correct selection (``--method shortest-correct``): of each problem's samples, keep the shortest correct one.

On-policy data for a student: sample it several times on training problems (``leancot eval --split
train --n 8 --temperature 0.7``), keep each problem's shortest correct sample and train on those. With
``--then first-answer`` the chosen sample is also cut where it first derives its answer (STOP/ECN's
setting: the student's own shortest correct path, up to its first answer).

The samples of a problem are the rows with the same question text (or the same ``--group-field``
value), wherever they stand in the input. :class:`ShortestCorrect` chooses, having seen the whole
input (the prune stage's first pass), before anything is pruned:

- only a *correct* sample can be chosen: the row's own ``correct`` when it has one (eval and
  generate grade what they write), else its answer graded against the gold with
  ``leancot.grading`` (``$14,400`` is ``14400``); a sample with no gold to grade against is not
  correct, nor is one with no final answer;
- the shortest by reasoning tokens, counted with the stage's ``--tokenizer`` (as ``tokens_before``);
- ties go to the lowest sample index (the row's ``sample``; rows without one after those with
  one), then to the first in the input.

Every sample is accounted for: the chosen one is pruned (kept whole, or by the ``--then`` pruner)
and verified like every path; each other one is a reject, ``incorrect`` or ``not_shortest``; when
none of a problem's samples is correct, each of them is a ``no_correct_sample`` reject. The choice
depends on the input alone, so a resumed run, or another shard of it, makes the same one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot.data import formats
from leancot.errors import UsageError
from leancot.prune.base import OfflinePruner, Pruned, Pruner, Sample
from leancot.prune.segment import decompose
from leancot.schema import Trace
from leancot.tokens import count_tokens

if TYPE_CHECKING:
    from leancot.prune.config import PruneConfig


class ShortestCorrectOptions(BaseModel):
    """Options of ``--method shortest-correct`` (flags ``--group-field``, ``--then``; ``stages.prune.shortest_correct`` in a recipe)."""

    model_config = ConfigDict(extra="forbid")
    FLAG_NAMES: ClassVar[dict[str, str]] = {}  # the flags are the field names

    group_field: str | None = Field(
        None, description="Input field whose value names a sample's problem (a dotted path; default: the question text)."
    )
    then: str | None = Field(
        None,
        description="A pruner for each chosen sample (first-answer: cut where it first derives its answer, STOP/ECN's setting; heuristic); default: keep it whole.",
    )

    @field_validator("then")
    @classmethod
    def _pruner_without_options(cls, v: str | None) -> str | None:
        from leancot.prune.registry import PRUNERS

        plain = [name for name, entry in PRUNERS.items() if entry.field is None]  # a pruner with options would need its own block
        if v is not None and v not in plain:
            raise ValueError(f"--then {v!r}: choose one of {', '.join(plain)}")
        return v

    def fingerprint_config(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass
class _Problem:
    """What the first pass keeps of one problem: counts, and its shortest correct sample so far."""

    samples: int = 0
    correct: int = 0
    rank: tuple[int, float, int] | None = None  # (reasoning tokens, sample index, input order) of the chosen one
    chosen: str | None = None  # its id


def is_correct(trace: Trace) -> bool:
    """Whether a sample may be chosen: graded correct, with a final answer to verify the path against."""
    return trace.correct is True and trace.answer is not None


class ShortestCorrect:
    """The choice (module docstring): one :class:`_Problem` per problem, so memory grows with problems, not samples."""

    def __init__(self, group_field: str | None, tokenizer: str):
        self.group_field, self.tokenizer = group_field, tokenizer
        self.problems: dict[str, _Problem] = {}
        self.chosen: dict[str, _Problem] = {}  # chosen sample id -> its problem

    def group(self, sample: Sample) -> str:
        """The problem a sample belongs to: its ``--group-field`` value, else its question."""
        if self.group_field is None:
            return sample.trace.question.strip()
        value = formats.id_of(sample.row, self.group_field)
        if value is None:
            raise UsageError(f"--group-field {self.group_field!r} is absent or empty in input row {sample.trace.id!r}")
        return value

    def choose(self, samples: Iterable[Sample]) -> None:
        for order, sample in enumerate(samples):
            problem = self.problems.setdefault(self.group(sample), _Problem())
            problem.samples += 1
            trace = sample.trace
            if not is_correct(trace):
                continue
            problem.correct += 1
            rank = (count_tokens(trace.reasoning, self.tokenizer), math.inf if trace.sample is None else trace.sample, order)
            if problem.rank is None or rank < problem.rank:
                problem.rank, problem.chosen = rank, trace.id
        self.chosen = {p.chosen: p for p in self.problems.values() if p.chosen is not None}

    def verdict(self, sample: Sample) -> tuple[str, str] | None:
        trace = sample.trace
        if trace.id in self.chosen:
            return None
        problem = self.problems.get(self.group(sample))
        if problem is None:  # only a row the first pass took for a duplicate id (in another shard) is unknown
            return ("no_correct_sample", "its problem was not among the rows of the first pass (a duplicate id?)")
        if problem.chosen is None:
            return ("no_correct_sample", f"none of the {problem.samples} samples of this problem is correct")
        if not is_correct(trace):
            graded = f"answer {trace.answer!r}, gold {trace.gold_answer!r}" if trace.gold_answer is not None else "no gold answer"
            return ("incorrect", graded)
        assert problem.rank is not None
        return ("not_shortest", f"{problem.chosen} was chosen ({problem.rank[0]} reasoning tokens; of {problem.correct} correct samples)")


class ShortestCorrectPruner(OfflinePruner):
    """``--method shortest-correct``: each problem's shortest correct sample, whole or pruned by ``then``."""

    name = "shortest-correct"
    processes = False  # the choice lives in this process, made over the whole input; the other samples are only rejected

    def __init__(self, options: ShortestCorrectOptions, *, tokenizer: str, then: Pruner | None = None):
        self.chooser = ShortestCorrect(options.group_field, tokenizer)
        self.then = then

    async def prune(self, trace: Trace) -> Pruned:
        problem = self.chooser.chosen[trace.id]
        extra = {"sample": trace.sample, "samples": problem.samples, "correct_samples": problem.correct}
        if self.then is None:
            steps = decompose(trace.reasoning, trace.question)  # every step kept
            return Pruned(steps, f"{trace.reasoning}\n\nThe answer is \\boxed{{{trace.answer}}}", self.name, extra=extra)
        pruned = await self.then.prune(trace)
        return replace(pruned, method=f"{self.name}+{pruned.method}", extra={**pruned.extra, **extra})


def make_pruner(config: PruneConfig) -> Pruner:
    """The registry's factory. It lives here, not in the registry, because it imports the registry (to build
    the ``--then`` pruner): the registry must not import this module back."""
    from leancot.prune import registry

    options = config.shortest_correct
    assert options is not None, "PruneConfig fills in the options of the chosen method"
    then = registry.make(options.then, config) if options.then else None
    return ShortestCorrectPruner(options, tokenizer=config.tokenizer, then=then)
