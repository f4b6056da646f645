"""The arithmetic a sentence states, read as computations: operands, operation, result.

``computations(text)`` finds every chain ``side = side = ... = side`` in ``text`` whose first
side holds an operation between numbers, and reads it as one :class:`Computation`:

- ``55 − 10 = 45``, ``$120 \\times \\frac{3}{4} = $90``, ``15 × 3/5 = 9 liters``, ``25% of 80 = 20``,
  ``4 divided by 2 is 2``, ``2 hours × 60 = 120 minutes`` (unit words after a number are
  allowed inside an expression and dropped), ``1 + 3(1 + 3) = 13``;
- a chain ``9 × 3/4 = 27/4 = 6.75`` is one computation: its operands are the numbers of the
  first side (and any number a later side brings in, such as a carry), its result is the last
  side, and every number a later side writes out (27) is produced by it too;
- ``correct`` says whether every side has the same value (to the decimals a side shows, or
  within 2% after ``≈``): a slip such as ``7 × 8 = 54`` reads as a computation that is wrong.

Numbers are read by :mod:`leancot.numbers` (``$14,400`` is 14400) and expressions by a small
recursive-descent parser over exact fractions: model text is never ``eval``-ed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from leancot import numbers

# LaTeX spelled as plain arithmetic, so that one tokeniser reads both.
_LATEX = (
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\(?:times|cdot|ast)(?![A-Za-z])"), " × "),
    (re.compile(r"\\div(?![A-Za-z])"), " ÷ "),
    (re.compile(r"\\approx(?![A-Za-z])"), " ≈ "),
    (re.compile(r"\\text\s*\{([^{}]*)\}|\\mathrm\s*\{([^{}]*)\}"), r" \1\2 "),
    (re.compile(r"\\(?:left|right|displaystyle|quad|qquad)(?![A-Za-z])|\\[,;!: ]|\\\(|\\\)|\\\[|\\\]"), " "),
    (re.compile(r"\*\*"), " "),  # markdown bold, not a power
)

_NUMBER = re.sub(r"\(\?P<\w+>", "(?:", numbers.TOKEN.pattern)  # the number pattern without its group names
_TOKEN = re.compile(
    rf"(?P<num>{_NUMBER})"
    r"|(?P<op>[-−+*×·÷/^])"
    r"|(?P<lp>[(\[{])|(?P<rp>[)\]}])"
    r"|(?P<eq>=|≈)"
    r"|(?P<word>[A-Za-z]+(?:'[a-z]+)?)"
    r"|(?P<sep>\S|\n)"
)
_OPS = {"-": "-", "−": "-", "+": "+", "*": "*", "×": "*", "·": "*", "÷": "/", "/": "/", "^": "^"}
_WORD_OPS = {"times": "*", "plus": "+", "minus": "-", "x": "*"}
_TWO_WORD_OPS = {("multiplied", "by"): "*", ("divided", "by"): "/"}
_WEAK_EQ = {"is", "equals", "gives", "makes", "are"}
_DIGIT = re.compile(r"\d")
# An operation between numbers somewhere (a cheap filter before tokenising): "3 × 4", "25% of 80", "4 divided by 2".
_OPERATION = re.compile(
    r"\d[^\n]{0,40}?(?:[-−+*×·÷/^]|\bx\b|\btimes\b|\bplus\b|\bminus\b|\bby\b|\bof\b)\s*[($\\\[{]*\s*[\d.(]"
    r"|\b(?:halfs?|halves|thirds?|quarters?|fourths?|fifths?|sixths?|tenths?)\s+of\s+\$?\d|\b(?:twice|double|triple)\s+\$?\d"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty)\s+(?:times|plus|minus)\s+\$?\d",
    re.I,
)
_EQUALS = re.compile(r"[=≈]|\b(?:is|equals|gives|makes|are)\s+[-−$\\(]*\d")
_MAX_SIDE = 40  # tokens: a side longer than this is prose, not arithmetic (and bounds the work)
_MAX_UNIT_WORDS = 3  # "2 hours × 60", "9 liters of water + 6": words after a number inside an expression
_LABEL_WORDS = 4
_LABEL_STOP = {"and", "so", "which", "that", "then", "but", "because", "since", "for", "in", "is", "are", "the", "a", "an"}


@dataclass(slots=True)
class Tok:
    kind: str  # num, op, lp, rp, eq, word, sep
    text: str
    start: int
    number: numbers.Number | None = None
    approx: bool = False


@dataclass(frozen=True)
class Operand:
    """A number a computation uses, with the words written right after it ("liters of water")."""

    value: Fraction
    forms: frozenset[Fraction]  # 25% is 25 and 0.25
    text: str
    label: str = ""


@dataclass(frozen=True)
class Computation:
    """One chain of equal sides whose first side computes: ``left = ... = result``."""

    start: int  # offsets in the text given to :func:`computations`
    end: int
    text: str  # the chain as written
    operands: tuple[Operand, ...]
    ops: frozenset[str]  # "+", "-", "*", "/", "^"
    result: Fraction
    produced: frozenset[Fraction]  # the result, every side's value and every number a later side writes
    label: str  # the words after the result ("goats left")
    correct: bool

    @property
    def key(self) -> tuple:
        """What makes two computations the same one: the operands in the order written, the operations, the
        result and the words after it. ``24 × 2 = 48 slices`` and ``2 × 24 = 48 juice boxes`` are two."""
        return (tuple(o.value for o in self.operands), tuple(sorted(self.ops)), self.result, self.label)


def normalise(text: str) -> str:
    """LaTeX spelled as plain arithmetic: ``\\frac{a}{b}`` -> ``(a)/(b)``, ``\\times`` -> ``×``."""
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    return text


def computations(text: str) -> list[Computation]:
    """Every computation stated in ``text``, in order (see the module docstring)."""
    return list(_computations(text))


@functools.lru_cache(maxsize=1 << 16)
def _computations(text: str) -> tuple[Computation, ...]:
    # cached by the sentence: a pruned path is made of its original's sentences, so the derivation
    # check reads again what the graph of the original already read (computations are immutable)
    if not _DIGIT.search(text):
        return ()
    plain = normalise(text) if "\\" in text or "**" in text else text
    if not _EQUALS.search(plain) or not _OPERATION.search(plain):
        return ()  # no "=" before a value, or no operation between numbers: nothing computes here (most sentences)
    toks = _tokens(plain)
    out = []
    for chain in _chains(toks):
        comp = _computation(plain, toks, chain)
        if comp is not None:
            out.append(comp)
    return tuple(out)


# --------------------------------------------------------------------------- tokens


def _tokens(text: str) -> list[Tok]:
    raw = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "sep"
        if kind == "num":
            raw.append(Tok("num", m.group("num"), m.start(), number=numbers.read(m.group("num"), m.start())))
        elif kind == "op" and m.group(0) in "-*" and _bullet(text, m.start()):
            raw.append(Tok("sep", m.group(0), m.start()))  # "- 15 × 12 = 180": a list's bullet, not a minus
        else:
            raw.append(Tok(kind, m.group(0), m.start(), approx=m.group(0) == "≈"))
    return _word_operators(_word_numbers(raw))


def _bullet(text: str, i: int) -> bool:
    """Whether the ``-`` or ``*`` at ``i`` opens a line and is followed by a space (a markdown list item)."""
    return text[i + 1 : i + 2] == " " and text[text.rfind("\n", 0, i) + 1 : i].strip() == ""


_NUMBER_WORDS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_NUMBER_WORDS |= {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_PARTS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4, "fifth": 5,
          "fifths": 5, "sixth": 6, "sixths": 6, "tenth": 10, "tenths": 10}  # fmt: skip
_MULTIPLES = {"twice": 2, "double": 2, "triple": 3}


def _word_numbers(raw: list[Tok]) -> list[Tok]:
    """Numbers written as words, where they compute: "half of 170 is 85", "a quarter of 60 is 15", "two thirds of 90",
    "twice 9 is 18", "three times 15 is 45", "15 percent of 80 is 12"."""
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        t, low = raw[i], raw[i].text.lower()
        nxt = [x.text.lower() for x in raw[i + 1 : i + 3]]
        if t.kind == "word" and low in _PARTS and nxt[:1] == ["of"]:  # "half of", "a quarter of", "two thirds of"
            count = 1
            if out and out[-1].kind == "word" and out[-1].text.lower() in ("a", "one", *_NUMBER_WORDS):
                count = max(1, _NUMBER_WORDS.get(out.pop().text.lower(), 1))
            out += [_synthetic(Fraction(count, _PARTS[low]), t), Tok("op", "*", t.start)]
            i += 2
            continue
        if t.kind == "word" and low in _MULTIPLES and i + 1 < len(raw) and raw[i + 1].kind == "num":  # "twice 9"
            out += [_synthetic(Fraction(_MULTIPLES[low]), t), Tok("op", "*", t.start)]
            i += 1
            continue
        if t.kind == "word" and low in _NUMBER_WORDS and nxt[:1] in (["times"], ["plus"], ["minus"]):  # "three times 15"
            out.append(_synthetic(Fraction(_NUMBER_WORDS[low]), t))
            i += 1
            continue
        if t.kind == "word" and low in ("percent", "pct") and out and out[-1].kind == "num" and out[-1].number is not None:
            n = out[-1].number  # "15 percent of 80" is "15% of 80"
            out[-1] = Tok("num", out[-1].text, out[-1].start, number=numbers.Number(n.start, n.end, n.text, n.value, True))
            i += 1
            continue
        out.append(t)
        i += 1
    return out


def _synthetic(value: Fraction, at: Tok) -> Tok:
    return Tok("num", at.text, at.start, number=numbers.Number(at.start, at.start + len(at.text), at.text, value))


def _word_operators(raw: list[Tok]) -> list[Tok]:
    """Words that are operators where they stand between numbers: "3 times 4", "25% of 80", "4 divided by 2 is 2"."""
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        if t.kind == "word":
            low = t.text.lower()
            prev = out[-1] if out else None
            nxt = raw[i + 1] if i + 1 < len(raw) else None
            after_value = prev is not None and prev.kind in ("num", "rp")
            if after_value and nxt is not None and nxt.kind == "word" and (low, nxt.text.lower()) in _TWO_WORD_OPS:
                out.append(Tok("op", _TWO_WORD_OPS[(low, nxt.text.lower())], t.start))
                i += 2
                continue
            before_value = nxt is not None and nxt.kind in ("num", "lp")
            if after_value and before_value and low in _WORD_OPS and (low != "x" or t.text == "x"):
                out.append(Tok("op", _WORD_OPS[low], t.start))
                i += 1
                continue
            if low == "of" and before_value and _is_share(out):
                out.append(Tok("op", "*", t.start))
                i += 1
                continue
        out.append(t)
        i += 1
    return out


def _is_share(before: list[Tok]) -> bool:
    """Whether the tokens before "of" end with a percent or a fraction ("25% of", "3/4 of")."""
    if not before or before[-1].kind not in ("num", "rp"):
        return False
    last = before[-1]
    if last.kind == "num" and last.number is not None and last.number.percent:
        return True
    return len(before) >= 3 and before[-2].kind == "op" and before[-2].text == "/"


# --------------------------------------------------------------------------- chains of sides


def _is_eq(toks: list[Tok], i: int) -> bool:
    t = toks[i]
    return t.kind == "eq" or (t.kind == "word" and t.text.lower() in _WEAK_EQ)


def _chains(toks: list[Tok]) -> list[list[tuple[int, int]]]:
    """Chains as lists of side spans ``(i, j)`` (token indices, ``j`` exclusive), first side first."""
    chains: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for e in (i for i in range(len(toks)) if _is_eq(toks, i)):
        strong = toks[e].kind == "eq"
        right = _right_side(toks, e + 1)
        if current and current[-1][1] == e:  # the last side ends at this "=": the chain goes on
            if right is None:
                chains.append(current)
                current = []
            else:
                current.append(right)
            continue
        if current:
            chains.append(current)
            current = []
        left = _left_side(toks, e)
        if left is None or right is None or not _has_operation(toks, left):
            continue
        if not strong and toks[right[0]].kind != "num":
            continue  # "the total is ...": a weak "is" needs an operation before it and a number after
        current = [left, right]
    if current:
        chains.append(current)
    return chains


def _has_operation(toks: list[Tok], span: tuple[int, int]) -> bool:
    i, j = span
    return any(toks[k].kind == "op" and k > i for k in range(i, j))


def _value_end(t: Tok) -> bool:
    return t.kind in ("num", "rp")


def _left_side(toks: list[Tok], e: int) -> tuple[int, int] | None:
    """The longest expression that ends just before ``toks[e]`` (unit words after a number allowed)."""
    i = e
    words = 0
    while i > 0 and e - i < _MAX_SIDE:
        t = toks[i - 1]
        if t.kind in ("num", "op", "lp", "rp"):
            words = 0
        elif t.kind == "word" and words < _MAX_UNIT_WORDS and i - 2 >= 0 and _unit_word_fits(toks, i - 1) and len(t.text) > 1:
            words += 1
        else:
            break
        i -= 1
    return _parsable(toks, i, e, from_left=True)


def _unit_word_fits(toks: list[Tok], k: int) -> bool:
    """A word at ``k`` inside an expression: after a number (or other unit words after one), before an operator."""
    j = k
    while j > 0 and toks[j - 1].kind == "word" and k - j < _MAX_UNIT_WORDS:
        j -= 1
    if j == 0 or not _value_end(toks[j - 1]):
        return False
    n = k + 1
    while n < len(toks) and toks[n].kind == "word" and n - k <= _MAX_UNIT_WORDS:
        n += 1
    return n < len(toks) and (toks[n].kind in ("op", "rp") or _is_eq(toks, n))


def _right_side(toks: list[Tok], s: int) -> tuple[int, int] | None:
    """The longest expression that starts at ``toks[s]`` (unit words inside it allowed)."""
    j = s
    while j < len(toks) and j - s < _MAX_SIDE:
        t = toks[j]
        if t.kind in ("num", "op", "lp", "rp"):
            j += 1
        elif t.kind == "word" and j > s and _unit_word_fits(toks, j) and len(t.text) > 1:
            j += 1
        else:
            break
    return _parsable(toks, s, j, from_left=False)


def _parsable(toks: list[Tok], i: int, j: int, *, from_left: bool) -> tuple[int, int] | None:
    """The longest sub-span of ``toks[i:j]`` that parses as an expression, trimmed from the far end."""
    while i < j:
        i, j = _trimmed(toks, i, j, from_left)
        if i >= j:
            return None
        if _Parser(toks[i:j]).value() is not None:
            return i, j
        if from_left:
            i += 1
        else:
            j -= 1
    return None


def _trimmed(toks: list[Tok], i: int, j: int, from_left: bool) -> tuple[int, int]:
    """Skip the ends no expression has: it starts with a number, "(" or a minus, and ends with a number or ")"."""
    if from_left:
        while i < j and not (toks[i].kind in ("num", "lp") or (toks[i].kind == "op" and toks[i].text in "-−")):
            i += 1
    else:
        while j > i and toks[j - 1].kind not in ("num", "rp", "word"):
            j -= 1
    return i, j


# --------------------------------------------------------------------------- a chain as a computation


def _written_value(toks: list[Tok]) -> bool:
    """Whether a side writes a value out: ``45``, ``-3``, ``27/4``, ``(-5)/12`` (not ``45 × 3 ÷ 4``)."""
    core = [t for t in toks if t.kind != "word"]
    nums = sum(t.kind == "num" for t in core)
    ops = [_OPS.get(t.text, t.text) for t in core if t.kind == "op"]
    return 1 <= nums <= 2 and len(core) <= 7 and all(o in ("-", "/") for o in ops) and ops.count("/") == nums - 1


def _computation(text: str, toks: list[Tok], sides: list[tuple[int, int]]) -> Computation | None:
    while len(sides) > 1 and not _written_value(toks[sides[-1][0] : sides[-1][1]]):
        sides = sides[:-1]  # "45 × 0.75 is 45 × 3 ÷ 4": a rewriting, with no result written out
    if len(sides) < 2:
        return None
    parsed = [_Parser(toks[i:j]) for i, j in sides]
    vals = [p.value() for p in parsed]
    if any(v is None for v in vals):
        return None
    first_i, first_j = sides[0]
    operands = [_operand(toks, k, first_j) for k in range(first_i, first_j) if toks[k].kind == "num"]
    written = set().union(*(o.forms for o in operands))  # numbers the chain has written so far
    computed = set(parsed[0].subvalues) | {vals[0]}  # values it has computed so far
    produced: set[Fraction] = set()
    ops = set(parsed[0].ops)
    correct = True
    for (i, j), p, prev, v in zip(sides[1:], parsed[1:], vals, vals[1:]):
        nums = [k for k in range(i, j) if toks[k].kind == "num"]
        approx = toks[i - 1].approx or any(toks[s - 1].approx for s, _ in sides[1:])
        fresh = [k for k in nums if not toks[k].number.forms() & written]  # type: ignore[union-attr]
        new = [k for k in fresh if not toks[k].number.forms() & computed]  # type: ignore[union-attr]
        if new and not (j - i == 1) and not _same(prev, v, toks[i:j], approx):
            operands += [_operand(toks, k, j) for k in new]  # a side that brings a number in: "2 * 3 = 6 + 1 = 7"
            ops |= p.ops
            fresh = [k for k in fresh if k not in new]
        else:
            correct &= _same(prev, v, toks[i:j], approx)
        # the numbers a side writes out are results: "= 1 + 12 = 13", "= 27/4 = 6.75", "= 10/24 - 875/288"
        produced |= {x for k in fresh for x in toks[k].number.forms()}  # type: ignore[union-attr]
        written |= {x for k in nums for x in toks[k].number.forms()}  # type: ignore[union-attr]
        computed |= p.subvalues | {v}
        produced.add(v)
    start, end = toks[first_i].start, _end(toks[sides[-1][1] - 1])
    return Computation(
        start=start, end=end, text=text[start:end], operands=tuple(operands), ops=frozenset(ops), result=vals[-1],
        produced=frozenset(produced), label=_label(toks, sides[-1][1]), correct=correct,
    )  # fmt: skip


def _end(t: Tok) -> int:
    return t.start + len(t.text)


def _operand(toks: list[Tok], k: int, stop: int) -> Operand:
    n = toks[k].number
    assert n is not None
    words = []
    for t in toks[k + 1 : stop]:
        if t.kind != "word":
            break
        words.append(t.text.lower())
    return Operand(n.value, n.forms(), n.text, " ".join(words))


def _label(toks: list[Tok], k: int) -> str:
    """The words right after a result, up to a stop word: ``= 45 goats left, so`` -> ``goats left``."""
    words = []
    for t in toks[k : k + _LABEL_WORDS]:
        if t.kind != "word" or t.text.lower() in _LABEL_STOP and words:
            break
        if t.text.lower() not in _LABEL_STOP:
            words.append(t.text.lower())
    return " ".join(words)


def _same(a: Fraction, b: Fraction, side: list[Tok], approx: bool) -> bool:
    """Whether two sides agree: exactly, to the decimals a single-number side shows, or within 2% after ``≈``."""
    if a == b:
        return True
    if approx:
        return abs(a - b) <= abs(b) * Fraction(2, 100) + Fraction(1, 100)
    nums = [t for t in side if t.kind == "num"]
    if len(nums) == 1 and len(side) == 1 and "." in nums[0].text:
        decimals = len(nums[0].text.rstrip("%").split(".")[1])
        return abs(a - b) <= Fraction(1, 2 * 10**decimals)
    return False


class _Parser:
    """Recursive descent over tokens: ``expr := term (+|- term)*``, ``term := power ((*|/|implicit) power)*``,
    ``power := unary (^ power)?``, ``unary := - unary | atom``, ``atom := number | ( expr )``.

    Unit words are skipped. ``value()`` is the exact value, or None when the tokens are not one
    expression (or divide by zero, or raise to a huge power); ``subvalues`` are the values of
    every sub-expression (so that ``1 + 12`` is seen to follow from ``1 + 3*4``); ``ops`` the
    operators used."""

    def __init__(self, toks: list[Tok]):
        self.toks = [t for t in toks if t.kind != "word"]
        self.i = 0
        self.subvalues: set[Fraction] = set()
        self.ops: set[str] = set()
        self._value: Fraction | None = None
        self._done = False

    def value(self) -> Fraction | None:
        if not self._done:
            self._done = True
            try:
                v = self._expr()
                self._value = v if self.i == len(self.toks) and self.toks else None
            except (_NoParse, ZeroDivisionError, OverflowError):
                self._value = None
        return self._value

    def _peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _op(self, *ops: str) -> str | None:
        t = self._peek()
        if t is not None and t.kind == "op" and _OPS.get(t.text, t.text) in ops:
            self.i += 1
            return _OPS.get(t.text, t.text)
        return None

    def _expr(self) -> Fraction:
        v = self._term()
        while (op := self._op("+", "-")) is not None:
            w = self._term()
            v = v + w if op == "+" else v - w
            self._note(op, v)
        return v

    def _term(self) -> Fraction:
        v = self._power()
        while True:
            op = self._op("*", "/")
            t = self._peek()
            if op is None and t is not None and t.kind == "lp":
                op = "*"  # 3(1 + 3)
            if op is None:
                return v
            w = self._power()
            v = v * w if op == "*" else v / w
            self._note(op, v)

    def _power(self) -> Fraction:
        v = self._unary()
        if self._op("^") is not None:
            e = self._power()
            if e.denominator != 1 or abs(e) > 64 or abs(v) > 10**6:
                raise _NoParse
            v = v ** int(e)
            self._note("^", v)
        return v

    def _unary(self) -> Fraction:
        if self._op("-") is not None:
            return -self._unary()
        return self._atom()

    def _atom(self) -> Fraction:
        t = self._peek()
        if t is None:
            raise _NoParse
        self.i += 1
        if t.kind == "num" and t.number is not None:
            return t.number.value / 100 if t.number.percent else t.number.value
        if t.kind == "lp":
            v = self._expr()
            close = self._peek()
            if close is None or close.kind != "rp":
                raise _NoParse
            self.i += 1
            return v
        raise _NoParse

    def _note(self, op: str, v: Fraction) -> None:
        self.ops.add(op)
        self.subvalues.add(v)


class _NoParse(Exception):
    pass
