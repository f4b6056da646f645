"""Per-step actions and the synthesised path, on hand-written R1-style traces and the real ones."""

import json
from pathlib import Path

import pytest

from leancot import grading
from leancot.prune.heuristic import prune, prune_trace
from leancot.prune.segment import decompose
from leancot.prune.verify import check, invented_numbers, numbers_in

TRACES = Path(__file__).resolve().parents[1] / "src/leancot/data/files/traces/r1_distill_math_traces.jsonl"

QUESTION = "A shop sells pens at $3 each. Tom buys 4 pens and a notebook for $5. How much does he pay?"
TRACE = """Okay, so the problem says a shop sells pens at $3 each and Tom buys 4 pens and a notebook for $5. \
We need to find how much he pays.

Hmm, let me think.

First, the pens cost 4 \\times 3 = 12 dollars.

Then the total is 12 + 6 = 18 dollars.

Wait, that's wrong, the notebook costs 5, not 6. So the total is 12 + 5 = 17 dollars.

Alternatively, maybe I could count per item: 3 + 3 = 6 for two pens, so 6 + 6 = 24.

Let me double-check: 4 \\times 3 = 12, and 12 + 5 = 17. Yes, that's correct.

Let me verify once more: 17 - 5 = 12 and 12 / 4 = 3. Correct.

So, the answer is \\boxed{17}."""


@pytest.fixture(scope="module")
def pruned():
    return prune_trace(TRACE, "17", QUESTION)


def _action(steps, start):
    """The action of the step whose text starts with ``start``."""
    return next(s.action for s in steps if s.text.startswith(start))


def test_hesitation_restatement_verification_and_detour_are_deleted(pruned):
    steps, _ = pruned
    assert _action(steps, "Okay, so the problem says") == "delete"  # restatement
    assert _action(steps, "Hmm, let me think.") == "delete"  # hesitation
    assert _action(steps, "Alternatively, maybe") == "delete"  # abandoned detour: 24 is never used
    assert _action(steps, "Let me double-check") == "delete"  # repeated verification
    assert _action(steps, "Let me verify once more") == "delete"


def test_self_correction_keeps_the_corrected_value_and_drops_the_wrong_one(pruned):
    steps, text = pruned
    assert _action(steps, "Then the total is 12 + 6 = 18") == "delete"
    assert "12 + 5 = 17" in text
    assert "18" not in text and "12 + 6" not in text and "not 6" not in text


def test_kept_steps_are_compressed_without_touching_numbers(pruned):
    steps, text = pruned
    first = next(s for s in steps if s.text.startswith("First, the pens"))
    assert first.action == "compress"
    assert first.rewritten == "The pens cost 4 \\times 3 = 12 dollars."
    assert text.splitlines() == [
        "The pens cost 4 \\times 3 = 12 dollars.",
        "The total is 12 + 5 = 17 dollars.",
        "The answer is \\boxed{17}",
    ]


def test_the_path_ends_with_the_answer_and_verifies(pruned):
    _, text = pruned
    assert text.endswith("The answer is \\boxed{17}")
    assert check(text, original_answer="17", original_text=TRACE, question=QUESTION) == []


def test_short_adjacent_computations_are_merged():
    trace = "We have 6 \\times 7 = 42.\n\n42 + 8 = 50.\n\n50 / 2 = 25.\n\nSo the answer is \\boxed{25}."
    steps, text = prune_trace(trace, "25")
    merged = [s for s in steps if s.action == "merge"]
    assert len(merged) == 3
    assert merged[0].rewritten == "We have 6 \\times 7 = 42. 42 + 8 = 50. 50 / 2 = 25."
    assert [s.rewritten for s in merged[1:]] == ["", ""]  # folded into the first
    assert text == "We have 6 \\times 7 = 42. 42 + 8 = 50. 50 / 2 = 25.\nThe answer is \\boxed{25}"


def test_needed_steps_are_kept_even_far_back():
    trace = (
        "The first part gives 3 \\times 41 = 123.\n\nHmm, wait.\n\nI'm not sure about this.\n\n"
        "The second part gives 7 \\times 11 = 77.\n\nLet me check: 123 is right.\n\n"
        "Adding, 123 + 77 = 200.\n\nThe answer is \\boxed{200}."
    )
    steps, text = prune_trace(trace, "200")
    assert "3 \\times 41 = 123" in text and "7 \\times 11 = 77" in text and "123 + 77 = 200" in text
    assert "Hmm" not in text and "not sure" not in text


def test_prune_does_not_modify_its_input_and_accepts_no_answer():
    steps = decompose("So 2 + 3 = 5.\n\nThe answer is \\boxed{5}.")
    before = [s.model_dump() for s in steps]
    out, text = prune(steps, None)
    assert [s.model_dump() for s in steps] == before
    assert text.endswith("The answer is \\boxed{5}")


@pytest.fixture(scope="module")
def real():
    rows = [json.loads(line) for line in TRACES.open()]
    out = []
    for r in rows:
        reasoning = grading.split_think(r["completion"])[0]
        answer = grading.extract_answer(r["completion"])
        steps, text = prune_trace(reasoning, answer, r["problem"])
        out.append((r, reasoning, answer, steps, text))
    return out


def test_no_invented_numbers_on_all_40_real_traces(real):
    for r, reasoning, answer, _, text in real:
        assert invented_numbers(text, "\n".join((reasoning, r["problem"], answer))) == [], r["id"]


