"""Procedurally generated multi-step arithmetic word problems with gold answers.

Every problem is a short story (shopping, rates, sharing, ages, savings, garden, baking)
whose answer takes 2-3 operations. Every number of a question is a digit 2-9 (a teenager's
age aside) and every operation is one a two-layer transformer trained from scratch for a
minute can learn as a small table: a digit times a digit, a two-digit number plus or minus a
digit with no carry or borrow, a two-digit number shared by a digit into a digit. With
two-digit operands and carries such a student copies the numbers and lays out every step
right but gets most sums wrong by one or ten, which hides the differences the lab is there
to show. The operations are recorded with the problem so the
teacher can write a trace that follows them.

Generation is a pure function of the seed: ``generate(n, seed)`` always returns the same
problems, and problems of different seeds are different draws (the lab keeps train and
held-out problems disjoint by question text).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

NAMES = ("Tom", "Ann", "Ben", "Mia", "Sam", "Lea", "Max", "Eva", "Leo", "Zoe", "Dan", "Amy")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a // b}


@dataclass(frozen=True)
class Op:
    """One step of a solution: ``left op right = result``, with what the result is (``what``)."""

    left: int
    op: str
    right: int
    result: int
    what: str  # "in total", "left" ...: what the result is, after its unit ("24 dollars in total")
    unit: str = ""
    quote: str = ""  # the clause of the question that gives this step's new numbers (a substring of it)


@dataclass(frozen=True)
class LabProblem:
    """A generated problem: its question, its gold answer and the operations that reach it."""

    id: str
    template: str
    question: str
    answer: int
    ops: tuple[Op, ...] = field(default_factory=tuple)
    unit: str = ""

    def record(self) -> dict[str, object]:
        """The problem as a ``{id, question, answer}`` row (what ``leancot.data.load`` reads)."""
        return {"id": self.id, "question": self.question, "answer": str(self.answer)}


def _op(left: int, op: str, right: int, what: str, unit: str = "", quote: str = "") -> Op:
    return Op(left, op, right, OPS[op](left, right), what, unit, quote)


# --------------------------------------------------------------------------- templates
# Each template draws its numbers from ``r`` and returns (question, ops, unit), or None when
# the draw breaks a constraint (the caller draws again).

Drawn = tuple[str, list[Op], str] | None


def _digit(r: random.Random) -> int:
    return r.randint(2, 9)


def _shopping(r: random.Random, name: str) -> Drawn:
    item, thing = r.choice([("pen", "bag"), ("book", "lamp"), ("cup", "tray"), ("ball", "net"), ("shirt", "hat")])
    a, b, c = _digit(r), _digit(r), _digit(r)
    q1, q2 = f"{name} buys {a} {item}s at {b} dollars each", f"a {thing} for {c} dollars"
    ops = [_op(a, "*", b, f"for the {item}s", "dollars", q1), _op(a * b, "+", c, "in total", "dollars", q2)]
    q = f"{q1} and {q2}."
    if r.random() < 0.5:
        return q + f" How much does {name} spend?", ops, "dollars"
    d = _digit(r)
    q3 = f"{name} has a coupon for {d} dollars off"
    ops.append(_op(a * b + c, "-", d, "to pay", "dollars", q3))
    return q + f" {q3}. How much does {name} pay?", ops, "dollars"


def _rates(r: random.Random, name: str) -> Drawn:
    a, b, c = _digit(r), _digit(r), _digit(r)
    q1, q2 = f"A machine makes {a} toys per hour", f"It runs for {b} hours"
    q3 = f"{c} toys are sold"
    ops = [_op(a, "*", b, "made", "toys", q2), _op(a * b, "-", c, "left", "toys", q3)]
    q = f"{q1}. {q2}. Then {q3}."
    if r.random() < 0.5:
        return q + " How many toys are left?", ops, "toys"
    d = _digit(r)
    q4 = f"{d} more toys are made by hand"
    ops.append(_op(a * b - c, "+", d, "now", "toys", q4))
    return q + f" Then {q4}. How many toys are there now?", ops, "toys"


def _shares_into_a_digit(total: int, parts: int) -> bool:
    """``total`` splits evenly into ``parts`` of at most 9: division as the times table undone."""
    return total % parts == 0 and total // parts <= 9


def _sharing(r: random.Random, name: str) -> Drawn:
    a, b, c, d = _digit(r), _digit(r), _digit(r), r.randint(2, 6)
    if not _shares_into_a_digit(a * b - c, d):
        return None
    q1, q2, q3 = f"{name} has {a} bags with {b} candies in each bag", f"{name} eats {c} candies", f"equally among {d} friends"
    ops = [
        _op(a, "*", b, "in all", "candies", q1),
        _op(a * b, "-", c, "left", "candies", q2),
        _op(a * b - c, "/", d, "each", "candies", q3),
    ]
    q = f"{q1}. {q2} and shares the rest {q3}. How many candies does each friend get?"
    return q, ops, "candies"


def _ages(r: random.Random, name: str) -> Drawn:
    a, b, c = r.randint(12, 19), _digit(r), _digit(r)
    q1, q2 = f"{name} is {a} years old. {name}'s sister is {b} years younger", f"Their cousin is {c} years older than the sister"
    ops = [_op(a, "-", b, "for the sister", "years", q1), _op(a - b, "+", c, "for the cousin", "years", q2)]
    q = f"{q1}. {q2}."
    if r.random() < 0.5:
        return q + " How old is the cousin?", ops, "years"
    d = _digit(r)
    q3 = f"in {d} years"
    ops.append(_op(a - b + c, "+", d, "then", "years", q3))
    return q + f" How old will the cousin be {q3}?", ops, "years"


def _savings(r: random.Random, name: str) -> Drawn:
    a, b, c = _digit(r), _digit(r), _digit(r)
    q1, q2 = f"{name} saves {a} dollars a week for {b} weeks", f"spends {c} dollars on a game"
    ops = [_op(a, "*", b, "saved", "dollars", q1), _op(a * b, "-", c, "left", "dollars", q2)]
    q = f"{q1} and then {q2}."
    if r.random() < 0.5:
        return q + f" How many dollars does {name} have left?", ops, "dollars"
    d = _digit(r)
    q3 = f"{name} gets {d} dollars from a friend"
    ops.append(_op(a * b - c, "+", d, "now", "dollars", q3))
    return q + f" Then {q3}. How many dollars does {name} have now?", ops, "dollars"


def _garden(r: random.Random, name: str) -> Drawn:
    a, b, c, d = _digit(r), _digit(r), _digit(r), _digit(r)
    q1, q2, q3 = f"A garden has {a} rows of {b} trees", f"{c} trees are cut down", f"{d} new trees are planted"
    ops = [_op(a, "*", b, "at first", "trees", q1), _op(a * b, "-", c, "left", "trees", q2), _op(a * b - c, "+", d, "now", "trees", q3)]
    return f"{q1}. {q2} and then {q3}. How many trees are in the garden now?", ops, "trees"


def _baking(r: random.Random, name: str) -> Drawn:
    a, b, c, d = _digit(r), _digit(r), _digit(r), r.randint(2, 6)
    if not _shares_into_a_digit(a * b - c, d):
        return None
    q1, q2, q3 = f"{name} bakes {b} trays of {a} cookies", f"{c} cookies burn", f"boxes of {d}"
    ops = [_op(b, "*", a, "baked", "cookies", q1), _op(a * b, "-", c, "good", "cookies", q2), _op(a * b - c, "/", d, "boxes", "", q3)]
    return f"{q1}. {q2} and {name} packs the rest in {q3}. How many boxes does {name} fill?", ops, "boxes"


TEMPLATES: dict[str, Callable[[random.Random, str], Drawn]] = {
    "shopping": _shopping,
    "rates": _rates,
    "sharing": _sharing,
    "ages": _ages,
    "savings": _savings,
    "garden": _garden,
    "baking": _baking,
}


def generate(n: int, seed: int = 0, *, prefix: str = "lab", exclude: set[str] | None = None) -> list[LabProblem]:
    """``n`` distinct problems drawn with ``seed`` (templates in turn); questions in ``exclude`` are skipped."""
    r = random.Random(seed)
    seen = set(exclude or ())
    names = list(TEMPLATES)
    out: list[LabProblem] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise ValueError(f"could not draw {n} distinct problems (got {len(out)})")
        template = names[len(out) % len(names)]
        drawn = TEMPLATES[template](r, r.choice(NAMES))
        if drawn is None or drawn[0] in seen or not _traceable(*drawn) or not all(map(_without_carry, drawn[1])):
            continue
        question, ops, unit = drawn
        seen.add(question)
        out.append(LabProblem(f"{prefix}-{len(out)}", template, question, ops[-1].result, tuple(ops), unit))
    return out


def _traceable(question: str, ops: list[Op], unit: str) -> bool:
    """Every value the solution computes is new (not a number of the question), and every
    intermediate one is over 10: what a reader, or the pruner's number tracking, needs to
    tell which computation a later one builds on."""
    given = {int(t) for t in re.findall(r"\d+", question)}
    results = [op.result for op in ops]
    return all(v > 10 for v in results[:-1]) and not given & set(results) and results[-1] > 0 and len(set(results)) == len(results)


def _without_carry(op: Op) -> bool:
    """A sum with no carry or a difference with no borrow, digit by digit (other ops: True)."""
    if op.op not in "+-":
        return True
    left, right = f"{op.left:03d}", f"{op.right:03d}"
    if op.op == "+":
        return all(int(x) + int(y) < 10 for x, y in zip(left, right))
    return all(int(x) >= int(y) for x, y in zip(left, right))


def check(problem: LabProblem) -> bool:
    """Whether the recorded operations are right and chain to the answer (used by tests)."""
    for op in problem.ops:
        if OPS[op.op](op.left, op.right) != op.result or op.result < 0:
            return False
    return problem.ops[-1].result == problem.answer
