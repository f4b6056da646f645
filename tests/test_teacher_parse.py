"""Tolerant JSON extraction and strict validation of the teacher's answers."""

import json

import pytest

from leancot.prune.teacher.parse import ParseError, coverage, extract_json, parse_compression, parse_segmentation
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


def _steps():
    return [Step(index=i, text=t, skill="computation") for i, t in enumerate(["Tom has 3 apples.", "Hmm.", "3 + 4 = 7."])]


def test_compression_maps_drp_actions_and_checks_the_ending():
    answer = json.dumps(
        {
            "actions": [
                {"step": 1, "action": "KEEP", "rewritten": None},
                {"step": 2, "action": "delete"},
                {"step": 3, "action": "SINGLE-STEP COMPRESS", "rewritten": "3+4=7."},
            ],
            "pruned": "Tom has 3 apples; 3 + 4 = 7. The answer is \\boxed{7}.",
        }
    )
    steps, pruned = parse_compression(answer, _steps(), "7")
    assert [s.action for s in steps] == ["keep", "delete", "compress"] and steps[2].rewritten == "3+4=7."
    assert pruned.endswith("\\boxed{7}.")


@pytest.mark.parametrize(
    "actions, pruned, error",
    [
        ([{"step": 1, "action": "KEEP"}, {"step": 2, "action": "SHRINK"}, {"step": 3, "action": "KEEP"}], "x. The answer is 7.", "SHRINK"),
        ([{"step": 1, "action": "KEEP"}], "x. The answer is 7.", "no action for step"),
        ([{"step": 9, "action": "KEEP"}], "x. The answer is 7.", "numbered 1 to 3"),
        ([{"step": i, "action": "KEEP"} for i in (1, 2, 3)], "3 + 4 = 7.", "must end with"),
        ([{"step": i, "action": "KEEP"} for i in (1, 2, 3)], "The answer is \\boxed{8}.", "original trace's answer is 7"),
    ],
)
def test_compression_errors_say_what_to_fix(actions, pruned, error):
    with pytest.raises(ParseError, match=error):
        parse_compression(json.dumps({"actions": actions, "pruned": pruned}), _steps(), "7")