def test_answer_preserved_on_the_20_correct_real_traces(real):
    correct = [x for x in real if x[0]["is_correct"]]
    assert len(correct) == 20
    for r, reasoning, answer, _, text in correct:
        assert text.endswith(f"The answer is \\boxed{{{answer}}}")
        assert check(text, original_answer=answer, gold=r["gt_answer"], original_text=reasoning, question=r["problem"]) == [], r["id"]


def test_real_traces_get_much_shorter_and_keep_their_computations(real):
    before = sum(len(x[1].split()) for x in real)
    after = sum(len(x[4].split()) for x in real)
    assert after < 0.5 * before
    for r, reasoning, _, steps, text in real:
        assert any(s.action != "delete" for s in steps), r["id"]
        assert numbers_in(text) <= numbers_in(reasoning + r["problem"] + (r["model_answer"] or "")) | {"0"}


# ---- flaws found by reading the pruned real traces, each as a small hand-written case


def test_the_answer_met_by_coincidence_early_is_not_where_the_path_ends():
    trace = (
        "From 10 to 99 there are 9 sets of 10, because 99 - 10 + 1 = 90 numbers, which is 9 sets. "
        "So the digit 4 appears 9 times in the units place.\n\n"
        "For 4's the total is 89 + 40 + 39 + 20 = 188.\n\n"
        "For 8's the total is 39 + 39 + 20 = 98.\n\n"
        "So, how many more 4's than 8's? That would be 188 - 98 = 90.\n\n"
        "Let me double-check: 188 - 98 = 90. Yes.\n\nThe answer is \\boxed{90}."
    )
    steps, text = prune_trace(trace, "90")
    assert "89 + 40 + 39 + 20 = 188" in text and "39 + 39 + 20 = 98" in text
    assert "That would be 188 - 98 = 90." in text
    assert "double-check" not in text


def test_a_lead_in_line_keeps_the_computations_it_names():
    trace = (
        "Layer 8: 1 + 3(3280) = 9841\n\nLayer 9: 1 + 3(9841) = 29524\n\n"
        "Let me try a different approach to the product.\n\n29524 * 3:\n\n"
        "20000 * 3 = 60000\n\n9000 * 3 = 27000\n\n524 * 3 = 1572\n\n"
        "60000 + 27000 + 1572 = 88572\n\nThe answer is \\boxed{88572}."
    )
    steps, text = prune_trace(trace, "88572")
    assert "29524 * 3:" in text  # the lead-in says what 20000 * 3 ... computes
    assert "1 + 3(9841) = 29524" in text and "1 + 3(3280) = 9841" in text  # and where 29524 comes from


def test_a_doubt_answered_by_a_check_keeps_the_checked_value_and_drops_the_doubted_one():
    trace = (
        "The units digit is 4 in 4, 14, 24, ..., 484.\n\n"
        "Dividing 484 by 10 gives 48.4, so we take 48. But wait, does 484 count as the 49th one?\n\n"
        "Let me check: 4, 14, ..., 484. That's 49 numbers, so the units place has 49 fours.\n\n"
        "The tens place has 50 fours and the hundreds place 89.\n\n"
        "In total 49 + 50 + 89 = 188.\n\nThe answer is \\boxed{188}."
    )
    steps, text = prune_trace(trace, "188")
    assert "the units place has 49 fours" in text
    assert "48.4" not in text
    assert "49 + 50 + 89 = 188" in text


def test_a_heading_repeated_by_the_next_line_appears_once():
    trace = "Layer 3: 1 + 3(13) = 40\n\nLayer 4:\n\nLayer 4: 1 + 3(40) = 121\n\nThe answer is \\boxed{121}."
    _, text = prune_trace(trace, "121")
    assert "Layer 4: Layer 4:" not in text and "Layer 4:\nLayer 4:" not in text
    assert text.count("Layer 4:") == 1


def test_merged_equation_lines_are_joined_by_line_breaks_not_semicolons():
    trace = "The rate per month is 0.06 / 12 = 0.005\n\nA = P(1 + 0.005)^12\n\n1.005^12 = 1.0617\n\nThe answer is \\boxed{1.0617}."
    steps, text = prune_trace(trace, "1.0617")
    assert "; " not in text
    assert text.splitlines()[:3] == ["The rate per month is 0.06 / 12 = 0.005", "A = P(1 + 0.005)^12", "1.005^12 = 1.0617"]


def test_compress_keeps_the_line_structure_of_a_step():
    trace = "Okay, so the layers are:\nLayer 1: 1 + 3 = 4\nLayer 2: 1 + 3(4) = 13\n\nThe answer is \\boxed{13}."
    _, text = prune_trace(trace, "13")
    assert "Layer 1: 1 + 3 = 4\nLayer 2: 1 + 3(4) = 13" in text


def test_a_sentence_left_lowercase_by_filler_removal_is_capitalised():
    trace = "Okay, so a cubic has 4 coefficients, and 4 + 4 = 8.\n\nThe answer is \\boxed{8}."
    _, text = prune_trace(trace, "8")
    assert text.startswith("A cubic has 4 coefficients")


def test_words_that_are_content_are_not_stripped_as_filler():
    trace = (
        "Right side: (5 - 1)(5 - 2) = 12\n\nNext digit: 2 * 3 = 6 + 1 = 7, and 12 + 7 = 19.\n\n"
        "The total is 19 + 7 = 26, right?\n\nThe answer is \\boxed{26}."
    )
    _, text = prune_trace(trace, "26")
    assert "Right side: (5 - 1)(5 - 2) = 12" in text
    assert "Next digit: 2 * 3" in text
    assert "The total is 19 + 7 = 26." in text  # the tag question becomes a full stop
