"""--method first-answer: the cut where the answer is first derived, on hand-written and real traces."""

import asyncio

import pytest

from leancot.data import correct_traces
from leancot.prune.base import Rejected
from leancot.prune.first_answer import FirstAnswerPruner, answer_position, first_derivation, prune_first_answer
from leancot.prune.segment import decompose
from leancot.prune.verify import check

Q = "Tom buys 4 pens at 3 dollars each and a notebook for 5 dollars. How much does he pay?"
TRACE = """Okay, so Tom buys 4 pens at 3 dollars each and a notebook for 5 dollars.

Maybe the answer is 17? Let me work it out.

The pens cost 4 * 3 = 12 dollars.

So the total is 12 + 5 = 17 dollars.

Let me double-check: 4 * 3 = 12 and 12 + 5 = 17. Yes, that's correct.

Alternatively, 3 + 3 + 3 + 3 = 12, plus 5 gives 17 again.

So the answer is 17."""


def test_cut_at_the_first_derivation_not_the_guess():
    steps = decompose(TRACE, Q)
    root = first_derivation(steps, "17")
    assert "12 + 5 = 17" in steps[root].text  # not "Maybe the answer is 17?", not the re-checks
    out, pruned, cut = prune_first_answer(TRACE, "17", Q)
    assert "4 * 3 = 12" in pruned and "double-check" not in pruned and "Alternatively" not in pruned
    assert pruned.endswith("The answer is \\boxed{17}") and 0.3 < cut < 0.8
    assert check(pruned, original_answer="17", original_text=TRACE, question=Q) == []


def test_a_later_self_correction_moves_the_cut():
    trace = (
        "The pens cost 4 * 3 = 12 dollars.\n\nSo the total is 12 + 5 = 17 dollars.\n\n"
        "Wait, that's wrong, the pens cost 4 * 4 = 16 dollars, so 16 + 5 = 21.\n\n"
        "No wait, I made a mistake: they are 3 dollars each, 12 + 5 = 17.\n\nSo the total is 12 + 5 = 17 dollars."
    )
    steps = decompose(trace, Q)
    assert first_derivation(steps, "17") > 2


def test_no_derivation_is_a_reject():
    with pytest.raises(Rejected, match="no_first_answer"):
        prune_first_answer("Hmm, let me think. It is hard.", "17", Q)


@pytest.fixture(scope="module")
def real():
    return correct_traces()


def test_real_traces_keep_their_answers(real):
    pruner = FirstAnswerPruner()
    for trace in real:
        p = asyncio.run(pruner.prune(trace))
        assert (
            check(p.pruned, original_answer=trace.answer, gold=trace.gold_answer, original_text=trace.reasoning, question=trace.question)
            == []
        ), trace.id
        assert len(p.pruned) < len(trace.reasoning) and 0 < p.extra["cut_at"] <= 1
        assert p.extra["cut_at"] == pytest.approx(answer_position(trace.reasoning, trace.answer, trace.question), abs=1e-4)


def test_prune_stage_with_first_answer(tmp_path):
    from leancot import data
    from leancot.io import read_jsonl
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run

    out = run(PruneConfig(input=data.traces_path(), out=tmp_path / "fa", method="first-answer", limit=6))
    records = read_jsonl(out / "records.jsonl")
    assert records and all(r["method"] == "first-answer" and r["verified"] for r in records)
    assert all(r["tokens_after"] < r["tokens_before"] for r in records)
