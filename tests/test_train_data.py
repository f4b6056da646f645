"""Masks for every section subset and policy, LSP truncation, rendering and batching."""

import itertools
import math

import pytest

from leancot.train.data import IGNORE_INDEX, PadToLongest, Sections, build_example, preflight, record_sections, skip_reason, tokenize_sections

P, C, A = [1, 2, 3], [10, 11, 12, 13, 14, 15, 16, 17], [20, 21]  # 3 + 8 + 2 = 13 tokens
SUBSETS = [set(s) for n in (1, 2, 3) for s in itertools.combinations(("prompt", "cot", "answer"), n)]


@pytest.mark.parametrize("loss_on", SUBSETS, ids=lambda s: "+".join(sorted(s)))
def test_labels_are_the_tokens_of_the_chosen_sections_only(loss_on):
    ids, labels = build_example(P, C, A, loss_on=loss_on, policy="none")
    assert ids == P + C + A
    sections = ["prompt"] * 3 + ["cot"] * 8 + ["answer"] * 2
    assert labels == [t if s in loss_on else IGNORE_INDEX for t, s in zip(ids, sections)]


@pytest.mark.parametrize("lsp", [0.1, 0.25, 0.5, 0.77, 1.0])
def test_lsp_keeps_the_first_x_percent_of_tokens(lsp):
    ids, labels = build_example(P, C, A, loss_on={"prompt", "cot", "answer"}, policy="lsp", lsp=lsp)
    keep = math.ceil(lsp * 13)
    assert ids == (P + C + A)[:keep]
    assert len(labels) == keep


def test_lsp_that_ends_inside_the_prompt_trains_nothing_and_is_skipped():
    assert build_example(P, C, A, loss_on={"cot"}, policy="lsp", lsp=0.2) is None  # 3 tokens: the prompt
    assert build_example(P, C, A, loss_on={"prompt"}, policy="lsp", lsp=0.2) is not None


def test_lsp_cot_truncates_only_the_reasoning_and_keeps_the_answer():
    ids, labels = build_example(P, C, A, policy="lsp-cot", lsp=0.5)
    assert ids == P + C[:4] + A
    ids, _ = build_example(P, C, A, policy="lsp-cot", lsp=1.0, max_length=8)
    assert ids == P + C[:3] + A  # the cap shortens the reasoning further, not the answer


def test_lsp_cot_skips_when_prompt_and_answer_alone_exceed_the_cap():
    assert build_example(P, C, A, policy="lsp-cot", max_length=4) is None


@pytest.mark.parametrize("policy", ["cut", "drop", "lsp"])
def test_max_length_cap(policy):
    ex = build_example(P, C, A, policy=policy, max_length=10)
    if policy == "drop":
        assert ex is None
        assert build_example(P, C, A, policy="drop", max_length=13) is not None
    else:
        assert ex[0] == (P + C + A)[:10]


def test_max_length_shorter_than_the_prompt_is_a_counted_skip_with_a_reason():
    kw = {"loss_on": {"cot", "answer"}, "policy": "cut", "lsp": 1.0, "max_length": 2}
    assert build_example(P, C, A, **kw) is None
    assert skip_reason(P, C, A, **kw) == "prompt_longer_than_max_length"


def test_never_an_example_without_loss_bearing_tokens():
    for loss_on, policy, lsp, cap in itertools.product(SUBSETS, ["lsp", "lsp-cot", "cut", "drop", "none"], [0.1, 0.5, 1.0], [None, 2, 5, 12]):
        if (policy == "none" and cap is not None) or (policy in ("cut", "drop") and cap is None):
            continue
        ex = build_example(P, C, A, loss_on=loss_on, policy=policy, lsp=lsp, max_length=cap)
        if ex is not None:
            assert any(t != IGNORE_INDEX for t in ex[1][1:])


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError):
        build_example(P, C, A, loss_on=set())
    with pytest.raises(ValueError):
        build_example(P, C, A, loss_on={"thoughts"})
    with pytest.raises(ValueError):
        build_example(P, C, A, policy="squeeze")


