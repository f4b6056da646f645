"""A verbose teacher: R1-style reasoning traces for the lab's arithmetic problems.

A trace is what a long-CoT reasoning model writes: ``<think>`` reasoning ``</think>`` then
``The answer is \\boxed{X}``. The reasoning restates the problem, hesitates ("Hmm, wait",
"Let me think"), plans aloud, sometimes starts an approach it abandons, sometimes writes a
wrong intermediate value and corrects it ("Wait, that's wrong. 4 * 6 = 24."), reaches the
answer, and then verifies it again and again. Every trace reaches the gold answer: each
computation the answer depends on is written correctly at least once, after any mistake.

It also writes, each with its probability (``TeacherStyle``), the situations that mislead a
pruner in real traces: a misreading stated as a question and dropped ("What if I read it as
5 + 4 = 9? No, ..."), and a misreading computed on, found out and taken back ("Hmm, that doesn't
make sense ... I see my mistake"), sometimes in the same sentence as a computation that stands;
the problems the lab draws bring the others (two quantities with one value, an answer equal to a
given: ``leancot.lab.problems.coincidence``).

The teacher knows the operations, so :func:`write_annotated` gives each trace its annotation
(:class:`Annotation`): the computations a faithful path needs and those it must not keep, in
the form of the hand-annotated trap set, which ``leancot.prune.annotations.complete`` reads.

The teacher never writes a concise trace: the real DRP pruner (``leancot.prune``) makes the
concise version from this one, as it would from a real model's trace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from leancot.lab.problems import OPS, LabProblem, Op, coincidence, given_numbers, learnable

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
    """How verbose the teacher is: probabilities per step and how often it re-verifies, and how
    often it writes each situation that misleads a pruner (``leancot.prune.derivation``)."""

    p_hesitate: float = 0.6  # a hesitation paragraph before a step
    p_plan: float = 1.0  # a planning sentence before a step
    p_mistake: float = 0.3  # a slip: a wrong value, then a self-correction, in a step
    p_detour: float = 0.25  # an abandoned approach before a multiplication
    p_aside: float = 0.15  # a misreading stated and dropped before a step ("What if I read it as 6 + 8 = 14? No, ...")
    p_retract: float = 0.2  # per trace: a misreading computed on, then taken back ("that doesn't make sense ... I see my mistake")
    # Shares of the problems the lab draws holding a coincidence (``problems.generate``): the
    # teacher writes what the problem holds, two quantities with one value or an answer equal to a given.
    p_shared_value: float = 0.1
    p_answer_equals_given: float = 0.1
    min_checks: int = 4  # verification passes after the answer is reached
    max_checks: int = 6


def equation(op: Op, result: int | None = None) -> str:
    """``4 * 6 = 24``: the one spelling of a computation in every trace (concise or not)."""
    return f"{op.left} {op.op} {op.right} = {op.result if result is None else result}"


@dataclass
class Annotation:
    """What a faithful concise path of a trace needs, as ``leancot.prune.annotations.complete`` reads it.

    ``required``: every computation of the answer's derivation, ``{"id", "expr", "after"}``, ``expr``
    exactly as the trace writes it, ``after`` the ids of those whose results it uses; ``retracted``:
    the computations the trace takes back (slips, a misreading computed on); ``asides``: those a path
    does not need (a misreading discussed and dropped, a detour, an inverse check); ``classes``:
    the situations the trace holds (``shared_value``, ``answer_equals_given``, ``slip``,
    ``retracted``, ``aside``, ``detour``), as the trap set names them."""

    required: list[dict[str, Any]] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)
    asides: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"required": self.required, "retracted": self.retracted, "asides": self.asides, "classes": self.classes}

    def tag(self, cls: str) -> None:
        if cls not in self.classes:
            self.classes.append(cls)


def write_trace(problem: LabProblem, seed: int = 0, style: TeacherStyle = TeacherStyle()) -> str:
    """The full completion for ``problem``: ``<think>...</think>`` and the boxed answer."""
    return write_annotated(problem, seed, style)[0]


def write_annotated(problem: LabProblem, seed: int = 0, style: TeacherStyle = TeacherStyle()) -> tuple[str, dict[str, Any]]:
    """The completion of :func:`write_trace` and its annotation (:class:`Annotation`, as a dict).

    The teacher knows the operations, so the annotation is exact: the required computations are
    the problem's operations in their one spelling (:func:`equation`), each after the one before."""
    r = random.Random(f"{seed}/{problem.id}/{problem.question}")
    note = Annotation(required=[{"id": f"op{k}", "expr": equation(op), "after": [f"op{k - 1}"] if k else []}
                                for k, op in enumerate(problem.ops)])  # fmt: skip
    kind = coincidence(problem.question, problem.ops)
    if kind:
        note.tag(kind)
    paras = [r.choice(OPENERS).format(q=_one_sentence(problem.question)), r.choice(HESITATIONS)]
    taken = {o.result for o in problem.ops} | given_numbers(problem.question)
    misread = _misreading(problem, r, taken) if style.p_retract and r.random() < style.p_retract else None
    for k, op in enumerate(problem.ops):
        if r.random() < style.p_hesitate and k:
            paras.append(r.choice(HESITATIONS))
        if r.random() < style.p_plan:
            paras.append(r.choice(PLANS).format(unit=op.unit or "numbers"))
        if k < len(problem.ops) - 1 and _detour_ok(problem, op) and r.random() < style.p_detour:
            paras.append(_detour(op, note))
        if style.p_aside and r.random() < style.p_aside:
            paras += _aside(op, r, taken, note)
        if misread is not None and misread[0] in (k, k + 1) and (misread[0] == k + 1 or k == 0):
            paras += _misread_passage(problem, misread, r, note)  # op k, when the misreading is the next one's, is in it
            if misread[0] == k + 1:
                continue
        paras.append(_compute(op, r, style, taken, note))
    paras.append(f"So that gives {problem.answer} {problem.unit}.".replace(" .", "."))
    for _ in range(r.randint(style.min_checks, style.max_checks)):
        paras.append(_verify(problem, r, note))
        if r.random() < 0.5:
            paras.append(r.choice(HESITATIONS))
    paras.append(r.choice(CLOSERS).format(a=problem.answer))
    reasoning = "\n\n".join(paras)
    return f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{{problem.answer}}}", note.record()


