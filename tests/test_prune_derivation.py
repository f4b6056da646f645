"""The derivation graph: each operand bound to where its value came from, and paths checked against it.

The cases are the failure classes read in pruned GSM8K paths: two quantities with one value, an
answer equal to a given, a retracted computation, a corrected slip, a value used before it is
derived, numbers written as money, and the rule by which units may narrow a binding.
"""

from fractions import Fraction

import pytest

from leancot.data import bundled_trace, load_traces
from leancot.prune import derivation
from leancot.prune.base import Pruned
from leancot.prune.config import PruneConfig
from leancot.prune.first_answer import prune_first_answer
from leancot.prune.heuristic import prune_trace
from leancot.prune.stage import _verified
from leancot.prune.verify import verify_path

GOATS_Q = "Farm X has 55 goats and Farm Y has 45 goats. Farm X sells 10 goats and Farm Y sells 20. How many goats are left?"
GOATS = """Okay, so Farm X starts with 55 goats and Farm Y with 45 goats.

Farm X sells 10, so Farm X has 55 − 10 = 45 goats left.

Farm Y sells 20, so Farm Y has 45 − 20 = 25 goats left.

Hmm, wait. Farm X has 45 and Farm Y has 25. Total: 45 + 25 = 70.

Let me double-check: 45 + 25 = 70. Yes."""

DRINKS_Q = "A 15-liter orange drink is 3/5 water. Sam pours 10 liters of juice and spills 1 liter. How much water is there in total if the juice is 6 liters of water?"
DRINKS = """The orange drink has 15 × 3/5 = 9 liters of water.

Sam pours 10 liters and spills 1, so 10 − 1 = 9 liters poured.

The juice brings 6 liters of water.

Total water: 9 + 6 = 15 liters."""


def _statement(graph: derivation.Graph, text: str) -> int:
    return next(s.id for s in graph.statements if s.text.startswith(text))


def _sources(graph: derivation.Graph, text: str, value: int) -> set[str]:
    st = _statement(graph, text)
    b = next(b for b in graph.bindings[st] if b.value == value)
    return {graph.statements[s].text for s in b.sources} if b.kind == "derived" else {b.kind}


def test_a_value_two_quantities_share_is_bound_to_the_derivation_not_the_given():
    g = derivation.build(GOATS, GOATS_Q, "70")
    assert _sources(g, "45 + 25", 45) == {"55 − 10 = 45"}  # Farm X's result, not Farm Y's starting 45
    assert _sources(g, "45 − 20", 45) == {"55 − 10 = 45"}  # derived before, so bound even though the question has 45
    assert {g.statements[s].text for s in g.needed} == {"55 − 10 = 45", "45 − 20 = 25", "45 + 25 = 70"}


def test_every_distinct_earlier_derivation_of_a_value_is_a_source():
    g = derivation.build(DRINKS, DRINKS_Q, "15")
    # the last 9 before "Total water: 9 + 6" is the liters poured; both 9s are kept: ambiguity costs tokens
    assert _sources(g, "9 + 6", 9) == {"15 × 3/5 = 9", "10 − 1 = 9"}


def test_units_written_after_both_numbers_narrow_the_binding():
    trace = DRINKS.replace("Total water: 9 + 6 = 15 liters.", "So 9 liters of water + 6 liters of water = 15 liters of water.")
    g = derivation.build(trace, DRINKS_Q, "15")
    assert _sources(g, "9 liters of water", 9) == {"15 × 3/5 = 9"}  # only its result is "liters of water"
    poured_unlabelled = trace.replace("= 9 liters poured", "= 9")
    g = derivation.build(poured_unlabelled, DRINKS_Q, "15")
    assert len(_sources(g, "9 liters of water", 9)) == 2  # one candidate carries no words: not unambiguous


