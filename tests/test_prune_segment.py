"""Step decomposition: sentences grouped into skill-labelled steps that cover the trace."""

import json
import re
from pathlib import Path

import pytest

from leancot import grading
from leancot.prune.segment import decompose, sentences
from leancot.prune.skills import SKILLS, label

TRACES = Path(__file__).resolve().parents[1] / "src/leancot/data/files/traces/r1_distill_math_traces.jsonl"


def _squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def real_traces():
    rows = [json.loads(line) for line in TRACES.open()]
    for r in rows:
        r["reasoning"] = grading.split_think(r["completion"])[0]
    return rows


def test_taxonomy_has_the_twelve_documented_skills():
    assert list(SKILLS) == [
        "problem_setup",
        "restatement",
        "planning",
        "fact_retrieval",
        "computation",
        "formula_application",
        "case_analysis",
        "verification",
        "self_correction",
        "hesitation",
        "result_consolidation",
        "final_answer",
    ]
    assert all(d.strip() for d in SKILLS.values())


@pytest.mark.parametrize(
    "text, skill",
    [
        ("Hmm, let me think.", "hesitation"),
        ("Wait, let me double-check that.", "verification"),
        ("Wait, that's wrong: 12 + 6 = 18, not 17.", "self_correction"),
        ("So, 3 \\times 4 = 12.", "computation"),
        ("I remember that the sum of angles in a triangle is 180 degrees.", "fact_retrieval"),
        ("Therefore, the answer is \\boxed{18}.", "final_answer"),
        ("Case 1: x is even.", "case_analysis"),
        ("Adding these up, there are 49 + 50 = 99 in total.", "result_consolidation"),
    ],
)
def test_label_examples(text, skill):
    assert label(text) == skill


def test_decimals_abbreviations_and_eg_do_not_end_a_sentence():
    text = "The rate is 6.17 percent, e.g. for Dr. Smith at approx. noon. Next, we add 1.5 to it."
    assert sentences(text) == [
        "The rate is 6.17 percent, e.g. for Dr. Smith at approx. noon.",
        "Next, we add 1.5 to it.",
    ]


def test_display_math_is_never_split_and_stays_with_its_lead_in():
    text = "So, the numerator becomes:\n\\[\n\\frac{1}{2}. \\quad X = 3. Y = 4\n\\]\nThen we divide. Also $$a = 1. B = 2$$ holds."
    sents = sentences(text)
    assert sents[0] == "So, the numerator becomes:\n\\[\n\\frac{1}{2}. \\quad X = 3. Y = 4\n\\]"
    assert "Also $$a = 1. B = 2$$ holds." in sents


def test_a_list_is_one_unit():
    text = "Let's count each set:\n- 80-89: 10 numbers\n- 180-189: 10. Fine.\n- 480-488: 9\n\nSo 29 in all."
    assert sentences(text)[0].endswith("- 480-488: 9")


def test_steps_group_sentences_and_separate_hesitation():
    text = "First, 3 \\times 4 = 12. Then 12 + 5 = 17.\n\nHmm, wait. Let me think.\n\nSo the total is 17."
    steps = decompose(text)
    assert [s.text for s in steps] == ["First, 3 \\times 4 = 12. Then 12 + 5 = 17.", "Hmm, wait. Let me think.", "So the total is 17."]
    assert steps[1].skill == "hesitation"
    assert all(s.action == "keep" and s.rewritten is None for s in steps)
    assert [s.index for s in steps] == [0, 1, 2]


def test_steps_cover_every_real_trace_exactly(real_traces):
    for r in real_traces:
        steps = decompose(r["reasoning"], r["problem"])
        assert _squeeze("".join(s.text for s in steps)) == _squeeze(r["reasoning"]), r["id"]
        assert all(s.skill in SKILLS for s in steps)
    # a step is a unit of reasoning, not a clause: far fewer steps than sentences
    n_steps = sum(len(decompose(r["reasoning"])) for r in real_traces)
    n_sentences = sum(len(sentences(r["reasoning"])) for r in real_traces)
    assert n_steps < 0.8 * n_sentences


def test_no_real_decimal_is_split(real_traces):
    for r in real_traces:
        steps = decompose(r["reasoning"])
        decimals = re.findall(r"\d+\.\d+", r["reasoning"])
        in_steps = [d for s in steps for d in re.findall(r"\d+\.\d+", s.text)]
        assert in_steps == decimals, r["id"]


def test_unclosed_math_and_empty_input_are_harmless():
    assert decompose("") == []
    steps = decompose("We get \\[ x = 1. No closer here. And $5 is cheap. Done.")
    assert _squeeze("".join(s.text for s in steps)) == _squeeze("We get \\[ x = 1. No closer here. And $5 is cheap. Done.")


def test_cue_key_prefilters_never_hide_a_match(real_traces):
    """Each cue's literal ``keys`` (a speed-up) must be a necessary condition of its regex."""
    from leancot.prune import skills
    from leancot.prune.segment import units

    cues = [c for c in vars(skills).values() if isinstance(c, skills._Cue) and c.keys]
    assert len(cues) >= 8
    heads = [r["reasoning"][s:e].strip().lower()[:160] for r in real_traces for s, e, _ in units(r["reasoning"])]
    for head in heads:
        for cue in cues:
            if cue.anywhere.search(head):
                assert any(k in head for k in cue.keys), (cue.anywhere.pattern[:40], head)
        assert skills._has_math(head, bool(skills._DIGIT.search(head))) == bool(skills._MATH.search(head)), head
