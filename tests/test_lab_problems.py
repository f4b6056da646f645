"""The lab's problem generator and verbose teacher, checked against the real pruner."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest

from leancot import grading
from leancot.lab.problems import TEMPLATES, check, coincidence, generate
from leancot.lab.teacher import CORRECTIONS, TeacherStyle, equation, write_annotated, write_trace
from leancot.prune.annotations import complete
from leancot.prune.heuristic import prune_trace
from leancot.prune.verify import check as verify


def test_generation_is_a_pure_function_of_the_seed():
    assert generate(30, seed=3) == generate(30, seed=3)
    assert [p.question for p in generate(30, seed=3)] != [p.question for p in generate(30, seed=4)]


def test_every_problem_has_a_correct_gold_and_2_to_4_operations():
    problems = generate(300, seed=0)
    assert {p.template for p in problems} == set(TEMPLATES)
    assert len({p.question for p in problems}) == 300
    for p in problems:
        assert check(p), p
        assert 2 <= len(p.ops) <= 4
        assert p.answer == p.ops[-1].result > 0
        assert all(v > 10 for v in (op.result for op in p.ops[:-1])), "intermediate values stay traceable"


def test_sums_and_differences_need_no_carry_or_borrow():
    for p in generate(300, seed=1):
        for op in p.ops:
            if op.op in "+-":
                units = op.left % 10 + op.right % 10 if op.op == "+" else op.left % 10 - op.right % 10
                assert 0 <= units <= 9, f"{equation(op)} carries or borrows ({p.question})"


def test_excluded_questions_are_never_drawn():
    train = generate(100, seed=0)
    test = generate(50, seed=1, exclude={p.question for p in train})
    assert not {p.question for p in train} & {p.question for p in test}


def test_record_is_what_leancot_data_loads(tmp_path):
    from leancot.data import load
    from leancot.io import write_jsonl_atomic

    problems = generate(5, seed=0, prefix="t")
    write_jsonl_atomic(tmp_path / "p.jsonl", [p.record() for p in problems])
    loaded = load(str(tmp_path / "p.jsonl"))
    assert [(q.id, q.gold_answer) for q in loaded] == [(p.id, str(p.answer)) for p in problems]


def test_teacher_traces_are_r1_style_and_reach_the_gold():
    problems = generate(200, seed=0)
    traces = [write_trace(p, seed=0) for p in problems]
    for p, t in zip(problems, traces):
        reasoning, final, closed = grading.split_think(t)
        assert closed and t.startswith("<think>\n")
        assert grading.extract_answer(t) == str(p.answer)
        for op in p.ops:  # every needed computation is written correctly at least once
            assert equation(op) in reasoning
    text = "\n".join(traces)
    for cue in ("Hmm", "Let me double-check", "Alternatively", "that's wrong|I made a mistake|not right|miscalculated"):
        assert re.search(cue, text), f"no {cue!r} in 200 traces"


@pytest.mark.parametrize("seed", [0, 1])
def test_the_real_pruner_cuts_teacher_traces_and_keeps_the_answer(seed):
    problems = generate(100, seed=seed)
    complete = before = after = 0
    for p in problems:
        reasoning = grading.split_think(write_trace(p, seed=seed))[0].strip()
        steps, pruned = prune_trace(reasoning, str(p.answer), p.question)
        assert verify(pruned, original_answer=str(p.answer), gold=str(p.answer), original_text=reasoning, question=p.question) == []
        assert {"hesitation", "verification"} <= {s.skill for s in steps if s.action == "delete"}
        complete += all(equation(op) in pruned for op in p.ops)  # the corrected value survives, never the slip
        before, after = before + len(reasoning), after + len(pruned)
    assert after < 0.3 * before
    assert complete >= 95  # the heuristic pruner occasionally drops a step it mistakes for a restatement


SHARES = {"shared_value": 0.1, "answer_equals_given": 0.1}


def test_a_share_of_problems_is_drawn_holding_each_coincidence():
    assert all(coincidence(p.question, p.ops) is None for p in generate(300, seed=0))  # by default: every value is new
    problems = generate(1000, seed=0, **SHARES)
    kinds = Counter(coincidence(p.question, p.ops) for p in problems)
    assert 60 <= kinds["shared_value"] <= 140 and 60 <= kinds["answer_equals_given"] <= 140  # 100 each, ~4 sd either side
    for p in problems:
        assert check(p) and all(v > 10 for v in (op.result for op in p.ops[:-1]))
        given = {int(t) for t in re.findall(r"\d+", p.question)}
        if coincidence(p.question, p.ops) == "shared_value":  # a computed value the question also holds, used later on
            assert any(op.result in given for op in p.ops[:-1])
        elif coincidence(p.question, p.ops) == "answer_equals_given":
            assert p.answer in given
    with pytest.raises(ValueError):
        generate(5, shared_value=0.7, answer_equals_given=0.7)


# Each situation's mark in a trace: counted, it is how many times the teacher wrote the situation.
MARKS = {
    "p_retract": "I see my mistake",
    "p_aside": r"\? No, ",
    "p_mistake": "|".join(re.escape(c) for c in CORRECTIONS),
    "p_detour": "Alternatively, maybe I could add",
}


def _written(problems, knob: str, p: float) -> tuple[int, int]:
    """How many times the teacher wrote the situation of ``knob`` (at probability ``p``, the others off), and in how many traces."""
    style = TeacherStyle(**{**{k: 0.0 for k in MARKS}, knob: p})
    counts = [len(re.findall(MARKS[knob], write_trace(q, 0, style))) for q in problems]
    return sum(counts), sum(map(bool, counts))


@pytest.mark.parametrize("knob", list(MARKS))
def test_the_teacher_writes_each_situation_at_its_probability(knob):
    """Where the situation can be written (as often as it is at probability 1), it is written at its probability."""
    problems = generate(300, seed=2, **SHARES)
    assert _written(problems, knob, 0.0) == (0, 0)
    places, traces = _written(problems, knob, 1.0)
    assert traces >= 150  # most problems offer a place (a misreading needs a digit the problem does not hold)
    some, _ = _written(problems, knob, 0.25)
    sd = (places * 0.25 * 0.75) ** 0.5
    assert abs(some - 0.25 * places) < 4 * sd, (some, places)


def test_every_annotation_holds_on_its_trace():
    problems = generate(300, seed=3, **SHARES)
    every = Counter()
    for p in problems:
        completion, note = write_annotated(p, seed=3)
        assert completion == write_trace(p, seed=3)  # write_trace is the same trace, unannotated
        reasoning = grading.split_think(completion)[0]
        assert [r["expr"] for r in note["required"]] == [equation(op) for op in p.ops]
        assert [r["after"] for r in note["required"]] == [[]] + [[f"op{k}"] for k in range(len(p.ops) - 1)]
        assert complete(reasoning, note["required"]) == (True, "")  # each in the trace, after those it uses
        positions = [reasoning.find(r["expr"]) for r in note["required"]]
        assert positions == sorted(positions)
        for wrong in note["retracted"]:  # taken back once, never a required computation nor part of one
            assert reasoning.count(wrong) == 1 and not any(wrong in r["expr"] or r["expr"] in wrong for r in note["required"])
        assert all(a in reasoning for a in note["asides"])
        assert complete(reasoning, note["required"], note["retracted"])[0] is not bool(note["retracted"])
        every.update(note["classes"])
    assert {"shared_value", "answer_equals_given", "slip", "aside", "retracted", "detour"} <= set(every)


def test_the_annotations_catch_a_path_that_loses_a_derivation():
    """A path without the first computation, or with a retracted one, is incomplete by the annotations;
    the path that drops both the misreading and its retraction, and keeps every step, is complete."""
    p = next(q for q in generate(200, seed=0, **SHARES) if len(q.ops) == 3)
    steps = [f"{equation(op)} {op.what}." for op in p.ops]
    completion, note = write_annotated(p, 0, replace(TeacherStyle(), p_retract=1.0, p_mistake=0.0))
    assert note["retracted"], "p_retract=1 takes back a misreading"
    assert complete("\n".join(steps), note["required"], note["retracted"]) == (True, "")
    assert not complete("\n".join(steps[1:]), note["required"], note["retracted"])[0]  # a derivation lost
    assert not complete("\n".join([steps[0], note["retracted"][0], *steps[1:]]), note["required"], note["retracted"])[0]


def test_paths_the_prune_stage_verifies_are_complete_by_the_annotations():
    """The real heuristic pruner with its derivation check: every path it verifies is complete by the
    teacher's annotations (a reject may be a path the annotations call complete: the lab's table
    counts those), and without the check every path it makes is still verified on its answer."""
    from leancot.prune.verify import verify_path

    verified = 0
    for p in generate(150, seed=4, **SHARES):
        completion, note = write_annotated(p, seed=4)
        reasoning = grading.split_think(completion)[0].strip()
        steps, raw = prune_trace(reasoning, str(p.answer), p.question)
        kwargs = {"reasoning": reasoning, "question": p.question, "answer": str(p.answer), "gold": str(p.answer)}
        v = verify_path(raw, steps, **kwargs)
        if v.verified:
            verified += 1
            assert complete(v.pruned, note["required"], note["retracted"]) == (True, ""), (v.pruned, note)
        else:
            assert v.failures[0] in ("incomplete_derivation", "retracted_kept")  # only the derivation check rejects
        assert verify_path(raw, steps, derivation_check=False, **kwargs).verified
    assert verified >= 130
