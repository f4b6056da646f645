"""First-answer pruning: cut the reasoning where its final answer is first derived.

Long-CoT models reach their answer and keep going (re-verifying it, trying a second method).
Cutting at the earliest correct answer (STOP/ECN, Self-Braking Tuning) keeps the derivation
and drops the rest. ``first_derivation`` finds the step where the trace's final answer is
first *derived*:

- the step states the answer as a result (``= 90``, ``is 90``, ``gives 90``) and states no
  other result after it, in a step that computes, consolidates or applies a formula (not a
  hesitation, restatement, plan or check);
- it is not a guess (``maybe it's 90?``, ``I guess the answer is 90``);
- no later self-correction changes it: when a self-correction after the candidate states
  another value and the answer is derived again after it, the later derivation counts.

``FirstAnswerPruner`` keeps what that derivation depends on, as the heuristic pruner does
(number tracking back from the cut), verbatim, drops everything else (and everything after
the cut) and closes with ``The answer is \\boxed{X}``.
"""

from __future__ import annotations

import re

from leancot.prune import derivation
from leancot.prune.base import OfflinePruner, Pruned, Rejected
from leancot.prune.heuristic import _RESULT_CONTEXT, _answer_forms, _canon, _concludes, _is_plain, prune
from leancot.prune.segment import decompose, step_offsets
from leancot.schema import Step, Trace

_DERIVING = {
    "computation",
    "formula_application",
    "result_consolidation",
    "case_analysis",
    "fact_retrieval",
    "self_correction",
    "final_answer",
}
_GUESS = re.compile(
    r"\b(?:maybe|perhaps|probably|i guess|guess(?:ing)?|might be|could be|possibly|suppose|assume|if)\b"
    r"|\?\s*$",
    re.I,
)
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def _states(step: Step, forms: list[str], numeric: bool) -> bool:
    """Whether ``step`` states the answer (one of ``forms``) as a result and concludes with it."""
    if step.skill not in _DERIVING or _GUESS.search(step.text):
        return False
    text = step.text if numeric else _canon(step.text)
    for form in forms:
        pattern = re.compile(
            r"(?<![\d.,])" + re.escape(form) + (r"(?![\d]|[.,]\d)(?!\s*(?:[-–+*/×^]|\\times|\\cdot)\s*\d)" if numeric else "")
        )
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - 12) : m.start()]
            if (not numeric or _RESULT_CONTEXT.search(before)) and (not numeric or _concludes(text, m.end(), forms)):
                return True
    return False


def _changes(step: Step, forms: list[str]) -> bool:
    """A self-correction that states a value other than the answer (``Wait, that's wrong: 48``)."""
    return step.skill == "self_correction" and any(n not in forms for n in _NUMBER.findall(step.text))


def first_derivation(steps: list[Step], answer: str | None) -> int | None:
    """Index of the step where ``answer`` is first derived and stays (see the module docstring)."""
    if not answer:
        return None
    forms = _answer_forms(answer)
    numeric = all(_is_plain(f) for f in forms)
    candidates = [i for i, s in enumerate(steps) if _states(s, forms, numeric)]
    if not candidates:
        return None
    root = candidates[0]
    for j in range(root + 1, len(steps)):
        if _changes(steps[j], forms):
            later = next((k for k in candidates if k > j), None)
            if later is None:
                break  # nothing re-derives it after the correction: the correction was elsewhere
            root = later
    return root


def cut_step(reasoning: str, steps: list[Step], answer: str | None, question: str = "") -> int | None:
    """The step where the path ends: the one that derives the answer last among the distinct derivations
    the derivation graph finds (``leancot.prune.derivation``), else :func:`first_derivation`."""
    graph = derivation.build(reasoning, question, answer)
    root = graph.root_sentence
    if root is None:
        return first_derivation(steps, answer)
    start = graph.sentences[root].start
    bounds = step_offsets(reasoning, steps)
    return next((i for i, (a, b) in enumerate(bounds) if a <= start < b), first_derivation(steps, answer))


def answer_position(reasoning: str, answer: str | None, question: str = "", steps: list[Step] | None = None) -> float | None:
    """Where the answer is derived, as the share of ``reasoning``'s characters up to the end of that step
    (None when it never is)."""
    steps = decompose(reasoning, question) if steps is None else steps
    root = cut_step(reasoning, steps, answer, question)
    if root is None or not reasoning:
        return None
    return step_offsets(reasoning, steps)[root][1] / len(reasoning)


def prune_first_answer(reasoning: str, answer: str | None, question: str = "") -> tuple[list[Step], str, float]:
    """``(steps, pruned path, cut position)``: the derivation up to the answer, verbatim.

    Raises ``Rejected("no_first_answer")`` when the trace never derives its answer."""
    steps = decompose(reasoning, question)
    root = cut_step(reasoning, steps, answer, question)
    if root is None:
        raise Rejected("no_first_answer", f"no step derives the answer {answer!r}")
    out, pruned = prune(steps, answer, question, root=root, compress=False, reasoning=reasoning)
    return out, pruned, step_offsets(reasoning, steps)[root][1] / max(len(reasoning), 1)


class FirstAnswerPruner(OfflinePruner):
    """``--method first-answer``: cut at the first derivation of the final answer."""

    name = "first-answer"

    async def prune(self, trace: Trace) -> Pruned:
        steps, pruned, cut = prune_first_answer(trace.reasoning, trace.answer, trace.question)
        return Pruned(steps, pruned, "first-answer", extra={"cut_at": round(cut, 4)})
