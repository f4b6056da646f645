"""Every pruner's path on the hand-annotated trap sets is a complete derivation (judged by the annotations).

The annotations (``leancot.data.traps``) were written by hand and are read by ``leancot.prune.annotations``,
not by leancot's own derivation check: these tests hold the pruners and the check to what a reader sees.
The held-out sets were written apart from the pruner code; all run here, one case per trace and pruner.
"""

import asyncio

import pytest

from leancot import grading
from leancot.data.traps import load_traps
from leancot.prune.annotations import complete
from leancot.prune.arithmetic import computations
from leancot.prune.base import Rejected
from leancot.prune.config import PruneConfig
from leancot.prune.registry import make
from leancot.prune.verify import verify_path
from leancot.schema import Trace

TRAPS = [(name, t) for name in ("main", "heldout", "heldout2") for t in load_traps(name)]


def _trace(t: dict) -> Trace:
    reasoning, final, _ = grading.split_think(t["completion"])
    answer = grading.extract_answer(t["completion"])
    correct = grading.is_equivalent(answer, t["gold_answer"])
    return Trace(id=t["id"], question=t["question"], completion=t["completion"], reasoning=reasoning, final=final,
                 answer=answer, gold_answer=t["gold_answer"], correct=correct)  # fmt: skip


@pytest.mark.parametrize("method", ["heuristic", "first-answer"])
@pytest.mark.parametrize("name,trap", [p for p in TRAPS if p[1]["correct"]], ids=lambda x: x["id"] if isinstance(x, dict) else x)
def test_a_verified_path_is_a_complete_derivation(method, name, trap):
    trace = _trace(trap)
    pruner = make(method, PruneConfig.model_construct(method=method))
    try:
        pruned = asyncio.run(pruner.prune(trace))
    except Rejected as e:
        pytest.fail(f"{method} rejected a correct trace: {e}")
    verdict = verify_path(pruned.pruned, pruned.steps, reasoning=trace.reasoning, question=trace.question, answer=trace.answer,
                          gold=trace.gold_answer)  # fmt: skip
    assert verdict.verified, verdict.detail
    ok, why = complete(verdict.pruned, trap["required"], trap["retracted"])
    assert ok, f"{why}\n--- path ---\n{verdict.pruned}"


@pytest.mark.parametrize("trap", [t for t in load_traps("main") if not t["correct"]], ids=lambda t: t["id"])
def test_a_trace_with_a_wrong_answer_never_becomes_a_record(trap):
    assert not _trace(trap).correct  # the stage rejects it as incorrect_trace before any pruning


@pytest.mark.parametrize("name,trap", [p for p in TRAPS if p[1]["correct"]], ids=lambda x: x["id"] if isinstance(x, dict) else x)
def test_a_path_that_loses_a_computation_is_repaired_or_rejected_never_passed(name, trap):
    """Each required computation with a dependant is cut out of a good path in turn (as a careless pruner
    would cut it): the check must put it back, or reject the path."""
    trace = _trace(trap)
    good = asyncio.run(make("heuristic", PruneConfig.model_construct(method="heuristic")).prune(trace))
    used = {dep for r in trap["required"] for dep in r["after"]}
    for r in [r for r in trap["required"] if r["id"] in used]:
        lines = good.pruned.split("\n")
        cut = "\n".join(line for line in lines if r["expr"] not in line)
        if cut == good.pruned:
            continue  # the expression spans lines of a merged block: nothing to cut by line
        verdict = verify_path(cut, good.steps, reasoning=trace.reasoning, question=trace.question, answer=trace.answer,
                              gold=trace.gold_answer)  # fmt: skip
        if verdict.verified:
            ok, why = complete(verdict.pruned, trap["required"], trap["retracted"])
            missing = [x["expr"] for x in trap["required"] if x["expr"] not in verdict.pruned]
            # the same arithmetic written another way in the path ("72 × 3 is 216" for "72 × 3 = 216") derives it too
            ok = ok or all(_arithmetic(x) & _arithmetic(verdict.pruned) for x in missing)
            assert ok, f"cut {r['expr']!r}: verified but {why}\n--- path ---\n{verdict.pruned}"


def _arithmetic(text: str) -> set[tuple]:
    """The computations of ``text`` as (operands in any order, result)."""
    return {(tuple(sorted(o.value for o in c.operands)), c.result) for c in computations(text)}


@pytest.mark.parametrize("name,trap", [p for p in TRAPS if p[1]["retracted"]], ids=lambda x: x["id"] if isinstance(x, dict) else x)
def test_what_the_annotator_says_a_trace_takes_back_the_graph_takes_back(name, trap):
    """Every computation the annotation marks retracted is retracted in the derivation graph, so that no
    pruner's path (the perplexity pruner keeps steps whole) can keep one and pass the check."""
    from leancot.prune import derivation

    trace = _trace(trap)
    g = derivation.build(trace.reasoning, trace.question, trace.answer)
    taken_back = set().union(*(_arithmetic_key(g.statements[i].text) for i in g.retracted))
    for expr in trap["retracted"]:
        assert _arithmetic_key(expr) <= taken_back, f"{expr!r} is not retracted"


def _arithmetic_key(text: str) -> set[tuple]:
    return {(tuple(sorted(o.value for o in c.operands)), c.result) for c in computations(text)}
