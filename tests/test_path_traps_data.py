"""The path-trap traces (leancot.data.traps): hand-written GSM8K-style R1 traces whose
annotations say which computations a faithful pruned path keeps. A pruner test trusts
these annotations, so each one is checked against the text it describes: the computations
are in the reasoning, in the order they depend on each other, right, and reach the answer."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

import pytest

from leancot.data.traps import CLASSES, class_table, load_traps, traps_path
from leancot.grading import extract_answer, is_equivalent, normalize_answer, split_think

TRAPS = load_traps()
IDS = [trap["id"] for trap in TRAPS]
CHAINED = [trap for trap in TRAPS if trap["required"]]
CORRECT = [trap for trap in TRAPS if trap["correct"]]
FIELDS = {"id", "question", "gold_answer", "completion", "classes", "required", "retracted", "asides", "correct"}


def reasoning(trap: dict) -> str:
    return split_think(trap["completion"])[0]


def by_id(trap: dict) -> dict[str, dict]:
    return {item["id"]: item for item in trap["required"]}


# --------------------------------------------------------------------------- arithmetic
# A required computation is checked by evaluating it: the notations R1 writes are turned
# into plain arithmetic and parsed here (never eval-ed), with exact fractions.

_WORDS = ((r"\bdivided by\b", "/"), (r"\btimes\b", "*"), (r"\bplus\b", "+"), (r"\bminus\b", "-"), (r"\bof\b", "*"), (r"\bis\b", "="))
_SYMBOLS = (("\\times", "*"), ("\\cdot", "*"), ("×", "*"), ("\\div", "/"), ("÷", "/"), ("−", "-"), ("–", "-"), ("\\%", "%"))
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|[-+*/()=%]")


def tokens(expr: str) -> list[str]:
    """``"$120 \\times \\frac{3}{4} = $90"`` -> ``['120', '*', '(', '(', '3', ')', '/', ...]``."""
    s = re.sub(r"\\frac\{([^{}]+)\}\{([^{}]+)\}", r"((\1)/(\2))", expr)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)  # thousands separators, not list commas
    for symbol, plain in _SYMBOLS:
        s = s.replace(symbol, plain)
    for word, plain in _WORDS:
        s = re.sub(word, plain, s)
    s = re.sub(r"\\\$|\$|\\[,;! ]", " ", s)
    found = _TOKEN_RE.findall(s)
    if "".join(found) != re.sub(r"\s+", "", s):
        raise ValueError(f"not plain arithmetic: {expr!r}")
    return found


def evaluate(toks: list[str]) -> Fraction:
    """The value of one side: numbers, + - * / %, parentheses, usual precedence."""
    value, rest = _sum(toks)
    if rest:
        raise ValueError(f"left over: {rest}")
    return value


def _sum(toks: list[str]) -> tuple[Fraction, list[str]]:
    value, toks = _product(toks)
    while toks and toks[0] in "+-":
        op, (right, toks) = toks[0], _product(toks[1:])
        value = value + right if op == "+" else value - right
    return value, toks


def _product(toks: list[str]) -> tuple[Fraction, list[str]]:
    value, toks = _atom(toks)
    while toks and toks[0] in "*/":
        op, (right, toks) = toks[0], _atom(toks[1:])
        value = value * right if op == "*" else value / right
    return value, toks


def _atom(toks: list[str]) -> tuple[Fraction, list[str]]:
    if not toks:
        raise ValueError("missing number")
    if toks[0] == "(":
        value, toks = _sum(toks[1:])
        if not toks or toks[0] != ")":
            raise ValueError("unclosed parenthesis")
        toks = toks[1:]
    elif toks[0] == "-":
        value, toks = _atom(toks[1:])
        value = -value
    else:
        value, toks = Fraction(toks[0]), toks[1:]
    if toks and toks[0] == "%":  # 25% -> 1/4
        value, toks = value / 100, toks[1:]
    return value, toks


def sides(expr: str) -> list[Fraction]:
    """The values of the ``=``-separated sides of a computation (a chain has several)."""
    parts = " ".join(tokens(expr)).split("=")
    if len(parts) < 2:
        raise ValueError(f"no '=' in {expr!r}")
    return [evaluate(part.split()) for part in parts]


@pytest.mark.parametrize(
    "expr, values",
    [
        ("55 − 10 = 45", [45, 45]),
        ("$120 \\times \\frac{3}{4} = $90", [90, 90]),
        ("2 × 3 + 4 = 6 + 4 = 10", [10, 10, 10]),
        ("25% of $1,800 = $450", [450, 450]),
        ("4 divided by 2 is 2", [2, 2]),
        ("7 × 8 = 54", [56, 54]),  # a slip evaluates, and its sides differ
    ],
)
def test_sides_reads_the_notations_r1_writes(expr, values):
    assert sides(expr) == values


def test_sides_refuses_what_is_not_arithmetic():
    with pytest.raises(ValueError):
        sides("45 goats + 25 goats = 70")


# --------------------------------------------------------------------------- the file


def test_set_size_and_ids():
    assert len(TRAPS) >= 44
    assert sum(trap["correct"] is True for trap in TRAPS) >= 40
    assert sum(trap["correct"] is False for trap in TRAPS) >= 4
    assert len(set(IDS)) == len(IDS)


def test_every_line_is_one_trace():
    lines = [line for line in traps_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == len(TRAPS)


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_fields(trap):
    assert set(trap) == FIELDS
    assert trap["completion"].startswith("<think>\n") and "\n</think>\n\n" in trap["completion"]
    assert re.fullmatch(r"[+-]?\d+(?:\.\d+)?", normalize_answer(trap["gold_answer"]))  # a GSM8K label
    assert trap["classes"] and set(trap["classes"]) <= set(CLASSES)
    assert 300 <= len(reasoning(trap).split()) <= 1000


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_answer_is_graded_as_labelled(trap):
    assert is_equivalent(extract_answer(trap["completion"]), trap["gold_answer"]) is trap["correct"]


def test_every_class_is_in_five_traces():
    counts = Counter(tag for trap in TRAPS for tag in trap["classes"])
    assert {tag: counts[tag] for tag in CLASSES if counts[tag] < 5} == {}


def test_readme_table_is_the_files_count():
    readme = traps_path().with_name("README.md").read_text(encoding="utf-8")
    assert class_table(TRAPS) in readme, "paste class_table(load_traps()) into the README"


# --------------------------------------------------------------------------- annotations


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_annotations_are_quoted_from_the_reasoning(trap):
    text = reasoning(trap)
    quoted = [item["expr"] for item in trap["required"]] + trap["retracted"] + trap["asides"]
    assert [s for s in quoted if s not in text] == []
    assert [s for s in trap["retracted"] if text.count(s) != 1] == []  # taken back where it stands, nowhere else
    assert set(trap["retracted"]).isdisjoint(item["expr"] for item in trap["required"])
    assert set(trap["asides"]).isdisjoint(item["expr"] for item in trap["required"])


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_required_is_first_written_outside_detours(trap):
    """A required expr's first occurrence is its derivation, not part of a retracted or aside span."""
    text = reasoning(trap)
    detours = [(m.start(), m.end()) for s in trap["retracted"] + trap["asides"] for m in re.finditer(re.escape(s), text)]
    for item in trap["required"]:
        start = text.find(item["expr"])
        end = start + len(item["expr"])
        assert not any(a < end and start < b for a, b in detours), item["id"]