def _one_sentence(question: str) -> str:
    """``A. B. How many?`` -> ``A, then B, and how many?``: a restatement in one breath."""
    parts = [p for p in question.replace("? ", ". ").split(". ") if p]
    return ", and ".join(p[0].lower() + p[1:] if p.split(" ", 1)[0] in ("A", "The", "Then", "How", "Their") else p for p in parts)


def _compute(op: Op, r: random.Random, style: TeacherStyle, taken: set[int], note: Annotation) -> str:
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
    slip = r.choice(slips)
    taken.add(slip)
    note.retracted.append(equation(op, slip))
    note.tag("slip")
    wrong = text.replace(f"= {op.result} ", f"= {slip} ", 1)
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


def _detour(op: Op, note: Annotation) -> str:
    """An approach started and dropped: repeated addition instead of a multiplication."""
    x = min(op.left, op.right)
    note.asides += [f"{x} + {x} = {2 * x}", f"{2 * x} + {x} = {3 * x}"]
    note.tag("detour")
    return (
        f"Alternatively, maybe I could add it up one at a time: {x} + {x} = {2 * x}, and {2 * x} + {x} = {3 * x}..."
        " Hmm, that is too slow. Let me just multiply instead."
    )


# The other operation a misreading takes the clause for, and why the teacher drops it.
_MISREAD_OP = {"*": "+", "-": "+", "+": "-", "/": "-"}
_WHY_NOT = {
    "*": "it is {right} for each of the {left}, so I multiply",
    "-": "the {right} are taken away, so I subtract",
    "+": "the {right} are added, so I add",
    "/": "the {left} are shared into groups of {right}, so I divide",
}


