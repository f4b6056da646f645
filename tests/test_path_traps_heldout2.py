"""The second held-out path traps (files/path_traps/gsm8k_traps_heldout2.jsonl): hand-written
GSM8K-style traces in the styles the first two sets have little of -- QwQ-style rambling with
restarts and fragments, Qwen3/R1 markdown with numbered plans and LaTeX display math, terse
bare arithmetic (``12*35=420``, ``2 × 12 = 24, 24 − 8 = 16 → ...``), word arithmetic ("half of
170 is 85") and many ways of taking a step back. Written apart from the pruners (their author
never read them) and from the other sets, to measure the pruners on traces they were not tuned
on. The file is read here directly and checked the way tests/test_path_traps_heldout.py checks
the first held-out set: the annotations are in the reasoning, in dependency order, right, and
reach the gold answer."""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction

import pytest

from leancot.data.traps import CLASSES, load_traps, traps_path
from leancot.grading import extract_answer, is_equivalent, normalize_answer, split_think

try:  # the main set's arithmetic reader (never eval-ed); see tests/test_path_traps_data.py
    from test_path_traps_data import sides as _sides
except ImportError:  # pytest run with --import-mode=importlib
    import importlib.util
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location("_path_traps_data", Path(__file__).with_name("test_path_traps_data.py"))
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    _sides = _module.sides

