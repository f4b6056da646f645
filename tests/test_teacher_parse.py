"""Tolerant JSON extraction and strict validation of the teacher's answers."""

import json

import pytest

from leancot.prune.heuristic import synthesise as synthesise  # what the teacher's steps are assembled with
from leancot.prune.teacher.parse import (
    ParseError,
    compression_answer,
    coverage,
    extract_json,
    parse_compression,
    parse_segmentation,
    parse_unit_segmentation,
    unit_segmentation_answer,
)
from leancot.prune.teacher.prompts import sentence_units
from leancot.schema import Step

REASONING = "Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7."


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! Here it is:\n```json\n{"a": 1}\n```\nanything else?',
        '<think>I should answer {with json}</think>{"a": 1} trailing words',
        'The steps {are} below: {"a": 1}',
    ],
)
def test_extract_json_finds_the_object_around_prose_fences_and_think(text):
    assert extract_json(text) == {"a": 1}


def test_extract_json_without_an_object_is_a_parse_error():
    with pytest.raises(ParseError, match="no JSON object"):
        extract_json("I cannot help with that. [1, 2]")


def test_coverage_counts_verbatim_steps_in_order_ignoring_whitespace():
    steps = ["Tom has 3 apples.", "Hmm, let me think.", "He buys 4 more,\n so 3 + 4 = 7."]
    assert coverage(steps, REASONING) == 1.0
    assert coverage(steps[:1], REASONING) < 0.5
    assert coverage(["He buys 4 more, so 3 + 4 = 7.", "Tom has 3 apples."], REASONING) < 0.98  # out of order
    assert coverage(["Tom owns 3 apples.", *steps[1:]], REASONING) < 0.98  # rewritten


def test_segmentation_is_validated_and_unknown_skills_are_relabelled():
    answer = json.dumps(
        {
            "steps": [
                {"text": "Tom has 3 apples.", "skill": "Problem Setup"},
                {"text": "Hmm, let me think.", "skill": "musing"},
                {"text": "He buys 4 more, so 3 + 4 = 7.", "skill": "computation"},
            ]
        }
    )
    steps = parse_segmentation(answer, REASONING)
    assert [s.skill for s in steps][0] == "problem_setup" and steps[2].skill == "computation"
    assert steps[1].skill != "musing"  # relabelled by the offline labeller
    with pytest.raises(ParseError, match="copy only"):
        parse_segmentation(json.dumps({"steps": [{"text": "Tom has 3 apples.", "skill": "computation"}]}), REASONING)
    with pytest.raises(ParseError, match='"steps"'):
        parse_segmentation('{"result": 3}', REASONING)


def _steps(texts=("Tom has 3 apples.", "Hmm.", "3 + 4 = 7.")):
    return [Step(index=i, text=t, skill="computation") for i, t in enumerate(texts)]


def _compressed(actions, rewritten=None, steps=None, names=None):
    return parse_compression(json.dumps({"steps": None, "actions": actions, "rewritten": rewritten}), steps or _steps(), names)


def test_compression_names_every_step_with_a_letter_and_writes_text_only_for_rewrites():
    steps = _compressed("1K 2D 3C", [{"step": 3, "text": " 3+4=7. "}])
    assert [s.action for s in steps] == ["keep", "delete", "compress"]
    assert [s.rewritten for s in steps] == [None, None, "3+4=7."]
    assert synthesise(steps, "7") == "Tom has 3 apples.\n3+4=7.\nThe answer is \\boxed{7}"  # the kept text as it is, then the rewrite


@pytest.mark.parametrize("actions", ["1K 2D 3K", "1k, 2d, 3k", "1: K; 2: D; 3: K", "1K2D3K", " 1 K  2 D\n3 K "])
def test_the_actions_string_is_read_with_any_separators_and_case(actions):
    assert [s.action for s in _compressed(actions, [])] == ["keep", "delete", "keep"]


def test_a_merge_run_has_its_text_on_the_first_step_and_may_skip_deleted_steps():
    steps = _steps(("Tom has 3 apples.", "He buys 4.", "Hmm.", "So 3 + 4 = 7.", "Done."))
    out = _compressed("1K 2M 3D 4M 5D", [{"step": 2, "text": "He buys 4, so 3 + 4 = 7."}], steps)
    assert [(s.action, s.rewritten) for s in out][1:4] == [("merge", "He buys 4, so 3 + 4 = 7."), ("delete", None), ("merge", "")]
    assert synthesise(out, "7") == "Tom has 3 apples.\nHe buys 4, so 3 + 4 = 7.\nThe answer is \\boxed{7}"
    # two runs side by side: an M with its own text starts the second
    out = _compressed("1M 2M 3M 4M 5K", [{"step": 1, "text": "a"}, {"step": 3, "text": "b"}], steps)
    assert [s.rewritten for s in out] == ["a", "", "b", "", None]


def test_with_units_a_step_is_named_by_its_first_unit():
    out = _compressed("1K 4D 6C", [{"step": 6, "text": "3+4=7."}], names=[1, 4, 6])
    assert [(s.action, s.rewritten) for s in out] == [("keep", None), ("delete", None), ("compress", "3+4=7.")]
    with pytest.raises(
        ParseError, match="5 is not a step: a step is named by its first unit, and the steps around it start at units 1, 4, 6"
    ):
        _compressed("1K 4D 5C", [{"step": 5, "text": "3+4=7."}], names=[1, 4, 6])
    with pytest.raises(ParseError, match="2 is not a step: a step is named by its first unit"):
        _compressed("1K 2D 3K", [], names=[1, 4, 6])  # numbered, not named by their units
    with pytest.raises(ParseError, match="steps 4, 6 have no action"):
        _compressed("1K", [], names=[1, 4, 6])


