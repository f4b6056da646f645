"""Tolerant JSON extraction and strict validation of the teacher's answers."""

import json

import pytest

from leancot.prune.heuristic import synthesise as synthesise  # what the teacher's steps are assembled with
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


def _steps(texts=("Tom has 3 apples.", "Hmm.", "3 + 4 = 7.")):
    return [Step(index=i, text=t, skill="computation") for i, t in enumerate(texts)]


def test_compression_names_steps_and_writes_text_only_for_rewrites():
    answer = json.dumps(
        {
            "steps": None,
            "actions": [
                {"step": 1, "action": "KEEP"},
                {"step": 2, "action": "delete", "rewritten": "ignored"},
                {"step": 3, "action": "SINGLE-STEP COMPRESS", "rewritten": " 3+4=7. "},
            ],
        }
    )
    steps, inferred = parse_compression(answer, _steps())
    assert [s.action for s in steps] == ["keep", "delete", "compress"] and inferred == []
    assert [s.rewritten for s in steps] == [None, None, "3+4=7."]
    assert synthesise(steps, "7") == "Tom has 3 apples.\n3+4=7.\nThe answer is \\boxed{7}"  # the kept text as it is, then the rewrite


def test_a_merge_run_has_its_text_on_the_first_step_and_may_skip_deleted_steps():
    steps = _steps(("Tom has 3 apples.", "He buys 4.", "Hmm.", "So 3 + 4 = 7.", "Done."))
    actions = [
        {"step": 1, "action": "KEEP"},
        {"step": 2, "action": "MULTI-STEP COMPRESS", "rewritten": "He buys 4, so 3 + 4 = 7."},
        {"step": 3, "action": "DELETE"},
        {"step": 4, "action": "MULTI-STEP COMPRESS"},
        {"step": 5, "action": "DELETE"},
    ]
    out, _ = parse_compression(json.dumps({"actions": actions}), steps)
    assert [(s.action, s.rewritten) for s in out][1:4] == [("merge", "He buys 4, so 3 + 4 = 7."), ("delete", None), ("merge", "")]
    assert synthesise(out, "7") == "Tom has 3 apples.\nHe buys 4, so 3 + 4 = 7.\nThe answer is \\boxed{7}"


def test_steps_the_answer_leaves_out_are_kept_and_reported():
    steps, inferred = parse_compression(json.dumps({"actions": [{"step": 2, "action": "DELETE"}]}), _steps())
    assert [s.action for s in steps] == ["keep", "delete", "keep"] and inferred == [0, 2]


@pytest.mark.parametrize(
    "actions, error",
    [
        ([{"step": 1, "action": "KEEP"}, {"step": 2, "action": "SHRINK"}], "SHRINK"),
        ([{"step": 9, "action": "KEEP"}], "numbered 1 to 3"),
        ([], '"actions" list'),
        ([{"step": 1, "action": "SINGLE-STEP COMPRESS"}], 'step 1 is SINGLE-STEP COMPRESS without "rewritten"'),
        ([{"step": 1, "action": "KEEP"}, {"step": 2, "action": "MULTI-STEP COMPRESS"}], "no run before it to join"),
        ([{"step": 1, "action": "KEEP"}, {"step": 1, "action": "DELETE"}], "two different actions"),
        ([{"step": i, "action": "DELETE"} for i in (1, 2, 3)], "every step is DELETE"),
    ],
)
def test_compression_errors_say_what_to_fix(actions, error):
    with pytest.raises(ParseError, match=error):
        parse_compression(json.dumps({"actions": actions}), _steps())
