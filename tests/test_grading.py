"""leancot.grading on real model outputs: the 40 bundled R1 traces and the tables in
grading_cases.py (read them as examples of what is extracted and what matches)."""

from __future__ import annotations

import builtins
import threading
from pathlib import Path

import pytest
from grading_cases import EQUIV_CASES, EXTRACT_CASES, NORMALIZE_CASES, SPLIT_CASES

from leancot import grading
from leancot.data import load_traces
from leancot.grading import (
    Extraction,
    extract_answer,
    extract_answer_detailed,
    grade,
    is_equivalent,
    normalize_answer,
    split_think,
)

TRACES = load_traces()


@pytest.fixture
def eval_spy(monkeypatch):
    """Record every string passed to eval() (sympy evals a few constants of its own)."""
    seen: list[str] = []
    real_eval = builtins.eval

    def spy(source, *args, **kwargs):
        seen.append(str(source))
        return real_eval(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", spy)
    return seen


# --------------------------------------------------------------------------- the 40 traces


@pytest.mark.parametrize("trace", TRACES, ids=[t["id"] for t in TRACES])
def test_trace_answer_is_extracted_from_after_think(trace):
    extraction = extract_answer_detailed(trace["completion"])
    assert extraction.method == "boxed"
    assert is_equivalent(extraction.answer, trace["model_answer"])
    reasoning, final, closed = split_think(trace["prompt"] + trace["completion"])
    assert closed and "Solution:" not in reasoning and "\\boxed" in final


@pytest.mark.parametrize("trace", TRACES, ids=[t["id"] for t in TRACES])
def test_trace_correctness_matches_label(trace):
    assert is_equivalent(trace["model_answer"], trace["gt_answer"]) == trace["is_correct"]
    assert grade(trace["completion"], trace["gt_answer"]) == trace["is_correct"]


@pytest.mark.parametrize("trace", TRACES, ids=[t["id"] for t in TRACES])
def test_trace_reasoning_cut_mid_thought_has_no_answer(trace):
    """The reasoning without its tags, cut at 60%, stops mid-thought: no answer (one held a draft
    "the final answer is 88572." followed by "Wait, but let me make sure ...")."""
    reasoning = split_think(trace["completion"])[0]
    assert extract_answer(reasoning[: int(0.6 * len(reasoning))]) is None


def test_traces_cover_correct_and_incorrect():
    assert len(TRACES) == 40
    assert sum(t["is_correct"] for t in TRACES) == 20


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize("text, expected", SPLIT_CASES)
def test_split_think(text, expected):
    assert split_think(text) == expected


@pytest.mark.parametrize("text, fallback, answer, method", EXTRACT_CASES)
def test_extract(text, fallback, answer, method):
    got = extract_answer_detailed(text, fallback_last_number=fallback)
    assert (got.answer, got.method) == (answer, method)
    assert extract_answer(text, fallback_last_number=fallback) == answer


@pytest.mark.parametrize("raw, expected", NORMALIZE_CASES)
def test_normalize(raw, expected):
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize("pred, gold, expected", EQUIV_CASES)
def test_is_equivalent(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


# --------------------------------------------------------------------------- behaviours


def test_cut_off_inside_think_has_no_answer_and_is_flagged():
    got = extract_answer_detailed("<think>\nso the answer is \\boxed{5}")
    assert got == Extraction(None, None, truncated=True)
    assert grade("<think>\nso the answer is \\boxed{5}", "5") is False


def test_a_tentative_answer_is_flagged_and_a_final_text_may_go_on():
    text = "Then 4 + 5 = 9, so maybe \\boxed{9}? Then times 2 is"
    assert extract_answer_detailed(text) == Extraction(None, None, tentative=True)
    assert grade(text, "9") is False
    # a reference solution (or a region already cut after the reasoning) explains on after its answer
    solution = "So the answer is $\\boxed{9}$. Note that 9 = 3^2 is a square."
    assert extract_answer(solution) is None
    assert extract_answer_detailed(solution, must_conclude=False) == Extraction("9", "boxed")


def test_answer_after_think_wins_over_boxed_in_reasoning():
    text = "<think>first try \\boxed{4}</think>\nSo the result is \\boxed{5}."
    assert grade(text, "5") and not grade(text, "4")


def test_last_number_fallback_only_when_asked():
    text = "Adding them gives 42 apples"
    assert grade(text, "42") is False
    assert grade(text, "42", fallback_last_number=True) is True
    assert extract_answer_detailed(text, fallback_last_number=True).method == "last_number"


def test_code_in_model_text_is_harmless(tmp_path, eval_spy):
    canary = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {canary}')"
    for text in (f"\\boxed{{{payload}}}", f"The answer is {payload}", f"#### {payload}"):
        answer = extract_answer(text)
        assert answer is not None
        assert is_equivalent(answer, "0") is False
        assert is_equivalent(answer, "\\frac{1}{2}") is False
        assert grade(text, payload) is True  # the same string, compared as text
    assert not canary.exists()
    assert not [src for src in eval_spy if "__import__" in src or "touch" in src]


def test_grading_source_has_no_eval():
    source = Path(grading.__file__).read_text()
    assert "eval(" not in source.replace("never ``eval``", "")


def test_is_equivalent_works_off_the_main_thread():
    results: list[bool] = []

    def work():
        results.extend(
            [
                is_equivalent("0.5", "\\frac{1}{2}"),
                is_equivalent("2\\sqrt{2}", "\\sqrt{8}"),
                is_equivalent("\\frac{7}{2}", "3"),
            ]
        )

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert results == [True, True, False]


def test_gsm8k_style_output_with_units_and_commas():
    output = "Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * $2 = $18.\n#### $1,018 dollars"
    assert grade(output, "1018")