@pytest.mark.parametrize(
    "actions, rewritten, error",
    [
        ("1K 2X 3K", [], "step 2 has the action 'X'; use K .KEEP., D .DELETE., C .SINGLE-STEP COMPRESS. or M"),
        ("1K 2DELETE 3K", [], "step 2 has the action 'DELETE'"),
        ("1K 2D", [], "step 3 has no action"),
        ("2D 3K", [], "step 1 has no action"),
        ("1K 2D 2D 3K", [], "step 2 is given twice"),
        ("1K 2D 2K 3K", [], "step 2 is given twice"),
        ("1K 3K 2D", [], "step 2 comes after step 3: give the steps in order"),
        ("1K 2D 3K 9K", [], "9 is not a step: the steps are numbered 1 to 3"),
        ("K D K", [], "\"actions\" cannot be read from 'K D K'"),
        ("1K 2D ?3K", [], "\"actions\" cannot be read from '\\?3K'"),
        ("", [], '"actions" must be one string'),
        (["1K"], [], '"actions" must be one string'),
        ("1K 2D 3C", [], 'step 3 is C without a text in "rewritten"'),
        ("1K 2D 3C", [{"step": 3, "text": "  "}], 'step 3 is C without a text in "rewritten"'),
        ("1K 2M 3K", [], "step 2 is M without text, but no M run before it to join"),
        ("1M 2D 3M", [{"step": 3, "text": "x"}], "step 1 is M without text, but no M run before it"),
        ("1K 2K 3M", [{"step": 1, "text": "x"}], "step 1 is K but has a rewritten text"),
        ("1K 2D 3K", [{"step": 2, "text": "x"}], "step 2 is D but has a rewritten text"),
        ("1K 2D 3C", [{"step": 3, "text": "a"}, {"step": 3, "text": "b"}], "step 3 has two rewritten texts"),
        ("1K 2D 3C", [{"step": 7, "text": "a"}], "rewritten entry 1 names step 7; the steps are numbered 1 to 3"),
        ("1K 2D 3C", [{"text": "a"}], "rewritten entry 1 names step None"),
        ("1K 2D 3C", ["3+4=7"], 'rewritten entry 1 must be {"step": <step>, "text": "..."}'),
        ("1K 2D 3C", {"3": "3+4=7"}, '"rewritten" must be a list'),
        ("1D 2D 3D", [], "every step is D"),
    ],
)
def test_compression_errors_say_what_to_fix(actions, rewritten, error):
    with pytest.raises(ParseError, match=error):
        _compressed(actions, rewritten)


def test_compression_answer_is_what_the_parser_reads():
    steps = _steps(("a 1.", "b 2.", "c 3.", "d 4.", "e 5.", "f 6."))
    acted = [
        s.model_copy(update={"action": a, "rewritten": r})
        for s, (a, r) in zip(
            steps, [("keep", None), ("compress", "B 2."), ("merge", "C 3, D 4."), ("delete", None), ("merge", ""), ("keep", None)]
        )
    ]
    for names in (None, [1, 3, 4, 8, 9, 12]):
        answer = compression_answer(acted, names)
        assert answer["actions"] == ("1K 2C 3M 4D 5M 6K" if names is None else "1K 3C 4M 8D 9M 12K")
        assert _compressed(answer["actions"], answer["rewritten"], steps, names) == acted


# ---------------------------------------------------------------- segmentation by unit ids

UNIT_REASONING = "Tom has 3 apples. Hmm, let me think. He buys 4 more. So 3 + 4 = 7."


def _units_segmented(steps):
    spans = sentence_units(UNIT_REASONING)
    return parse_unit_segmentation(json.dumps({"steps": steps, "actions": None, "rewritten": None}), UNIT_REASONING, spans)


@pytest.mark.parametrize(
    "answer",
    [
        "1 problem_setup; 2 hesitation; 3 computation",
        "1 Problem Setup;2 hesitation;\n3: computation;",
        "1 problem-setup\n2 HESITATION\n3 computation.",
    ],
)
def test_unit_segmentation_gives_each_steps_first_unit_and_skill(answer):
    steps, ranges = _units_segmented(answer)
    assert ranges == [(1, 1), (2, 2), (3, 4)]
    assert [(s.text, s.skill) for s in steps] == [
        ("Tom has 3 apples.", "problem_setup"),
        ("Hmm, let me think.", "hesitation"),
        ("He buys 4 more. So 3 + 4 = 7.", "computation"),  # the trace's own text, units 3 to the end
    ]
    assert (
        unit_segmentation_answer([1, 2, 3], ["problem_setup", "hesitation", "computation"])["steps"]
        == "1 problem_setup; 2 hesitation; 3 computation"
    )


@pytest.mark.parametrize(
    "answer, error",
    [
        ("2 computation; 3 computation", "the first step starts at unit 2; it must start at unit 1"),
        ("1 computation; 3 computation; 2 hesitation", "step 3 starts at unit 2, not after step 2 .unit 3."),
        ("1 computation; 3 computation; 3 hesitation", "every step must start after the one before it"),
        ("1 computation; 9 hesitation", "step 2 starts at unit 9, but the units are numbered 1 to 4"),
        ("1 computation; 2 musing", "the step at unit 2 has the skill 'musing', which is not in the table; use one of: problem_setup"),
        ("1 computation; 2-3 hesitation", "step 2 reads '2-3 hesitation'; give each step as its first unit and its skill"),
        ("computation; hesitation", "step 1 reads 'computation'"),
        ("", '"steps" must be one string'),
        ([{"start": 1, "skill": "computation"}], '"steps" must be one string'),
    ],
)
def test_unit_segmentation_errors_say_what_to_fix(answer, error):
    with pytest.raises(ParseError, match=error):
        _units_segmented(answer)
