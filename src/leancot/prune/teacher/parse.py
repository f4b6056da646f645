"""Reading the teacher's JSON answers, tolerantly, and validating them strictly.

Tolerant: a server without structured output may wrap the JSON in a code fence, put a
sentence or a ``<think>`` block before it, or add text after it; ``extract_json`` finds
the first JSON object that decodes. Strict: what the object says must hold up —

- a segmentation's steps must copy the reasoning verbatim and in order, covering at
  least ``MIN_COVERAGE`` of its non-space characters (``--segment-output text``), or name
  sentence units by number, every unit in exactly one step, in order (``units``, the default);
- a compression must give one of DRP's four actions to every step, and a synthesised
  path that ends with "The answer is ...".

Every failure raises ``ParseError`` with a message written to be fed back to the
teacher in the retry. The model's text is only ever parsed as JSON, never evaluated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from leancot import grading
from leancot.prune.skills import SKILLS, label
from leancot.schema import Step

MIN_COVERAGE = 0.98
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_SPACE = re.compile(r"\s+")
_DECODER = json.JSONDecoder()

# DRP's action names (and the spellings teachers use) -> Step.action
ACTIONS = {
    "keep": "keep",
    "delete": "delete", "remove": "delete", "drop": "delete",
    "single-step compress": "compress", "single step compress": "compress", "compress": "compress",
    "single-step compression": "compress", "single_step_compress": "compress",
    "multi-step compress": "merge", "multi step compress": "merge", "merge": "merge",
    "multi-step compression": "merge", "multi_step_compress": "merge",
}


class ParseError(ValueError):
    """A teacher answer that cannot be used; the message says why, for the retry."""


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (after any ``</think>``, inside a fence or not)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        start = cand.find("{")
        while start >= 0:
            try:
                obj, _ = _DECODER.raw_decode(cand, start)
            except json.JSONDecodeError:
                start = cand.find("{", start + 1)
                continue
            if isinstance(obj, dict):
                return obj
            start = cand.find("{", start + 1)
    raise ParseError("the answer holds no JSON object")


def coverage(step_texts: list[str], reasoning: str) -> float:
    """Share of ``reasoning``'s non-space characters that the steps copy verbatim, in order.

    Each step (spaces removed) is looked for after the end of the previous match; a step
    that is not a verbatim copy covers nothing.
    """
    source = _SPACE.sub("", reasoning)
    if not source:
        return 1.0
    pos = covered = 0
    for text in step_texts:
        piece = _SPACE.sub("", text)
        if not piece:
            continue
        found = source.find(piece, pos)
        if found >= 0:
            covered += len(piece)
            pos = found + len(piece)
    return covered / len(source)


def normalise_skill(skill: Any, text: str, position: float, question: str) -> str:
    """The taxonomy name of a teacher's skill label; an unknown label is relabelled offline."""
    name = _SPACE.sub("_", str(skill or "").strip().lower()).replace("-", "_")
    return name if name in SKILLS else label(text, position=position, question=question)


def parse_segmentation(answer: str, reasoning: str, question: str = "") -> list[Step]:
    """Steps of a segmentation answer; raises ParseError unless they cover the reasoning."""
    obj = extract_json(answer)
    raw = obj.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ParseError('the JSON must have a non-empty "steps" list')
    texts = []
    for i, item in enumerate(raw, start=1):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ParseError(f'step {i} has no "text" string')
        texts.append(text.strip())
    cov = coverage(texts, reasoning)
    if cov < MIN_COVERAGE:
        raise ParseError(f"the steps copy only {cov:.1%} of the trace's text; every step must be copied verbatim "
                         f"and together they must reproduce the whole trace in order")
    n = len(texts)
    return [Step(index=i, text=t, skill=normalise_skill(raw[i].get("skill"), t, i / max(n - 1, 1), question))
            for i, t in enumerate(texts)]


def parse_unit_segmentation(answer: str, reasoning: str, spans: list[tuple[int, int]], question: str = "") -> list[Step]:
    """Steps of a segmentation by unit ids; raises ParseError unless every unit is in exactly
    one step and the steps run in order (coverage is then exact by construction).

    A step is given by its first unit (``{"start": 4}``: it runs to the next step's start), or
    as the list of its units (``{"units": [4, 5, 6]}``), which must then be consecutive."""
    obj = extract_json(answer)
    raw = obj.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ParseError('the JSON must have a non-empty "steps" list')
    starts = [_step_start(item, i, len(spans)) for i, item in enumerate(raw, start=1)]
    if starts[0] != 1:
        raise ParseError(f"the first step starts at unit {starts[0]}; it must start at unit 1")
    for i in range(1, len(starts)):
        if starts[i] <= starts[i - 1]:
            raise ParseError(f"step {i + 1} starts at unit {starts[i]}, not after step {i} (unit {starts[i - 1]}): "
                             "every step must start after the one before it")
    _check_listed_units(raw, starts, len(spans))
    ends = [*(s - 1 for s in starts[1:]), len(spans)]
    n = len(starts)
    texts = [reasoning[spans[a - 1][0]:spans[b - 1][1]].strip() for a, b in zip(starts, ends)]  # the original text, whitespace kept
    return [Step(index=i, text=t, skill=normalise_skill(raw[i].get("skill"), t, i / max(n - 1, 1), question))
            for i, t in enumerate(texts)]