def test_the_answer_is_derived_even_when_the_question_states_it():
    q = "Aurelia has $120. Kassidy has 3/4 as much. Rayna has $30 more than Kassidy. If they share all their money equally, how much does each get?"
    trace = (
        "Start with Aurelia: $120.\n\nKassidy has $120 × 3/4 = $90.\n\nRayna has $90 + $30 = $120.\n\n"
        "Together: 120 + 90 + 120 = 330. Wait, let me recount.\n\nEach gets 330 ÷ 3 = 110."
    )
    g = derivation.build(trace, q, "110")
    assert [g.statements[s].text for s in g.answer_sources] == ["330 ÷ 3 = 110"]
    path = "Start with Aurelia: $120.\nThe answer is \\boxed{110}"
    result = derivation.check_path(g, path)
    assert not result.complete and result.reason(g).startswith("incomplete_derivation: the answer 110")
    q2 = q.replace("share all their money equally", "give Aurelia's money back")
    trace2 = trace.replace("Each gets 330 ÷ 3 = 110.", "Back to Aurelia: 330 − 90 − 120 = 120.")
    g2 = derivation.build(trace2, q2, "120")
    assert "330 − 90 − 120 = 120" in {g2.statements[s].text for s in g2.answer_sources}
    assert not derivation.check_path(g2, "Start with Aurelia: $120.\nThe answer is \\boxed{120}").complete


RETRACTED_Q = "Ann wrote 9 novels last year and 3/4 as many more this year. How many novels did she write this year?"
RETRACTED = """Last year she wrote 9 novels.

This year: 9 × 3/4 = 27/4 = 6.75. She has written 6.75 novels this year.

Hmm, that doesn't make sense, you can't write 6.75 novels. I see my mistake: 3/4 as many more means 9 + 9 × 3/4.

Hmm, that is still not whole. Let me reread: she wrote 12 novels in all, so 12 − 9 = 3 more this year."""


def test_a_retracted_computation_and_its_chatter_go_together():
    g = derivation.build(RETRACTED, RETRACTED_Q, "3")
    assert {g.statements[s].text for s in g.retracted} == {"9 × 3/4 = 27/4 = 6.75"}
    gone = " ".join(g.sentence_text(k) for k in sorted(g.retracted_sentences))
    assert "6.75 novels this year" in gone and "doesn't make sense" in gone
    kept = "This year: 9 × 3/4 = 27/4 = 6.75.\nSo 12 − 9 = 3 more this year.\nThe answer is \\boxed{3}"
    assert derivation.check_path(g, kept).reason(g).startswith("retracted_kept: 6.75")


def test_a_corrected_slip_is_retracted_and_the_right_one_is_the_source():
    q = "A box holds 7 rows of 8 eggs. 6 eggs break. How many are left?"
    trace = "7 × 8 = 54 eggs. Wait, that's wrong, 7 × 8 = 56 eggs.\n\nThen 56 − 6 = 50 eggs are left."
    g = derivation.build(trace, q, "50")
    assert {g.statements[s].text for s in g.retracted} == {"7 × 8 = 54"}
    _, path = prune_trace(trace, "50", q)
    assert "54" not in path and "7 × 8 = 56" in path and "56 − 6 = 50" in path


def test_a_value_used_before_its_derivation_is_out_of_order():
    q = "A book costs $4 and a magazine costs half as much. How much more does the book cost?"
    trace = "The magazine costs 4 ÷ 2 = 2 dollars.\n\nThe difference is $4.00 − $2.00 = $2.00."
    g = derivation.build(trace, q, "2")
    swapped = "The difference is $4.00 − $2.00 = $2.00.\nThe magazine costs 4 ÷ 2 = 2 dollars.\nThe answer is \\boxed{2}"
    result = derivation.check_path(g, swapped)
    assert [gap.kind for gap in result.gaps] == ["order"]
    assert "comes after $4.00 − $2.00 = $2.00" in result.reason(g)


@pytest.mark.parametrize("written,answer", [("$14,400", "14400"), ("1,170", "1170"), ("$29.00", "29"), ("$1.00", "\\$1")])
def test_money_and_thousands_separators_are_one_value(written, answer):
    q = "What is the total?"
    value = written.strip("$").replace(",", "")
    trace = f"The total is {value} + 0 = {written}."
    g = derivation.build(trace, q, answer)
    assert g.answer == Fraction(value) and len(g.answer_sources) == 1