HELDOUT2_PATH = traps_path().with_name("gsm8k_traps_heldout2.jsonl")
HELDOUT1_PATH = traps_path().with_name("gsm8k_traps_heldout.jsonl")
LINES = [line for line in HELDOUT2_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
TRAPS = [json.loads(line) for line in LINES]
IDS = [trap["id"] for trap in TRAPS]
FIELDS = {"id", "question", "gold_answer", "completion", "classes", "required", "retracted", "asides", "correct"}

# The notations this set writes that the main set's reader does not: ``x`` for times, a LaTeX
# ``\text{...}`` unit after a number, and word arithmetic ("15 percent of 80 is 12", "A quarter
# of 60 is 15", "half of 170 is 85"). Each is rewritten to plain arithmetic, never eval-ed.
_NOTATIONS = (
    (r"(?<=\d)\s+x\s+(?=\d)", " × "),
    (r"\\text\s*\{[^{}]*\}", " "),
    (r"(?<=\d)\s*percent\b", "%"),
    (r"\b[Hh]alf of\b", "1/2 of"),
    (r"\b[Aa] quarter of\b", "1/4 of"),
)


def reasoning(trap: dict) -> str:
    return split_think(trap["completion"])[0]


def by_id(trap: dict) -> dict[str, dict]:
    return {item["id"]: item for item in trap["required"]}


def sides(expr: str) -> list[Fraction]:
    """The main set's reader, plus the notations in :data:`_NOTATIONS`."""
    for pattern, plain in _NOTATIONS:
        expr = re.sub(pattern, plain, expr)
    return _sides(expr)


def inside_a_number(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is cut out of a longer number (``2 × 4 = 4`` in ``12 × 4 = 48``)."""
    before = text[start - 1] if start > 0 else ""
    after = text[end : end + 2]
    return (
        before.isdigit()
        or (before in ".," and start > 1 and text[start - 2].isdigit())
        or after[:1].isdigit()
        or (after[:1] in ".," and after[1:2].isdigit())
    )


@pytest.mark.parametrize(
    "expr, values",
    [
        ("12*35=420", [420, 420]),
        ("15 percent of 80 is 12", [12, 12]),
        ("A quarter of 60 is 15", [15, 15]),
        ("half of 170 is 85", [85, 85]),
        ("160 \\times 8 = 1280 \\text{ tablespoons}", [1280, 1280]),
        ("3,200 + 160 = 3,360 \\text{ dollars}", [3360, 3360]),
        ("\\frac{1}{8} \\times 3,360 = 420", [420, 420]),
        ("10 \\times \\$2.50 = \\$25.00", [25, 25]),
        ("36 × 2/3 = 24", [24, 24]),
        ("6 x 12 = 72", [72, 72]),
        ("4*18=62", [72, 62]),  # a slip reads, and its sides differ
    ],
)
def test_sides_reads_the_heldout2_notations(expr, values):
    assert sides(expr) == values


def test_sides_refuses_what_is_not_arithmetic():
    with pytest.raises(ValueError):
        sides("a quarter of that is 6")


def test_inside_a_number():
    assert inside_a_number("12 × 4 = 48", 1, 10)  # "2 × 4 = 4"
    assert not inside_a_number("so 2 × 4 = 8 boxes", 3, 12)
    assert inside_a_number("x 1.5 = 7.5", 2, 9)  # "1.5 = 7" in "1.5 = 7.5"


# --------------------------------------------------------------------------- the file


def test_set_size_and_ids():
    assert len(TRAPS) >= 30
    assert all(trap["correct"] is True for trap in TRAPS)
    assert len(set(IDS)) == len(IDS)
    assert all(trap_id.startswith("held2-") for trap_id in IDS)


def test_held_out_from_the_other_sets():
    others = load_traps() + [json.loads(line) for line in HELDOUT1_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert set(IDS).isdisjoint(trap["id"] for trap in others)
    assert {trap["question"] for trap in TRAPS}.isdisjoint(trap["question"] for trap in others)


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_fields(trap):
    assert set(trap) == FIELDS
    assert trap["completion"].startswith("<think>\n") and "\n</think>\n\n" in trap["completion"]
    assert re.fullmatch(r"[+-]?\d+(?:\.\d+)?", normalize_answer(trap["gold_answer"]))  # a GSM8K label
    assert trap["gold_answer"] == normalize_answer(trap["gold_answer"])  # plain golds: the forms are in the text
    assert trap["classes"] and set(trap["classes"]) <= set(CLASSES)
    assert len(set(trap["classes"])) == len(trap["classes"])
    assert 300 <= len(reasoning(trap).split()) <= 900


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_answer_is_graded_correct(trap):
    assert is_equivalent(extract_answer(trap["completion"]), trap["gold_answer"])


def test_every_class_is_in_three_traces():
    counts = Counter(tag for trap in TRAPS for tag in trap["classes"])
    assert {tag: counts[tag] for tag in CLASSES if counts[tag] < 3} == {}


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_classes_match_the_annotations(trap):
    """A trace tagged with a detour class has the detour annotated."""
    if "slip" in trap["classes"]:  # a slip is arithmetic that is wrong where it stands
        assert any(len(set(sides(expr))) > 1 for expr in trap["retracted"])
    if "retracted" in trap["classes"]:
        assert trap["retracted"]
    if "aside" in trap["classes"]:
        assert trap["asides"]
    if "final_pass" in trap["classes"]:  # a pass after the answer, in the same or another spelling
        text = reasoning(trap)
        answer_at = text.find(trap["required"][-1]["expr"]) + len(trap["required"][-1]["expr"])
        assert any(text.find(s, answer_at) >= 0 for s in [item["expr"] for item in trap["required"]] + trap["asides"])


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
    """A required expr's first occurrence is its derivation: not part of a retracted or aside
    span, and not cut out of a longer number."""
    text = reasoning(trap)
    detours = [(m.start(), m.end()) for s in trap["retracted"] + trap["asides"] for m in re.finditer(re.escape(s), text)]
    for item in trap["required"]:
        start = text.find(item["expr"])
        end = start + len(item["expr"])
        assert not any(a < end and start < b for a, b in detours), item["id"]
        assert not inside_a_number(text, start, end), item["id"]


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_retracted_stand_alone(trap):
    text = reasoning(trap)
    for expr in trap["retracted"]:
        start = text.find(expr)
        assert not inside_a_number(text, start, start + len(expr)), expr


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_dependencies_are_listed_and_written_first(trap):
    text, items, seen = reasoning(trap), by_id(trap), set()
    assert len(items) == len(trap["required"]), "required ids are unique"
    for item in trap["required"]:
        assert set(item["after"]) <= seen, f"{item['id']} uses {item['after']}, listed so far {sorted(seen)}"
        for dep in item["after"]:
            assert text.find(items[dep]["expr"]) < text.find(item["expr"]), f"{item['id']} is written before {dep}"
        seen.add(item["id"])


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
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


@pytest.mark.parametrize("trap", TRAPS, ids=IDS)
def test_required_are_in_written_order(trap):
    """The required list follows the reasoning: each expr is first written after the one before."""
    text = reasoning(trap)
    starts = [text.find(item["expr"]) for item in trap["required"]]
    assert starts == sorted(starts)
