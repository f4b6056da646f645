"""The leakage guard: a recipe must not train on the questions it evaluates on.

``check(plan)`` runs before any work (``leancot run``, dry run included). It collects the
plan's training questions — the problems ``generate`` samples, or the questions of a trace or
training file that ``prune`` / ``train`` read directly (an eval's records too: sampling a model on
a train split makes training data, ``leancot.data.formats.EVAL_FIELDS``) — and the questions of every benchmark
the plan evaluates, and refuses (exit 2, one line) when

- ``generate`` reads a bundled benchmark's split that ``eval`` also evaluates (e.g. generating
  on math500 test and evaluating on math500), or
- training questions and evaluated questions overlap after normalisation
  (:func:`normalise_question`: case, Unicode form, spacing and punctuation ignored), which
  catches a user's own training file holding test problems.

Every bundled benchmark's test split is compared too (``overlap_bundled`` in the report), so a
run records that its training data is clean of benchmarks it does not evaluate today.
``allow_overlap`` (recipe key or ``--allow-overlap``) turns the refusal into a warning; the
report, with the override, goes to ``pipeline.json``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leancot import data, stages
from leancot.data import formats
from leancot.errors import UsageError
from leancot.io import FIELD_ALIASES, iter_rows

if TYPE_CHECKING:
    from leancot.pipeline import Plan

log = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[^0-9a-z]+")
_QUESTION_KEYS = FIELD_ALIASES["question"]


def normalise_question(text: str) -> str:
    """The text compared: NFKC, lower case, every run of non-alphanumerics one space."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@dataclass
class TrainingSource:
    """Where a plan's training questions come from."""

    label: str  # e.g. "generate: gsm8k train" or "prune input /data/stratos.jsonl"
    questions: set[str]
    benchmark_split: tuple[str, str] | None = None  # (bundled benchmark, split) read by generate


@dataclass
class Report:
    """What the guard found; ``as_dict`` is written to ``pipeline.json``."""

    allow_overlap: bool
    sources: list[TrainingSource] = field(default_factory=list)
    evaluated: dict[str, int] = field(default_factory=dict)  # benchmark -> questions evaluated
    overlap: dict[str, int] = field(default_factory=dict)  # evaluated benchmark -> training questions in it
    overlap_bundled: dict[str, int] = field(default_factory=dict)  # every bundled test split, evaluated or not
    not_checked: list[str] = field(default_factory=list)  # inputs that do not exist yet (a user file to provide)
    problems: list[str] = field(default_factory=list)  # the refusal reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "allow_overlap": self.allow_overlap, "refused_without_override": bool(self.problems), "reasons": self.problems,
            "training_sources": {s.label: len(s.questions) for s in self.sources}, "evaluated": self.evaluated,
            "overlap": self.overlap, "overlap_bundled_test": self.overlap_bundled, "not_checked": self.not_checked,
        }  # fmt: skip


def check(plan: Plan, *, allow_overlap: bool = False) -> Report:
    """Compare the plan's training and evaluation questions; raise UsageError on leakage unless allowed."""
    report = Report(allow_overlap=allow_overlap)
    report.sources = _training_sources(plan, report.not_checked)
    train_q = set().union(*(s.questions for s in report.sources)) if report.sources else set()
    evaluated = _evaluated(plan)
    for name, questions in evaluated.items():
        report.evaluated[name] = len(questions)
        report.overlap[name] = len(train_q & questions)
    for name in data.list_benchmarks():
        report.overlap_bundled[name] = len(train_q & _bundled_questions(name, "test"))
    for src in report.sources:
        if src.benchmark_split is not None:
            bench, split = src.benchmark_split
            for name, eval_split in _evaluated_splits(plan):
                if name == bench and eval_split == split:
                    report.problems.append(f"{src.label} is the {split} split that eval evaluates")
    for name, n in report.overlap.items():
        if n and not any(name == (s.benchmark_split or ("", ""))[0] for s in report.sources):
            report.problems.append(f"{n} training question(s) are also {name} questions that eval evaluates")
    if report.problems:
        message = f"{plan.recipe}: training data leaks into the evaluation: {'; '.join(report.problems)}"
        if not allow_overlap:
            raise UsageError(message + " (train on another split or file, or pass --allow-overlap)")
        log.warning("%s (allowed by allow_overlap)", message)
    return report


