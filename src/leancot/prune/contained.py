"""Self-containedness of a pruned path: every number a computation uses was there before it.

A student learns from the pruned path alone, so a line ``49 + 3 = 52`` must come after
something that says where 49 comes from (the question, or an earlier line of the path).
:func:`gaps` finds the computations that use a number from nowhere; :func:`repair` puts back,
from the original steps and in order, the step that derives each such number.

What counts:

- a *computation* is an ``=`` whose left side holds an arithmetic operator between two
  operands (``7 * 7 = 49``, ``\\frac{3}{4} \\times 8 = 6``); its *operands* are the numbers
  of that left side. ``x = 5`` and ``= 49`` alone use nothing;
- an operand is *known* when it stands in the question or anywhere earlier in the path,
  including earlier in its own line: a chain ``2 × 3 + 4 = 6 + 4 = 10`` counts its own
  intermediate result 6;
- percent, fraction and decimal forms of a value are one value (``25%``, ``0.25``, ``1/4``,
  ``\\frac{1}{4}``), and a share written as a percentage without the sign (25 for 0.25);
- cubes and higher powers of a known number, and the place-value parts of a known number
  (``3 * 500`` inside ``3 * 29524``), and well-known decimals (3.1416, 1.4142);
- integers 0-10 and unit constants (12, 24, 60, 100, 1000, 360, 365 ...) are known anywhere:
  they are what a reader brings, not what the path must derive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from leancot.schema import Step

# Numbers that need no source: small integers and the constants of units and angles.
_CONSTANTS = frozenset(Fraction(n) for n in (*range(11), 12, 24, 30, 60, 90, 100, 180, 360, 365, 1000, 3600))
_NUM = r"\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?|\d+(?:\.\d+)?|(?<![\d.])\.\d+"
_NUMBER = re.compile(rf"(?<![\d.])(?:{_NUM})(\s*%)?")
_FRACTION = re.compile(r"(?<![\d.])\(?(\d+)\)?\s*/\s*\(?(\d+)\)?(?![\d.])")
_LATEX = (
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\(?:times|cdot|ast)\b"), " × "),
    (re.compile(r"\\div\b"), " ÷ "),
    (re.compile(r"\\approx\b|≈"), " = "),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\(?:left|right|displaystyle)\b|\\[,;!: ]|\\\(|\\\)|\\\[|\\\]|\$"), " "),
)
# The left side of a computation: operands, operators, brackets and spaces up to the "=".
_LEFT = re.compile(r"(?:[\d.\-−+*/×÷^()\[\]{}%\s]|,(?=\d{3}))+$")  # one way to match: no backtracking blow-up
_OPERATION = re.compile(r"[\d)\]}]\s*[-−+*/×÷^]\s*[(\[{]*\s*[\d.]")
_RESULT = re.compile(r"(?:=|\b(?:is|are|gives?|get|gets|makes?|equals|total of|to)\b)\s*$", re.I)
_LOOKBACK = 160  # characters before an "=" that can belong to its left side


@dataclass(frozen=True)
class Gap:
    """A computation of the path that uses a number from nowhere."""

    line: int  # index of the path's line (``text.split("\\n")``) that holds it
    number: str  # the operand as written ("49", "0.25")
    equation: str  # the left side that uses it


def normalise_maths(text: str) -> str:
    """LaTeX spelled as plain arithmetic: ``\\frac{a}{b}`` -> ``(a)/(b)``, ``\\times`` -> ``×``."""
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    return text


def _value(token: str) -> Fraction:
    return Fraction(token.replace(",", ""))


def forms(text: str) -> set[Fraction]:
    """Every value ``text`` states, in all its forms (a percent also as a share, and back)."""
    out: set[Fraction] = set()
    for m in _NUMBER.finditer(text):
        v = _value(m.group(0).rstrip("% \t"))
        out.add(v)
        if m.group(1):
            out.add(v / 100)
        elif v.denominator != 1 and v < 1:
            out.add(v * 100)  # 0.25 -> "25 percent" written without the sign
    for m in _FRACTION.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if b:
            out |= {Fraction(a, b), Fraction(a, b) * 100}
    return out


def _operand_forms(token: str) -> set[Fraction]:
    v = _value(token.rstrip("% \t"))
    return {v, v / 100} if token.rstrip().endswith("%") else {v}


def _line_gaps(line: str, known: set[Fraction]) -> list[tuple[str, str]]:
    """``(operand, left side)`` of each computation in ``line`` that uses an unknown number."""
    out: list[tuple[str, str]] = []
    numbers = [(m.start(), m.group(0)) for m in _NUMBER.finditer(line)]
    before, k, last_eq = set(known), 0, -1
    for eq in (m.start() for m in re.finditer(r"=", line)):
        left_match = _LEFT.search(line[max(0, eq - _LOOKBACK) : eq])
        left = left_match.group(0) if left_match else ""
        start = eq - len(left)
        while k < len(numbers) and numbers[k][0] < start:
            before |= forms(numbers[k][1])
            k += 1
        chained = last_eq >= 0 and _CHAIN_GAP.fullmatch(line[last_eq + 1 : start]) is not None
        last_eq = eq
        if not left or chained or not _OPERATION.search(left):
            continue  # "x = 5", "= 49", or a later link of a chain: its own intermediate results
        seen = set(before)
        for m in _NUMBER.finditer(left):
            token = m.group(0).strip()
            if left[: m.start()].rstrip(" {").endswith("^"):
                continue  # an exponent counts factors: 2^{18}
            values = _operand_forms(token)
            if not values & (seen | _CONSTANTS) and not _from_known(token, values, seen):
                out.append((token, left.strip()))
            seen |= values
    return out


# What may stand between two links of a chain: nothing, or a function name ("= sqrt(144 + 64)").
_CHAIN_GAP = re.compile(r"[\\\s{}a-zA-Z]{0,8}")
_FACT_DECIMALS = ("3.14", "1.414", "1.732", "2.236", "2.718", "0.707", "0.866", "1.618")


def _from_known(token: str, values: set[Fraction], known: set[Fraction]) -> bool:
    """A well-known constant (3.1416, 1.4142), a power of a known number, or a place-value part of a known number:
    ``3 * 29524`` done as ``3 * 20000``, ``3 * 9000``, ``3 * 500``, ``3 * 24``."""
    if token.startswith(_FACT_DECIMALS):
        return True
    v = next(iter(values))
    if v.denominator == 1 and _is_power(int(v), known):
        return True
    return v > 0 and any(k > v and _part_of(k, v) for k in known)


def _is_power(v: int, known: set[Fraction]) -> bool:
    """``v`` is ``b^e`` (e = 3..6) of a known or small base: (-25/288)*(125) at x = 5.

    Not squares: ``7 * 7 = 49`` is a computation the path must show."""
    for e in range(3, 7):
        b = round(v ** (1 / e))
        if b >= 2 and any(c**e == v for c in (b - 1, b, b + 1)) and (Fraction(b) in known or b <= 10):
            return True
    return False


def _part_of(k: Fraction, v: Fraction) -> bool:
    """Whether ``v`` is a run of the digits of ``k`` in place (k with higher and lower digits zeroed)."""
    scale = 1
    while (k * scale).denominator != 1 or (v * scale).denominator != 1:
        scale *= 10
        if scale > 10**8:
            return False
    big, part = int(k * scale), int(v * scale)
    high = 10
    while high <= big * 10:
        low = 1
        while low < high:
            if big % high - big % low == part:
                return True
            low *= 10
        high *= 10
    return False


def gaps(path: str, question: str = "") -> list[Gap]:
    """The computations of ``path`` (line by line) that use a number no earlier text holds."""
    known = forms(normalise_maths(question))
    found = []
    for i, raw in enumerate(path.split("\n")):
        line = normalise_maths(raw)
        found += [Gap(i, number, left) for number, left in _line_gaps(line, known)]
        known |= forms(line)
    return found


def is_self_contained(path: str, question: str = "") -> bool:
    """True when no computation of ``path`` uses a number from nowhere."""
    return not gaps(path, question)


def derives(text: str, number: str) -> bool:
    """Whether ``text`` states ``number`` as a result (``= 49``, ``is 49``, ``gives 49``)."""
    line = normalise_maths(text)
    want = _operand_forms(number)
    for m in _NUMBER.finditer(line):
        if _operand_forms(m.group(0).strip()) & want and _RESULT.search(line[max(0, m.start() - 16) : m.start()]):
            return True
    return False


def _deriving_step(steps: list[Step], number: str, used: set[int]) -> int | None:
    """The first original step that derives ``number`` (else the first that states it)."""
    want = _operand_forms(number)
    mentions = None
    for i, step in enumerate(steps):
        if i in used:
            continue
        if derives(step.text, number):
            return i
        if mentions is None and want & forms(normalise_maths(step.text)):
            mentions = i
    return mentions


def repair(path: str, steps: list[Step], question: str = "", max_rounds: int = 50) -> tuple[str, list[int]] | None:
    """``path`` with the deriving steps of its missing numbers put back: ``(path, restored step indices)``.

    Each round finds the first gap and inserts the original step that derives the missing
    number as its own line just before the line that uses it (a restored step may need
    another one: the next round finds that). None when a number has no deriving step or
    the path is still not self-contained after ``max_rounds``.
    """
    restored: list[int] = []
    lines = path.split("\n")
    for _ in range(max_rounds):
        found = gaps("\n".join(lines), question)
        if not found:
            return "\n".join(lines), restored
        gap = found[0]
        i = _deriving_step(steps, gap.number, set(restored))
        if i is None:
            return None
        restored.append(i)
        lines.insert(gap.line, steps[i].text.strip())
    return None


def contain(path: str, steps: list[Step], question: str = "") -> tuple[str, list[Step], list[int]] | None:
    """The prune stage's self-containedness step: ``(path, steps, restored)``, or None (reject).

    A self-contained path comes back as it is (``restored == []``); otherwise :func:`repair`
    puts the deriving steps back, and those steps become ``keep`` in ``steps``.
    """
    if not gaps(path, question):
        return path, steps, []
    repaired = repair(path, steps, question)
    if repaired is None:
        return None
    path, restored = repaired
    back = set(restored)
    steps = [s.model_copy(update={"action": "keep", "rewritten": None}) if i in back else s for i, s in enumerate(steps)]
    return path, steps, sorted(back)
