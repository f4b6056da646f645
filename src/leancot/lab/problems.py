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

By default no value the solution computes is a number of the question, so every number of a
trace tells where it came from. ``shared_value`` and ``answer_equals_given`` draw a share of the
problems so that one does, the coincidences that mislead a pruner matching values instead of
quantities (``leancot.prune.derivation``): two quantities with one value (the cousin is
``12 + 3 = 15``, as old as Tom, 15, and the question goes on from the cousin's age), and an
answer equal to a given (``(20 - 4) / 4 = 4`` candies each, among 4 friends).
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


#: The coincidences a problem can be drawn to hold, and the templates whose draws can hold them
#: (only the ages have two-digit givens; only a share comes out as a digit that can equal a given).
COINCIDENCES: dict[str, tuple[str, ...]] = {
    "shared_value": ("ages",),
    "answer_equals_given": ("ages", "sharing", "baking"),
}


def generate(
    n: int,
    seed: int = 0,
    *,
    prefix: str = "lab",
    exclude: set[str] | None = None,
    shared_value: float = 0.0,
    answer_equals_given: float = 0.0,
) -> list[LabProblem]:
    """``n`` distinct problems drawn with ``seed`` (templates in turn); questions in ``exclude`` are skipped.

    ``shared_value`` and ``answer_equals_given`` are the shares of problems drawn to hold that
    coincidence (``COINCIDENCES``; module docstring); the others hold none."""
    if shared_value < 0 or answer_equals_given < 0 or shared_value + answer_equals_given > 1:
        raise ValueError(f"coincidence shares must be >= 0 and sum to <= 1, got {shared_value} and {answer_equals_given}")
    r = random.Random(seed)
    seen = set(exclude or ())
    names = list(TEMPLATES)
    out: list[LabProblem] = []
    tries = 0
    want = _wanted(r, shared_value, answer_equals_given)
    while len(out) < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise ValueError(f"could not draw {n} distinct problems (got {len(out)})")
        template = names[len(out) % len(names)] if want is None else r.choice(COINCIDENCES[want])
        drawn = TEMPLATES[template](r, r.choice(NAMES))
        if drawn is None or drawn[0] in seen or not _traceable(*drawn) or not all(map(_without_carry, drawn[1])):
            continue
        if coincidence(drawn[0], drawn[1]) != want:
            continue
        question, ops, unit = drawn
        seen.add(question)
        out.append(LabProblem(f"{prefix}-{len(out)}", template, question, ops[-1].result, tuple(ops), unit))
        want = _wanted(r, shared_value, answer_equals_given)
    return out


def _wanted(r: random.Random, shared_value: float, answer_equals_given: float) -> str | None:
    """The coincidence the next problem is drawn to hold (None: none); no draw at all when both shares are 0,
    so that the default problems are those of before there were coincidences."""
    if not (shared_value or answer_equals_given):
        return None
    u = r.random()
    return "shared_value" if u < shared_value else "answer_equals_given" if u < shared_value + answer_equals_given else None


def given_numbers(question: str) -> set[int]:
    """The numbers the question states."""
    return {int(t) for t in re.findall(r"\d+", question)}


def coincidence(question: str, ops: list[Op] | tuple[Op, ...]) -> str | None:
    """``shared_value`` when an intermediate value of the solution is also a number of the question,
    ``answer_equals_given`` when the answer is; None when every computed value is new."""
    given = given_numbers(question)
    if any(op.result in given for op in ops[:-1]):
        return "shared_value"
    return "answer_equals_given" if ops[-1].result in given else None


def _traceable(question: str, ops: list[Op], unit: str) -> bool:
    """Every intermediate value is over 10 and the values the solution computes are distinct and
    positive: what a reader needs to tell which computation a later one builds on. (Whether a
    computed value is also a number of the question is :func:`coincidence`'s, chosen by the draw.)"""
    results = [op.result for op in ops]
    return all(v > 10 for v in results[:-1]) and results[-1] > 0 and len(set(results)) == len(results)


def learnable(op: Op) -> bool:
    """An operation the lab's student learns as a table: a digit times a digit, a number plus or minus a
    digit with no carry or borrow (and a positive result), a number shared by a digit into a digit."""
    if op.op == "*":
        return 2 <= op.left <= 9 and 2 <= op.right <= 9
    if op.op == "/":
        return op.right >= 2 and op.left % op.right == 0 and op.left // op.right <= 9
    return 2 <= op.right <= 9 and op.result > 0 and _without_carry(op)


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