def _aside(op: Op, r: random.Random, taken: set[int], note: Annotation) -> list[str]:
    """A misreading stated and dropped before the computation (the same numbers, another operation),
    when that operation is one the lab's student learns and its value is new; else nothing."""
    wrong = _op_or_none(op.left, _MISREAD_OP[op.op], op.right, taken)
    if wrong is None:
        return []
    taken.add(wrong.result)
    note.asides.append(equation(wrong))
    note.tag("aside")
    why = _WHY_NOT[op.op].format(left=op.left, right=op.right)
    opener = r.choice(("Hmm, what if I read it as", "Wait, could it mean", "What if I read it as"))
    return [f"{opener} {equation(wrong)}? No, {why}."]


def _op_or_none(left: int, sign: str, right: int, taken: set[int]) -> Op | None:
    """``left sign right`` as an Op when the lab's student could learn it (``learnable``) and its
    value is none of ``taken`` (a value of the problem, its solution or another aside)."""
    if sign == "/" and (right == 0 or left % right):
        return None
    op = Op(left, sign, right, OPS[sign](left, right), "")
    return op if learnable(op) and op.result not in taken else None


def _misreading(problem: LabProblem, r: random.Random, taken: set[int]) -> tuple[int, list[Op]] | None:
    """A misreading to compute on and take back: ``(k, ops)``, the k-th operation done with another
    digit for its given number, then the next one built on that wrong value where it can be.
    None when no operation has a misreading whose values are all new."""
    choices = []
    for k, op in enumerate(problem.ops):
        for digit in sorted(set(range(2, 10)) - taken):  # read as a digit the problem does not hold
            first = _op_or_none(op.left, op.op, digit, taken)
            if first is None:
                continue
            chain = [first]
            if k + 1 < len(problem.ops):
                nxt = problem.ops[k + 1]
                second = _op_or_none(first.result, nxt.op, nxt.right, taken | {first.result})
                if second is not None:
                    chain.append(second)
            choices.append((k, chain))
    if not choices:
        return None
    k, chain = r.choice(choices)
    taken |= {o.result for o in chain}
    return k, chain


def _misread_passage(problem: LabProblem, misread: tuple[int, list[Op]], r: random.Random, note: Annotation) -> list[str]:
    """A paragraph that computes on without a pause: the operation before the misread one done right
    (when there is one: it stands, and the answer needs it), then the misread ones, in one sentence or
    in several; then the doubt and the retraction. What a concise path keeps of it is the first
    computation alone."""
    k, chain = misread
    op, before = problem.ops[k], (problem.ops[k - 1] if k else None)
    wrong = [f"{equation(o)}{' ' + p.unit if p.unit else ''} {p.what}" for o, p in zip(chain, problem.ops[k:])]
    note.retracted += [equation(o) for o in chain]
    note.tag("retracted")
    if before is None:
        passage = f"So {wrong[0]}." + "".join(f" Then {w}." for w in wrong[1:])
    elif r.random() < 0.5:  # the standing computation and the misread one in one sentence
        passage = f"{_capital(_sentence(before))[:-1]}, and then {wrong[0]}." + "".join(f" Then {w}." for w in wrong[1:])
    else:
        passage = _capital(_sentence(before)) + "".join(f" Then {w}." for w in wrong)
    doubt = r.choice(("Hmm, that doesn't make sense.", "Wait, that can't be right."))
    stands = f" The {before.result} is right." if before is not None else ""
    return [
        passage,
        f"{doubt} Let me read the problem again: {op.quote}. I see my mistake, it is {op.right}, not {chain[0].right}.{stands}",
    ]


def _verify(problem: LabProblem, r: random.Random, note: Annotation) -> str:
    """A verification pass: every computation again, in order or undone backwards."""
    if r.random() < 0.5:
        body = ", and ".join(equation(op) for op in problem.ops)
    else:
        last = problem.ops[-1]
        inverse = {"+": "-", "-": "+", "*": "/", "/": "*"}[last.op]
        check = f"{last.result} {inverse} {last.right} = {last.left}"
        if check not in note.asides:
            note.asides.append(check)
        body = f"{check}, which matches {equation(last)}"
    return f"{r.choice(VERIFY_OPEN)} {body}. {r.choice(VERIFY_CLOSE)}"
