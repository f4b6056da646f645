"""Statistics of a prune output directory: counts, token reduction, skill × action table.

The skill × action table is DRP's "token capture" view: for each skill, how many
of its tokens the pruner kept verbatim, kept in a shorter rewrite, merged into a
neighbour, or deleted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import UsageError
from leancot.schema import ACTIONS
from leancot.tokens import count_tokens_batch


@dataclass
class Totals:
    """The totals of a prune run's records: the one sum that the stage's manifest, ``leancot stats``
    and the report show. Tolerant of a row that lacks a field (an older leancot, a damaged line)."""

    records: int = 0
    verified: int = 0
    complete: int = 0  # paths that are complete derivations (the stage's derivation check)
    repaired: int = 0  # of them, paths completed by putting sentences of the original back
    unchecked: int = 0  # records written by an older leancot, with no derivation check
    tokens_before: int = 0
    tokens_after: int = 0
    methods: Counter[str] = field(default_factory=Counter)  # which pruner made each record

    def add(self, r: dict[str, Any]) -> None:
        check = r.get("derivation")
        self.records += 1
        self.verified += bool(r.get("verified"))
        self.unchecked += not isinstance(check, dict)
        self.complete += isinstance(check, dict) and bool(check.get("complete"))
        self.repaired += bool(r.get("restored"))
        self.tokens_before += _count(r.get("tokens_before"))
        self.tokens_after += _count(r.get("tokens_after"))
        self.methods[str(r.get("method", "?"))] += 1


def totals(records: Iterable[dict[str, Any]]) -> Totals:
    """:class:`Totals` of ``records``, read one at a time."""
    t = Totals()
    for r in records:
        t.add(r)
    return t


def _count(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf") else 0


@dataclass
class PruneStats:
    """What ``leancot stats DIR`` shows."""

    records: int
    rejects: int
    verified: int
    tokens_before: int
    tokens_after: int
    reject_reasons: dict[str, int]
    skills: dict[str, dict[str, int]] = field(default_factory=dict)  # skill -> {action: tokens, "steps": n}
    methods: dict[str, int] = field(default_factory=dict)  # which pruner made the records: llm:<model>, heuristic:llm-fallback ...
    complete: int = 0  # records whose path is a complete derivation (the stage's derivation check)
    repaired: int = 0  # of them, paths the stage completed by putting sentences of the original back
    unchecked: int = 0  # records written by an older leancot, with no derivation check

    @property
    def reduction(self) -> float | None:
        """Fraction of tokens removed (0.6 = 60% fewer tokens)."""
        return 1 - self.tokens_after / self.tokens_before if self.tokens_before else None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "reduction": self.reduction, "input": self.records + self.rejects}


def load_stats(out_dir: str | Path, tokenizer: str | None = None) -> PruneStats:
    """Read a prune output directory and compute its statistics, one record at a time.

    Steps carry their token counts (the stage wrote them); only records from an older leancot
    without them are tokenised here."""
    out_dir = Path(out_dir)
    stage = (manifest.read(out_dir) or {}).get("stage", "prune")
    if stage != "prune":
        raise UsageError(f"stats: {out_dir} is a {stage} output, not a prune output")
    if not (out_dir / "records.jsonl").exists():
        raise UsageError(f"stats: {out_dir} is not a prune output directory (no records.jsonl)")
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*ACTIONS, "steps", "after"), 0))
    t = Totals()
    for r in _stream(out_dir / "records.jsonl"):
        if "tokens_before" not in r:
            raise UsageError(f"stats: {out_dir} does not hold prune records (no 'tokens_before')")
        t.add(r)
        _add_steps(table, r.get("steps", []), tokenizer)
    reasons = manifest.reject_reasons(_stream(out_dir / "rejects.jsonl"))
    return PruneStats(records=t.records, rejects=sum(reasons.values()), verified=t.verified, tokens_before=t.tokens_before,
                      tokens_after=t.tokens_after, reject_reasons=reasons, skills=_sorted_table(table), methods=dict(t.methods),
                      complete=t.complete, repaired=t.repaired, unchecked=t.unchecked)  # fmt: skip


def _stream(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        with open(path, encoding="utf-8") as f:
            yield from (json.loads(line) for line in f if line.strip())


def _add_steps(table: dict[str, dict[str, int]], steps: list[dict[str, Any]], tokenizer: str | None) -> None:
    if steps and any(step.get("tokens") is None for step in steps):  # written by an older leancot: count them now
        counts = count_tokens_batch([st["text"] for st in steps] + [_kept_text(st) for st in steps], tokenizer)
        steps = [dict(st, tokens=counts[i], tokens_kept=counts[len(steps) + i]) for i, st in enumerate(steps)]
    for step in steps:
        row = table[step["skill"]]
        row[step["action"]] += step["tokens"]
        row["steps"] += 1
        row["after"] += step["tokens_kept"]


def _sorted_table(table: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return dict(sorted(table.items(), key=lambda kv: -sum(kv[1][a] for a in ACTIONS)))


def skill_action_tokens(records: list[dict[str, Any]], tokenizer: str | None = None) -> dict[str, dict[str, int]]:
    """Tokens of the original steps per skill and action, plus 'steps' and 'after' (tokens left)."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*ACTIONS, "steps", "after"), 0))
    for r in records:
        _add_steps(table, r.get("steps", []), tokenizer)
    return _sorted_table(table)