@pytest.mark.parametrize("trap", CHAINED, ids=[trap["id"] for trap in CHAINED])
def test_dependencies_are_listed_and_written_first(trap):
    text, items, seen = reasoning(trap), by_id(trap), set()
    for item in trap["required"]:
        assert item["id"] not in seen
        assert set(item["after"]) <= seen, f"{item['id']} uses {item['after']}, listed so far {sorted(seen)}"
        for dep in item["after"]:
            assert text.find(items[dep]["expr"]) < text.find(item["expr"]), f"{item['id']} is written before {dep}"
        seen.add(item["id"])


@pytest.mark.parametrize("trap", CORRECT, ids=[trap["id"] for trap in CORRECT])
def test_required_is_the_chain_to_the_answer(trap):
    """Everything required feeds the last computation, and that one gives the gold answer."""
    items = by_id(trap)
    assert items, "a correct trace names its chain"
    last = trap["required"][-1]
    reached, todo = set(), [last["id"]]
    while todo:
        current = todo.pop()
        reached.add(current)
        todo.extend(items[current]["after"])
    assert reached == set(items)
    assert sides(last["expr"])[-1] == Fraction(normalize_answer(trap["gold_answer"]))


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_required_arithmetic_is_right(trap):
    wrong = {item["id"]: item["expr"] for item in trap["required"] if len(set(sides(item["expr"]))) != 1}
    assert wrong == {}
