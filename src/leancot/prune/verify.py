"""Checks on a pruned reasoning path: is it a complete derivation of the answer, inventing nothing?

:func:`verify_path` is the one verification every pruner's path goes through (the prune stage
calls it): the derivation check of ``leancot.prune.derivation`` (every number a kept computation
uses was derived before it, the answer is derived, nothing the trace retracted is kept), with
the missing sentences put back when that makes the path complete, then :func:`check`:

- ``incomplete_derivation``: a computation the path keeps (or the answer) needs one it lacks, or
  it comes after the computation that uses it, and no repair can put it back;
- ``retracted_kept``: the path keeps a computation the trace itself took back;

- ``no_answer``: no answer can be extracted from the pruned text;
- ``answer_mismatch``: its answer is not equivalent to the original trace's answer;
- ``gold_mismatch``: its answer is not equivalent to the gold answer (only when given);
- ``invented_numbers``: it holds a number that is in none of the original reasoning,
  the question and the answer (the pruner may delete and shorten, never make up).

``check`` returns the rest (an empty list means verified):
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from leancot import grading, numbers
from leancot.prune import derivation
from leancot.schema import Step

# Integers (optionally with thousands separators) and decimals; a leading "." only
# when it is not part of an ellipsis or another number ("...484" is 484, not 0.484).
# Every branch starts with a character ([0-9.]), which lets the regex engine skip the
# other characters fast: so the lookbehind comes after the "." (1.5x faster than before it).
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d+(?:\.\d+)?|\.(?<![\d.]\.)\d+")


def normalise_number(token: str) -> str:
    """Canonical spelling of a number token: "1,000" -> "1000", "3.50" -> "3.5", "025" -> "25" (``leancot.numbers``)."""
    if token.isdigit() and token[0] != "0":
        return token  # the common case, fast
    return numbers.canonical(token)


def number_tokens(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every number in ``text`` as ``(normalised, parts)``; ``parts`` are the comma groups.

    "1,000" is ``("1000", ("1", "000"))``: a list written without spaces ("480,481")
    reads like a thousands separator, so callers may accept the parts instead.
    """
    return [_with_parts(tok) for tok in _NUMBER.findall(text)]


def _with_parts(tok: str) -> tuple[str, tuple[str, ...]]:
    parts = tuple(normalise_number(p) for p in tok.split(".")[0].split(",")) if "," in tok else ()
    return normalise_number(tok), parts


def numbers_in(text: str) -> set[str]:
    """The set of normalised numbers in ``text`` (signs ignored: "-3" holds "3")."""
    # set() first: a trace repeats its numbers many times, normalising each once is ~3x faster
    return {normalise_number(t) for t in set(_NUMBER.findall(text))}


def invented_numbers(pruned_text: str, source_text: str) -> list[str]:
    """Numbers of ``pruned_text`` found nowhere in ``source_text``, in order of appearance."""
    tokens = set(_NUMBER.findall(source_text))
    source = {normalise_number(t) for t in tokens}
    for tok in tokens:
        if "," in tok:
            source.update(_with_parts(tok)[1])
    missing = []
    for tok in _NUMBER.findall(pruned_text):
        value, parts = _with_parts(tok)
        if value in source or (parts and all(p in source for p in parts)):
            continue
        if value not in missing:
            missing.append(value)
    return missing


def check(
    pruned_text: str,
    *,
    original_answer: str | None,
    gold: str | None = None,
    original_text: str = "",
    question: str = "",
) -> list[str]:
    """The reasons ``pruned_text`` fails verification; ``[]`` means verified.

    ``original_answer`` is the answer of the trace that was pruned; ``gold`` (optional)
    the reference answer; ``original_text`` + ``question`` are where every number of
    the pruned text must come from (the original answer counts too).
    """
    failures = []
    answer = grading.extract_answer(pruned_text, must_conclude=False)  # a pruned path may check its answer after it
    if answer is None:
        failures.append("no_answer")
    else:
        if original_answer is None or not grading.is_equivalent(answer, original_answer):
            failures.append("answer_mismatch")
        if gold is not None and not grading.is_equivalent(answer, gold):
            failures.append("gold_mismatch")
    source = "\n".join((original_text, question, original_answer or ""))
    if invented_numbers(pruned_text, source):
        failures.append("invented_numbers")
    return failures


@dataclass
class Verdict:
    """What :func:`verify_path` found: the path (repaired when it could be) and its failures."""

    pruned: str
    steps: list[Step]
    failures: list[str] = field(default_factory=list)  # reject reasons; [] means verified
    detail: str = ""  # what the first failure is about, in words
    restored: list[int] = field(default_factory=list)  # sentences of the original put back
    derivation: dict[str, Any] = field(default_factory=dict)  # the derivation check, for the record

    @property
    def verified(self) -> bool:
        return not self.failures


def verify_path(
    pruned: str,
    steps: list[Step],
    *,
    reasoning: str,
    question: str,
    answer: str | None,
    gold: str | None = None,
    derivation_check: bool = True,
) -> Verdict:
    """Check ``pruned`` (made of ``steps`` of ``reasoning``) as a derivation of ``answer``, repairing
    it when putting back sentences of the original makes it complete (module docstring).

    ``derivation_check=False`` (an ablation) still reports the derivation check in ``derivation``
    but neither repairs nor fails the path on it."""
    graph = derivation.build(reasoning, question, answer)
    result = derivation.check_path(graph, pruned)
    restored: list[int] = []
    if not result.complete and derivation_check:
        repaired = derivation.repair(graph, pruned)
        if repaired is not None:
            pruned, restored = repaired
            steps = derivation.restore_steps(graph, steps, restored)
            result = derivation.check_path(graph, pruned)
    failures, detail = [], ""
    if not result.complete and derivation_check:
        detail = result.reason(graph)
        failures.append(detail.split(":", 1)[0])
    rest = check(pruned, original_answer=answer, gold=gold, original_text=reasoning, question=question)
    failures += rest
    if rest and not detail:
        detail = "; ".join(rest)
    summary = {**result.summary(), "needed": len(graph.needed), "restored": len(restored)}
    return Verdict(pruned, steps, failures, detail, restored, summary)