def _kept_text(step: dict[str, Any]) -> str:
    if step["action"] == "delete":
        return ""
    # a merged run keeps its merged line on the first step and "" on the others
    rewritten = step.get("rewritten")
    return step["text"] if rewritten is None else rewritten


@dataclass
class AnswerPositions:
    """Where a trace set first derives its final answer (``leancot stats --answer-position``).

    ``positions`` are shares of each trace's reasoning (characters up to the end of the step
    that first derives the answer, ``leancot.prune.first_answer.first_derivation``); ``never``
    counts the traces in which no step derives it."""

    positions: list[float]
    never: int

    def summary(self) -> dict[str, Any]:
        p = sorted(self.positions)
        if not p:
            return {"traces": self.never, "derived": 0, "never": self.never}

        def q(f: float) -> float:
            return round(p[min(len(p) - 1, int(f * len(p)))], 4)

        return {
            "traces": len(p) + self.never,
            "derived": len(p),
            "never": self.never,
            "median": q(0.5),
            "q1": q(0.25),
            "q3": q(0.75),
            "min": round(p[0], 4),
            "max": round(p[-1], 4),
            "within_first_half": sum(x <= 0.5 for x in p),
            "histogram": [sum(k / 10 < x <= (k + 1) / 10 or (k == 0 and x == 0) for x in p) for k in range(10)],
        }


def answer_positions(source: str | Path, limit: int | None = None) -> AnswerPositions:
    """First-derivation positions over a prune output directory (its originals) or a traces file."""
    from leancot.prune.first_answer import answer_position

    source = Path(source)
    positions, never = [], 0
    for reasoning, answer, question in _traces_of(source, limit):
        at = answer_position(reasoning, answer, question)
        if at is None:
            never += 1
        else:
            positions.append(at)
    return AnswerPositions(positions, never)


def _traces_of(source: Path, limit: int | None) -> Iterator[tuple[str, str | None, str]]:
    if source.is_dir() and (source / "records.jsonl").exists():
        for n, r in enumerate(_stream(source / "records.jsonl")):
            if limit and n >= limit:
                return
            yield r["original"], r.get("answer"), r.get("question", "")
        return
    if not source.exists():
        raise UsageError(f"stats: {source} is neither a prune output directory nor a traces file")
    from leancot.io import iter_rows
    from leancot.prune.config import PruneConfig
    from leancot.prune.reader import TraceReader

    reader = TraceReader(PruneConfig(input=source, out=Path(".")))  # the prune stage's own reading of every format
    for n, row in enumerate(iter_rows(source)):
        if limit and n >= limit:
            return
        trace = reader.trace(row, reader.row_id(row))
        if not isinstance(trace, tuple):
            yield trace.reasoning, trace.answer, trace.question