def test_preflight_counts_what_each_policy_touches():
    report = preflight([(P, C, A), (P, C[:2], A)], loss_on={"cot", "answer"}, lsp=0.5, max_length=10)
    assert report["none"] == {"sequences": 2, "touched": 0, "skipped": 0, "tokens": 20, "loss_tokens": 14}
    assert report["drop"]["skipped"] == 1 and report["drop"]["tokens"] == 7
    assert report["lsp"]["touched"] == 2 and report["lsp"]["tokens"] == 7 + 4
    assert report["cut"]["touched"] == 1 and report["cut"]["tokens"] == 10 + 7


def test_collator_pads_only_to_the_longest_sequence_in_the_batch():
    batch = PadToLongest(pad_id=0)([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}])
    assert batch["input_ids"].shape == (2, 3)
    assert batch["labels"][1].tolist() == [5, -100, -100]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


# --------------------------------------------------------------------------- records and rendering


def test_prune_record_uses_pruned_reasoning_and_builds_a_boxed_answer():
    row = {"id": "a", "question": "1+1?", "pruned": "1+1=2.", "original": "long", "answer": "2"}
    s = record_sections(row)
    assert (s.reasoning, s.final) == ("1+1=2.", "The answer is \\boxed{2}")
    assert record_sections(row, reasoning_field="original").reasoning == "long"
    assert record_sections({**row, "final": "So **2**."}).final == "So **2**."


def test_chat_messages_record():
    row = {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "<think>\n1+1=2\n</think>\n\n\\boxed{2}"}]}
    s = record_sections(row, line=3)
    assert s.id == "line-3" and s.reasoning == "1+1=2" and s.final == "\\boxed{2}"


@pytest.mark.parametrize(
    "row,reason",
    [
        ({"question": "q", "pruned": "", "answer": "1"}, "no_reasoning"),
        ({"question": "q", "pruned": "   ", "answer": "1"}, "no_reasoning"),
        ({"question": "q", "answer": "1"}, "no_reasoning"),
        ({"pruned": "r", "answer": "1"}, "missing_question"),
        ({"question": "q", "pruned": "r"}, "no_answer"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "just 2"}]}, "no_reasoning"),
    ],
)
def test_records_that_cannot_be_trained_on_get_a_reason(row, reason):
    assert record_sections(row)[0] == reason


class FakeTokenizer:
    """Character-level stand-in with a chat template, to test rendering without a download."""

    eos_token = "<E>"

    def __init__(self, generation_prompt="<A>"):
        self.generation_prompt = generation_prompt

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + self.generation_prompt

    def __call__(self, texts, add_special_tokens):
        return {"input_ids": [[ord(ch) for ch in t] for t in texts]}


def _text(ids):
    return "".join(chr(i) for i in ids)


def test_rendering_wraps_the_reasoning_in_think_tags_and_ends_with_eos():
    p, c, a = tokenize_sections(FakeTokenizer(), Sections("x", [{"role": "user", "content": "q"}], "r", "The answer is 2"))
    assert _text(p) == "<user>q<A>"
    assert _text(c) == "<think>\nr"
    assert _text(a) == "\n</think>\n\nThe answer is 2<E>"  # the closing tag goes with the answer


def test_lead_span_of_the_reasoning_still_closes_think_before_the_answer():
    p, c, a = tokenize_sections(FakeTokenizer(), Sections("x", [{"role": "user", "content": "q"}], "abcdefgh" * 3, "2"))
    input_ids, _ = build_example(p, c, a, loss_on=("cot", "answer"), policy="lsp-cot", lsp=0.5)
    assert _text(input_ids) == "<user>q<A><think>\nabcdefgh\n</think>\n\n2<E>"  # 16 of the 32 reasoning characters


def test_a_template_that_opens_think_itself_is_not_given_a_second_one():
    _, c, _ = tokenize_sections(FakeTokenizer("<A><think>\n"), Sections("x", [{"role": "user", "content": "q"}], "r", "2"))
    assert _text(c) == "r"
