"""One reading of the numbers in model text, for the pruners, verification and grading.

GSM8K answers and R1 traces write one value many ways: ``14400``, ``14,400``, ``$14,400``,
``\\$14,400.00``; ``29`` and ``$29.00``; ``25%`` and ``0.25``; ``3/4`` and ``\\frac{3}{4}``.
Every part of leancot that compares numbers reads them here, as exact fractions, so that
"is this the same value?" has one answer everywhere.

- :func:`tokens` finds the numbers of a text with where they stand (money signs, thousands
  separators and a trailing ``%`` belong to the number);
- :func:`value` reads a whole string that is one number (``"$14,400"``, ``"\\$1.00"``,
  ``"3/4"``, ``"\\frac{3}{4}"``, ``"-2.50"``) as a ``Fraction``, else None;
- :func:`canonical` spells a plain number one way (``"025"`` -> ``"25"``, ``"27.0"`` -> ``"27"``);
- :func:`same_value` compares two answers as numbers.

Model text is only matched with regular expressions here, never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

# A number as written: an optional money sign ($ or \$), then thousands groups or plain digits,
# a decimal part, and an optional percent sign (% or \%). Not inside a longer number: not after
# a digit or after "digit." (the decimals of one), but after an ellipsis ("...484" is 484).
_DIGITS = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|(?<!\.)\.\d+"
TOKEN = re.compile(rf"(?<!\d)(?<!\d\.)(?P<money>\\?\$\s?)?(?P<num>{_DIGITS})(?![\d.]\d)(?!\d|(?:st|nd|rd|th)\b)(?P<pct>\s?\\?%)?")
_WHOLE = re.compile(rf"\s*(?P<sign>[-−]?)\s*(?:\\?\$\s?)?(?P<num>{_DIGITS})\s*(?P<pct>\\?%)?\s*")
_FRACTION = re.compile(r"\s*(?P<sign>[-−]?)\s*\(?(?P<a>\d+)\)?\s*/\s*\(?(?P<b>\d+)\)?\s*")
_LATEX_FRACTION = re.compile(r"\s*(?P<sign>[-−]?)\s*\\[dt]?frac\s*\{\s*(?P<a>\d+)\s*\}\s*\{\s*(?P<b>\d+)\s*\}\s*")
_WRAPPERS = re.compile(r"^\s*(?:\\boxed\s*\{(.*)\}|\\text\s*\{(.*)\}|\$(.*)\$)\s*$", re.S)
# LaTeX around a number that does not change it: "84{,}000", "10\,000", "10 \text{ hours}", "90^\circ", "5 dollars"
_NOISE = ((re.compile(r"\{,\}"), ","), (re.compile(r"\\[,;:! ]|\\q?quad|\^\s*\{?\\circ\}?|°"), ""))
_UNIT_AFTER = re.compile(r"^(.*?\d%?)\s*(?:\\(?:text|mathrm|mbox)\s*\{\s*[A-Za-z][A-Za-z .]*\}|[A-Za-z]{2,}(?:\s+[A-Za-z]+)*)\.?\s*$", re.S)


@dataclass(frozen=True)
class Number:
    """A number found in a text: where it stands and what it is worth."""

    start: int
    end: int
    text: str  # as written, money sign and percent included
    value: Fraction  # the number itself: "25%" is 25, "$14,400" is 14400
    percent: bool = False

    def forms(self) -> frozenset[Fraction]:
        """The values the number may stand for: a percent is also its share (25% -> 0.25)."""
        return frozenset({self.value, self.value / 100}) if self.percent else frozenset({self.value})


@lru_cache(maxsize=65536)
def _digits(num: str) -> Fraction:
    return Fraction(num.replace(",", ""))  # cached: a trace repeats its numbers, and a Fraction is slow to make


_PARTS = re.compile(rf"(?:\\?\$\s?)?(?P<num>{_DIGITS})(?P<pct>\s?\\?%)?")


def read(token: str, start: int = 0) -> Number:
    """One number token as :data:`TOKEN` matched it (``"$14,400"``, ``"25%"``), at offset ``start``."""
    m = _PARTS.match(token)
    assert m is not None, token
    return Number(start, start + len(token), token, _digits(m.group("num")), bool(m.group("pct")))


def tokens(text: str) -> list[Number]:
    """Every number of ``text``, in order (signs are not part of a number: ``-3`` holds 3)."""
    return [
        Number(m.start(), m.end(), m.group(0), _digits(m.group("num")), bool(m.group("pct")))
        for m in TOKEN.finditer(text)
        if m.group("num") != "."
    ]


def values(text: str) -> set[Fraction]:
    """Every value ``text`` states, percent shares included."""
    out: set[Fraction] = set()
    for n in tokens(text):
        out |= n.forms()
    return out


def value(text: str | int | float | None) -> Fraction | None:
    """``text`` read as one number, or None when it is not one.

    Money signs, thousands separators, trailing zeros, a percent sign (``"25%"`` is 25),
    simple fractions (``"3/4"``, ``"\\frac{3}{4}"``) and a ``\\boxed{}``/``$..$`` wrapper are read;
    anything else (``"x + 1"``, ``"12 apples and 3 pears"``) is not a number.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        return Fraction(str(text))
    s = text
    for pattern, repl in _NOISE:
        s = pattern.sub(repl, s)
    for _ in range(3):
        m = _WRAPPERS.match(s)
        if not m:
            break
        s = next(g for g in m.groups() if g is not None)
    unit = _UNIT_AFTER.match(s)
    if unit:
        s = unit.group(1)
    for pattern in (_WHOLE, _FRACTION, _LATEX_FRACTION):
        m = pattern.fullmatch(s)
        if m is None:
            continue
        v = _digits(m.group("num")) if "num" in m.groupdict() else _ratio(m.group("a"), m.group("b"))
        if v is None:
            return None
        return -v if m.group("sign") else v
    return None


def _ratio(a: str, b: str) -> Fraction | None:
    return Fraction(int(a), int(b)) if int(b) else None


def same_value(a: str | int | float | None, b: str | int | float | None) -> bool:
    """Whether ``a`` and ``b`` are one number (``"$14,400"`` and ``"14400"``); False when either is not a number."""
    va, vb = value(a), value(b)
    return va is not None and va == vb


def canonical(text: str) -> str:
    """A plain decimal spelled one way: ``"025"`` -> ``"25"``, ``"27.0"`` -> ``"27"``, ``"-.50"`` -> ``"-0.5"``, ``"-0"`` -> ``"0"``."""
    sign = "-" if text.startswith(("-", "−")) else ""
    s = text.lstrip("+-−").replace(",", "")
    whole, _, frac = s.partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    out = f"{whole}.{frac}" if frac else whole
    return "0" if out == "0" else sign + out


def spell(v: Fraction) -> str:
    """A value as a person writes it: ``14400``, ``6.75``, ``1/3`` (a decimal when it ends)."""
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return f"{v.numerator}/{v.denominator}"
    digits = 0
    while (v * 10**digits).denominator != 1:
        digits += 1
    return canonical(f"{float(v):.{digits}f}")