def test_a_reader_knows_small_numbers_and_unit_constants_but_not_a_derived_small_value():
    q = "Tom works 3 hours a day. How many minutes is that?"
    g = derivation.build("3 × 60 = 180 minutes.", q, "180")
    assert [b.kind for b in g.bindings[0]] == ["question", "constant"]
    g = derivation.build("He has 12 − 3 = 9 apples.\n\n9 × 2 = 18.", "He has 12 apples and eats 3.", "18")
    assert _sources(g, "9 × 2", 9) == {"12 − 3 = 9"}  # 9 is small, but derived: bound


def test_repair_puts_the_missing_sentence_back_in_the_original_order():
    g = derivation.build(GOATS, GOATS_Q, "70")
    path = "Farm Y sells 20, so Farm Y has 45 − 20 = 25 goats left.\nTotal: 45 + 25 = 70.\nThe answer is \\boxed{70}"
    fixed, restored = derivation.repair(g, path)
    assert fixed.splitlines()[0] == "Farm X sells 10, so Farm X has 55 − 10 = 45 goats left."
    assert derivation.check_path(g, fixed).complete and len(restored) == 1


def test_a_teachers_new_computation_must_be_right_and_use_what_the_path_has():
    g = derivation.build(GOATS, GOATS_Q, "70")
    merged = "55 − 10 = 45 and 45 − 20 = 25, so 45 + 25 = 70.\nThe answer is \\boxed{70}"
    assert derivation.check_path(g, merged).complete
    novel = "Farm X keeps 55 − 10 = 45, Farm Y keeps 45 − 20 = 25, together 55 + 45 − 30 = 70.\nThe answer is \\boxed{70}"
    assert derivation.check_path(g, novel).complete  # a computation the original lacks, from values the path holds
    assert not derivation.check_path(g, "Together 55 + 45 − 31 = 70.\nThe answer is \\boxed{70}").complete


def _real(suffix: str):
    return bundled_trace(next(t for t in load_traces() if t["id"].endswith(suffix)))


def test_a_value_stated_without_a_computation_keeps_its_sentence():
    """This real trace multiplies 120 * 2 * 2 * 1 after saying "5! is 120": that sentence is the source."""
    trace = _real("llama-8b/correct/math-2189")
    steps, path = prune_trace(trace.reasoning, trace.answer, trace.question)
    assert path.index("5! is 120") < path.index("120 * 2 * 2 * 1")
    verdict = verify_path(path, steps, reasoning=trace.reasoning, question=trace.question, answer=trace.answer)
    assert verdict.verified and verdict.derivation["complete"]


def test_the_stage_repairs_or_rejects_naming_what_is_missing():
    config = PruneConfig.model_construct(on_fail="reject", tokenizer="smollm2-135m")
    from leancot.schema import Trace

    trace = Trace(id="goats", question=GOATS_Q, completion=GOATS, reasoning=GOATS, answer="70", gold_answer="70", correct=True)
    steps, _ = prune_trace(GOATS, "70", GOATS_Q)
    gap = "Farm Y sells 20, so Farm Y has 45 − 20 = 25 goats left.\nTotal: 45 + 25 = 70.\nThe answer is \\boxed{70}"
    record = _verified(trace, Pruned(steps, gap, "heuristic"), config)
    assert record.verified and record.restored and record.derivation == {
        "complete": True, "statements": 3, "matched": 3, "gaps": 0, "needed": 3, "restored": 1
    }  # fmt: skip
    retracted = Trace(id="novels", question=RETRACTED_Q, completion=RETRACTED, reasoning=RETRACTED, answer="3", gold_answer="3")
    kept = "This year: 9 × 3/4 = 27/4 = 6.75.\nSo 12 − 9 = 3 more this year.\nThe answer is \\boxed{3}"
    assert _verified(retracted, Pruned([], kept, "llm:teacher"), config) == (
        "retracted_kept",
        "retracted_kept: 6.75 (9 × 3/4 = 27/4 = 6.75) is taken back by the trace",
    )