def _step_start(item: Any, i: int, n_units: int) -> int:
    if not isinstance(item, dict):
        raise ParseError(f'step {i} must be an object with "start" and "skill"')
    start = item.get("start")
    if start is None and isinstance(item.get("units"), list) and item["units"]:
        start = item["units"][0]
    if not isinstance(start, int) or isinstance(start, bool):
        raise ParseError(f'step {i} needs "start": the number of its first unit')
    if not 1 <= start <= n_units:
        raise ParseError(f"step {i} starts at unit {start}, but the units are numbered 1 to {n_units}")
    return start


def _check_listed_units(raw: list[Any], starts: list[int], n_units: int) -> None:
    """Steps given as unit lists must list exactly the units from their start to the next step's."""
    ends = [*(s - 1 for s in starts[1:]), n_units]
    for i, (item, a, b) in enumerate(zip(raw, starts, ends), start=1):
        units = item.get("units") if "start" not in item else None
        if units is not None and units != list(range(a, b + 1)):
            raise ParseError(f"step {i} lists units {units}; a step must take consecutive units, from {a} to {b}")


def parse_compression(answer: str, steps: list[Step], original_answer: str | None) -> tuple[list[Step], str]:
    """``(steps with actions, pruned path)`` of a compression answer; raises ParseError."""
    obj = extract_json(answer)
    actions = obj.get("actions")
    pruned = obj.get("pruned")
    if not isinstance(actions, list):
        raise ParseError('the JSON must have an "actions" list with one entry per step')
    if not isinstance(pruned, str) or not pruned.strip():
        raise ParseError('the JSON must have the synthesised path as a "pruned" string')
    by_step = _actions_by_step(actions, len(steps))
    out = [Step(index=s.index, text=s.text, skill=s.skill, action=by_step[i][0], rewritten=by_step[i][1])
           for i, s in enumerate(steps)]
    pruned = pruned.strip()
    _check_ending(pruned, original_answer)
    return out, pruned


def _actions_by_step(actions: list[Any], n_steps: int) -> dict[int, tuple[str, str | None]]:
    by_step: dict[int, tuple[str, str | None]] = {}
    for pos, item in enumerate(actions):
        if not isinstance(item, dict):
            raise ParseError(f"action entry {pos + 1} is not an object")
        number = item.get("step", pos + 1)
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= n_steps:
            raise ParseError(f"action entry {pos + 1} names step {number!r}; steps are numbered 1 to {n_steps}")
        name = _SPACE.sub(" ", str(item.get("action", "")).strip().lower()).replace("_", " ")
        action = ACTIONS.get(name) or ACTIONS.get(name.replace(" ", "-", 1))
        if action is None:
            raise ParseError(f"step {number} has action {item.get('action')!r}; use KEEP, DELETE, "
                             f"SINGLE-STEP COMPRESS or MULTI-STEP COMPRESS")
        rewritten = item.get("rewritten")
        rewritten = rewritten if isinstance(rewritten, str) and action in ("compress", "merge") else None
        by_step[number - 1] = (action, rewritten)
    missing = [i + 1 for i in range(n_steps) if i not in by_step]
    if missing:
        raise ParseError(f"no action for step(s) {', '.join(map(str, missing[:20]))}; give one action per step")
    return by_step


def _check_ending(pruned: str, original_answer: str | None) -> None:
    """The path must end with its answer: "The answer is ..." in its last lines, equal to the original's."""
    tail = pruned[-400:]
    if "answer is" not in tail.lower() and "\\boxed" not in tail:
        raise ParseError('the synthesised path must end with "The answer is \\boxed{ANSWER}."')
    found = grading.extract_answer(tail)
    if found is None:
        raise ParseError('the synthesised path must end with "The answer is \\boxed{ANSWER}."')
    if original_answer is not None and not grading.is_equivalent(found, original_answer):
        raise ParseError(f"the synthesised path ends with the answer {found}, but the original trace's answer "
                         f"is {original_answer}; keep the steps that reach it")
