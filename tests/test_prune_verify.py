"""verify.check names every way a pruned path can fail; numbers_in normalises spellings."""

import pytest

from leancot.prune.verify import check, invented_numbers, normalise_number, numbers_in

ORIGINAL = "The pens cost 4 \\times 3 = 12 dollars, 1,000 cents is 10 dollars, and 12 + 5 = 17."
QUESTION = "Pens cost $3 each; Tom buys 4 pens and a $5 notebook."


@pytest.mark.parametrize(
    "token, expected",
    [
        ("1,000", "1000"),
        ("3.50", "3.5"),
        ("3.0", "3"),
        ("025", "25"),
        (".5", "0.5"),
        ("6.17", "6.17"),
        ("0", "0"),
    ],
)
def test_normalise_number(token, expected):
    assert normalise_number(token) == expected


def test_numbers_in_reads_integers_decimals_fractions_and_ignores_signs():
    assert numbers_in("x = -3.50 and \\frac{5}{12}, 1,000 pages ...484, r = 6.17%.") == {"3.5", "5", "12", "1000", "484", "6.17"}


def test_a_comma_list_of_known_numbers_is_not_invented():
    assert invented_numbers("pages 480,481", "pages 480, 481, 482") == []
    assert invented_numbers("we get 1,000", "that is 1000 exactly") == []
    assert invented_numbers("so 3.50 each", "costs 3.5 each") == []


def test_verified_path_has_no_failures():
    assert (
        check(
            "4 \\times 3 = 12; 12 + 5 = 17.\nThe answer is \\boxed{17}",
            original_answer="17",
            gold="17",
            original_text=ORIGINAL,
            question=QUESTION,
        )
        == []
    )


def test_no_answer():
    assert check("4 \\times 3 = 12.", original_answer="17", original_text=ORIGINAL) == ["no_answer"]


def test_answer_mismatch():
    assert check("The answer is \\boxed{12}", original_answer="17", original_text=ORIGINAL) == ["answer_mismatch"]


def test_gold_mismatch():
    assert check("The answer is \\boxed{17}", original_answer="17", gold="18", original_text=ORIGINAL) == ["gold_mismatch"]


def test_equivalent_spellings_match():
    assert (
        check(
            "The answer is \\boxed{-\\frac{1}{4027}}",
            original_answer="-\\dfrac{1}{4027}",
            gold="-\\frac{1} { 4027}",
            original_text="so it is -1/4027",
        )
        == []
    )


def test_invented_numbers():
    text = "4 \\times 3 = 12 and 12 + 6 = 19.\nThe answer is \\boxed{17}"
    assert check(text, original_answer="17", original_text=ORIGINAL, question=QUESTION) == ["invented_numbers"]
    assert invented_numbers(text, ORIGINAL + QUESTION) == ["6", "19"]


def test_numbers_from_question_and_answer_are_allowed():
    text = "Tom buys 4 pens at 3 each plus 5.\nThe answer is \\boxed{17}"
    assert check(text, original_answer="17", original_text="", question=QUESTION) == []


def test_several_failures_are_all_reported():
    assert check("So 99.\nThe answer is \\boxed{99}", original_answer="17", gold="18", original_text=ORIGINAL) == [
        "answer_mismatch",
        "gold_mismatch",
        "invented_numbers",
    ]
