"""leancot.tokens: the one token counter."""

from __future__ import annotations

import pytest

from leancot.errors import UsageError
from leancot.tokens import count_tokens, count_tokens_batch, get_tokenizer

TEXTS = [
    "Hello world",
    "Let x = 3. Then 2x + 1 = 7, so the answer is \\boxed{7}.",
    "<think>\nWait, let me check: 12 * 7 = 84.\n</think>\nThe answer is 84.",
    "  leading spaces, trailing newline\n",
    "unicode: héllo wörld — ∑ x² ≤ π 你好",
    "word " * 500,
]


@pytest.fixture(scope="module")
def smol(smollm2_tokenizer_dir):
    return smollm2_tokenizer_dir


def test_counts_are_positive_ints_and_deterministic(smol):
    counts = [count_tokens(t) for t in TEXTS]
    assert all(type(c) is int and c > 0 for c in counts)
    assert counts == [count_tokens(t) for t in TEXTS]
    assert count_tokens("Hello world") == 2


def test_batch_equals_single(smol):
    assert count_tokens_batch(TEXTS) == [count_tokens(t) for t in TEXTS]


def test_empty(smol):
    assert count_tokens("") == 0
    assert count_tokens_batch([]) == []
    assert count_tokens_batch(["", "a"])[0] == 0


def test_matches_the_transformers_tokenizer_without_special_tokens(smol):
    tokenizer = get_tokenizer()
    expected = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
    assert count_tokens_batch(TEXTS) == expected
    assert count_tokens("<|im_end|>") == 1  # a special token in the text is one token; none are added


def test_long_text_is_not_truncated(smol):
    text = "step" + " step" * 19_999  # past the 8,192-token model_max_length
    assert count_tokens(text) == 20_000


def test_builtin_name_local_dir_and_object_agree(smol):
    by_default = count_tokens_batch(TEXTS)
    assert count_tokens_batch(TEXTS, "smollm2-135m") == by_default
    assert count_tokens_batch(TEXTS, "SmolLM2-135M-Instruct") == by_default
    assert count_tokens_batch(TEXTS, smol) == by_default
    assert count_tokens_batch(TEXTS, str(smol)) == by_default
    assert count_tokens_batch(TEXTS, get_tokenizer(smol)) == by_default


def test_a_model_dir_is_a_tokenizer(tiny_byte_model_dir):
    assert count_tokens("abc", tiny_byte_model_dir) == 3
    assert count_tokens("é", str(tiny_byte_model_dir)) == 2  # one token per UTF-8 byte


def test_get_tokenizer_is_cached(tiny_byte_model_dir):
    assert get_tokenizer(tiny_byte_model_dir) is get_tokenizer(tiny_byte_model_dir)


def test_unknown_tokenizer_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        count_tokens("x", "no-such-tokenizer")
    with pytest.raises(UsageError, match="holds no tokenizer"):
        count_tokens("x", tmp_path)


def test_non_strings_are_rejected(smol):
    with pytest.raises(TypeError):
        count_tokens_batch(["ok", None])