def test_building_is_linear_on_long_digit_runs():
    import time

    t0 = time.perf_counter()
    derivation.build(("1234567890" * 30 + " = 5 + 3 = 8\n") * 200, "", "8")
    assert time.perf_counter() - t0 < 5


def test_a_reading_considered_and_dropped_goes_even_when_it_equals_the_answer():
    q = "A 10-liter jug loses 1 liter before Maya pours 6 liters out of it. How many liters are left?"
    trace = (
        'The jug has 10 − 1 = 9 liters.\n\nHmm, could "1 liter leaked" mean 1 liter per hour? '
        "If it leaked for three hours that would be 1 × 3 = 3 liters. No, the problem says nothing about time.\n\n"
        "She pours 6, so 9 − 6 = 3 liters are left."
    )
    g = derivation.build(trace, q, "3")
    assert [g.statements[s].text for s in g.answer_sources] == ["9 − 6 = 3"]  # not the hypothetical 1 × 3 = 3
    for path in (prune_trace(trace, "3", q)[1], prune_first_answer(trace, "3", q)[1]):
        assert "1 × 3" not in path and "per hour" not in path and "10 − 1 = 9" in path


def test_a_recap_after_the_answer_is_a_check_however_it_is_spelled():
    q = "Bram has 4 times Aurelia's $120. He spends a quarter on a bike and splits the rest among 3 people. How much does each get?"
    trace = (
        "Bram has 120 × 4 = 480.\n\nThe bike costs 480 × 1/4 = 120.\n\nHe has 480 − 120 = 360 left.\n\n"
        "Each gets 360 ÷ 3 = 120.\n\nSo each gets $120.\n\nLet me double-check that I didn't copy a number.\n\n"
        "Bram: 4 × $120 = $480. Remaining: $480 − $120 = $360. Split: $360 / 3 = $120 each."
    )
    _, path = prune_trace(trace, "120", q)
    assert "4 × $120" not in path and "$360 / 3" not in path and "360 ÷ 3 = 120" in path


def test_one_arithmetic_for_two_quantities_is_two_computations():
    q = "24 kids each get 2 slices of pizza and 2 juice boxes. Pizzas have 8 slices; juice comes in packs of 6. How many packs?"
    trace = "Slices: 24 × 2 = 48 slices, so 48 ÷ 8 = 6 pizzas.\n\nJuice: 2 × 24 = 48 juice boxes.\n\nPacks: 48 ÷ 6 = 8 packs."
    g = derivation.build(trace, q, "8")
    assert _sources(g, "48 ÷ 6", 48) == {"24 × 2 = 48", "2 × 24 = 48"}
    assert "2 × 24 = 48" in prune_trace(trace, "8", q)[1]


def test_money_signs_are_not_maths_delimiters():
    from leancot.prune.segment import units

    text = "Each pizza costs $11.50, so 6 × $11.50 = $69.00. Let me double check: 11.50 × 6 = 69. Yes, $69.\n\nIn maths $3x = 6$ holds."
    assert [text[a:b].strip() for a, b, _ in units(text)][:3] == [
        "Each pizza costs $11.50, so 6 × $11.50 = $69.00.", "Let me double check: 11.50 × 6 = 69.", "Yes, $69."
    ]  # fmt: skip


def test_a_line_of_a_list_that_the_trace_takes_back_goes_and_the_rest_of_the_list_stays():
    q = "He reads 35 pages a weekday and 70 on each weekend day. How many pages in a week?"
    trace = (
        "One week:\n- Weekdays: 5 × 35 = 175 pages.\n- Weekend: 70 × 2 = 140 pages.\n- Week total: 175 + 140 = 305 pages.\n\n"
        "Hmm, hold on, that's wrong. 175 + 140 = 315 pages."
    )
    g = derivation.build(trace, q, "315")
    _, path = prune_trace(trace, "315", q)
    assert "305" not in path and "5 × 35 = 175" in path and "70 × 2 = 140" in path and "175 + 140 = 315" in path
    assert derivation.check_path(g, path).complete
