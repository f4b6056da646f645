"""A verbose teacher: R1-style reasoning traces for the lab's arithmetic problems.

A trace is what a long-CoT reasoning model writes: ``<think>`` reasoning ``</think>`` then
``The answer is \\boxed{X}``. The reasoning restates the problem, hesitates ("Hmm, wait",
"Let me think"), plans aloud, sometimes starts an approach it abandons, sometimes writes a
wrong intermediate value and corrects it ("Wait, that's wrong. 4 * 6 = 24."), reaches the
answer, and then verifies it again and again. Every trace reaches the gold answer: each
computation the answer depends on is written correctly at least once, after any mistake.

The teacher never writes a concise trace: the real DRP pruner (``leancot.prune``) makes the
concise version from this one, as it would from a real model's trace.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from leancot.lab.problems import LabProblem, Op

# The restatement is one sentence (the question's sentences joined), as a model paraphrases it.
OPENERS = (
    "Okay, so the problem says that {q}",
    "Alright, the problem is: {q}",
    "Okay, the problem says: {q}",
    "Let me see. The problem says that {q}",
)
HESITATIONS = (
    "Hmm, let me think.",
    "Hmm, wait.",
    "Let me think about this.",
    "Hmm, okay.",
    "Wait, let me see.",
    "Hmm, is that right?",
    "Let me think again.",
)
PLANS = (
    "Let me start with this part.",
    "I need to work this out step by step.",
    "Now I should do the next step.",
    "What do I need next?",
    "Let me figure out the {unit} first.",
)
CORRECTIONS = ("Wait, that's wrong.", "No wait, I made a mistake.", "Hmm, that's not right.", "Oops, I miscalculated.")
VERIFY_OPEN = (
    "Let me double-check that.",
    "Wait, let me verify this.",
    "Let me check again to be sure.",
    "Let me recompute everything to be sure.",
)
VERIFY_CLOSE = ("Yes, that's right.", "That checks out.", "Okay, that seems correct.", "Good, it is consistent.")
LEADS = ("Okay, ", "", "", "Now, ", "Alright, ")
CLOSERS = ("So the answer is {a}.", "So the final answer should be {a}.", "I'm confident the answer is {a}.")


@dataclass(frozen=True)
class TeacherStyle:
    """How verbose the teacher is: probabilities per step and how often it re-verifies."""

    p_hesitate: float = 0.6  # a hesitation paragraph before a step
    p_plan: float = 1.0  # a planning sentence before a step
    p_mistake: float = 0.3  # a wrong value, then a self-correction, in a step
    p_detour: float = 0.25  # an abandoned approach before a multiplication
    min_checks: int = 4  # verification passes after the answer is reached
    max_checks: int = 6


def equation(op: Op, result: int | None = None) -> str:
    """``4 * 6 = 24``: the one spelling of a computation in every trace (concise or not)."""
    return f"{op.left} {op.op} {op.right} = {op.result if result is None else result}"


def write_trace(problem: LabProblem, seed: int = 0, style: TeacherStyle = TeacherStyle()) -> str:
    """The full completion for ``problem``: ``<think>...</think>`` and the boxed answer."""
    r = random.Random(f"{seed}/{problem.id}/{problem.question}")
    paras = [r.choice(OPENERS).format(q=_one_sentence(problem.question)), r.choice(HESITATIONS)]
    taken = {o.result for o in problem.ops} | {int(t) for t in re.findall(r"\d+", problem.question)}
    for k, op in enumerate(problem.ops):
        if r.random() < style.p_hesitate and k:
            paras.append(r.choice(HESITATIONS))
        if r.random() < style.p_plan:
            paras.append(r.choice(PLANS).format(unit=op.unit or "numbers"))
        if k < len(problem.ops) - 1 and _detour_ok(problem, op) and r.random() < style.p_detour:
            paras.append(_detour(op))
        paras.append(_compute(op, r, style, taken))
    paras.append(f"So that gives {problem.answer} {problem.unit}.".replace(" .", "."))
    for _ in range(r.randint(style.min_checks, style.max_checks)):
        paras.append(_verify(problem, r))
        if r.random() < 0.5:
            paras.append(r.choice(HESITATIONS))
    paras.append(r.choice(CLOSERS).format(a=problem.answer))
    reasoning = "\n\n".join(paras)
    return f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{{problem.answer}}}"


def _one_sentence(question: str) -> str:
    """``A. B. How many?`` -> ``A, then B, and how many?``: a restatement in one breath."""
    parts = [p for p in question.replace("? ", ". ").split(". ") if p]
    return ", and ".join(p[0].lower() + p[1:] if p.split(" ", 1)[0] in ("A", "The", "Then", "How", "Their") else p for p in parts)


def _compute(op: Op, r: random.Random, style: TeacherStyle, taken: set[int]) -> str:
    """One computation paragraph, possibly with a mistake that the next paragraph corrects.

    A computation quotes the clause of the question its numbers come from, then computes
    (``Ann saves 7 dollars a week for 7 weeks, so 7 * 7 = 49 dollars saved.``), always
    spelled the same way once the pruner has removed the filler in front: the verbosity is in
    what surrounds the computations.
    """
    lead = r.choice(LEADS)
    text = f"{lead}{_sentence(op)}" if lead else _capital(_sentence(op))
    if r.random() >= style.p_mistake:
        return text
    # a slip by a little, never onto a value the problem or its solution holds (that would read as right)
    slips = [op.result + d for d in ((1, 2, 10, -1, -2) if op.result > 12 else (1, 2)) if op.result + d not in taken]
    if not slips:
        return text
    wrong = text.replace(f"= {op.result} ", f"= {r.choice(slips)} ", 1)
    return f"{wrong}\n\n{r.choice(CORRECTIONS)} {_capital(_sentence(op))}"


def _sentence(op: Op) -> str:
    unit = f" {op.unit}" if op.unit else ""
    body = f"{equation(op)}{unit} {op.what}."
    return f"{op.quote}, so {body}" if op.quote else f"so {body}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _detour_ok(problem: LabProblem, op: Op) -> bool:
    """A detour only where its partial sums collide with no value of the solution."""
    x, times = min(op.left, op.right), max(op.left, op.right)
    return op.op == "*" and times >= 4 and not {x, 2 * x, 3 * x} & {o.result for o in problem.ops}


def _detour(op: Op) -> str:
    """An approach started and dropped: repeated addition instead of a multiplication."""
    x = min(op.left, op.right)
    return (
        f"Alternatively, maybe I could add it up one at a time: {x} + {x} = {2 * x}, and {2 * x} + {x} = {3 * x}..."
        " Hmm, that is too slow. Let me just multiply instead."
    )


def _verify(problem: LabProblem, r: random.Random) -> str:
    """A verification pass: every computation again, in order or undone backwards."""
    if r.random() < 0.5:
        body = ", and ".join(equation(op) for op in problem.ops)
    else:
        last = problem.ops[-1]
        inverse = {"+": "-", "-": "+", "*": "/", "/": "*"}[last.op]
        body = f"{last.result} {inverse} {last.right} = {last.left}, which matches {equation(last)}"
    return f"{r.choice(VERIFY_OPEN)} {body}. {r.choice(VERIFY_CLOSE)}"