def _training_sources(plan: Plan, not_checked: list[str]) -> list[TrainingSource]:
    """The first data-bearing input of each chain (what each stage's declaration says it trains on): a
    stage's problems, else a file it reads that no earlier stage of the plan writes. A file in a later
    stage's directory (the records of an earlier ``leancot eval`` into the dir the recipe evaluates into)
    is training data like any other."""
    sources: dict[str, TrainingSource] = {}
    for k, step in enumerate(plan.steps):
        declared = stages.get(step.stage)
        found = declared.trains_on(step.config) if declared.trains_on else None
        earlier = [e.out for e in plan.steps[:k]]
        for source in found if isinstance(found, list) else [found]:  # a mixture trains on each of its inputs
            _add_source(sources, step.stage, source, earlier, not_checked)
    return list(sources.values())


def _add_source(sources: dict[str, TrainingSource], stage: str, source: Any, earlier: list[Path], not_checked: list[str]) -> None:
    """Record one thing a stage trains on (its problems or an input file) in ``sources``, by label."""
    if isinstance(source, stages.Problems):
        bench = data.find_benchmark(source.source)
        label = f"{stage}: {bench.name if bench else source.source} {source.split}"
        if label not in sources:
            problems = data.load(source.source, split=source.split, limit=source.limit, **source.fields)
            sources[label] = TrainingSource(label, {normalise_question(p.question) for p in problems},
                                            (bench.name, source.split) if bench else None)  # fmt: skip
    elif isinstance(source, stages.InputFile):
        path = source.path.absolute()
        if any(path.is_relative_to(d.absolute()) for d in earlier):
            return  # an earlier stage's output: its source is checked instead
        label = f"{stage} input {source.path}"
        if not path.exists():
            not_checked.append(str(source.path))
        elif label not in sources:
            sources[label] = TrainingSource(label, file_questions(path))


def file_questions(path: Path) -> set[str]:
    """The normalised questions of a trace or training file, in any input format leancot reads."""
    questions: set[str] = set()
    fmt = spec = None
    for row in iter_rows(path):
        if row.data is None:
            continue
        if fmt is None:
            fmt = formats.detect_format(row.data)
            try:
                spec = formats.resolve_fields(row.data, fmt)
            except UsageError:  # training records (question, pruned, answer), not traces: the question column
                spec = None
        got = formats.extract(row.data, fmt, spec) if spec is not None else None
        text = got.question if isinstance(got, formats.Extracted) else _question_column(row.data)
        if text:
            questions.add(normalise_question(text))
    return questions


def _question_column(row: dict[str, Any]) -> str | None:
    for key in _QUESTION_KEYS:
        if isinstance(row.get(key), str):
            return row[key]
    return None


def _evaluations(plan: Plan) -> list[stages.Problems]:
    """Every problem set the plan's steps evaluate (as their declarations say), sweep repeats included."""
    out = []
    for step in plan.steps:
        declared = stages.get(step.stage)
        if declared.evaluates is not None:
            out += declared.evaluates(step.config)
    return out


def _evaluated_splits(plan: Plan) -> set[tuple[str, str]]:
    """(benchmark, split) of every evaluation (one per sweep variant: the same pairs repeat)."""
    pairs = set()
    for p in _evaluations(plan):
        bench = data.find_benchmark(p.source)
        pairs.add((bench.name if bench else str(p.source), p.split))
    return pairs


def _evaluated(plan: Plan) -> dict[str, set[str]]:
    """Benchmark (or file) -> the normalised questions the plan evaluates."""
    out: dict[str, set[str]] = {}
    for p in _evaluations(plan):
        bench = data.find_benchmark(p.source)
        name = bench.name if bench else str(p.source)
        if bench is not None:
            out.setdefault(name, set()).update(_bundled_questions(name, p.split))
        elif Path(p.source).exists():
            out.setdefault(name, set()).update(normalise_question(q.question) for q in data.load(p.source, **p.fields))
    return out


@cache
def _bundled_questions(name: str, split: str) -> frozenset[str]:
    bench = data.find_benchmark(name)
    if bench is None or split not in bench.splits:
        return frozenset()
    return frozenset(normalise_question(p.question) for p in data.load(name, split=split))
