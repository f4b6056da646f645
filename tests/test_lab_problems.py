"""The lab's problem generator and verbose teacher, checked against the real pruner."""

from __future__ import annotations

import re

import pytest

from leancot import grading
from leancot.lab.problems import TEMPLATES, check, generate
from leancot.lab.teacher import equation, write_trace
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
