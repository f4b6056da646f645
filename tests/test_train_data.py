"""Masks for every section subset and policy, LSP truncation, rendering and batching."""

import itertools

import pytest

from leancot.errors import UsageError
from leancot.train.config import TrainConfig
from leancot.train.data import (
    IGNORE_INDEX,
    LOSS_PRESETS,
    PadToLongest,
    Sections,
    build_example,
    loss_sections,
    preflight,
    record_sections,
    skip_reason,
    think_close_tokens,
    tokenize_sections,
)

P, C, A = [1, 2, 3], [10, 11, 12, 13, 14, 15, 16, 17], [20, 21]  # 3 + 8 + 2 = 13 tokens
SUBSETS = [set(s) for n in (1, 2, 3) for s in itertools.combinations(("prompt", "cot", "answer"), n)]


@pytest.mark.parametrize("loss_on", SUBSETS, ids=lambda s: "+".join(sorted(s)))
def test_labels_are_the_tokens_of_the_chosen_sections_only(loss_on):
    ids, labels = build_example(P, C, A, loss_on=loss_on, policy="none")
    assert ids == P + C + A
    sections = ["prompt"] * 3 + ["cot"] * 8 + ["answer"] * 2
    assert labels == [t if s in loss_on else IGNORE_INDEX for t, s in zip(ids, sections)]


@pytest.mark.parametrize("lsp", [0.2, 0.25, 0.5, 0.77, 1.0])
def test_lsp_keeps_the_first_x_percent_of_tokens(lsp):
    ids, labels = build_example(P, C, A, loss_on={"prompt", "cot", "answer"}, policy="lsp", lsp=lsp)
    keep = max(1, int(13 * lsp))  # the Essence code's count
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
    for loss_on, policy, lsp, cap in itertools.product(
        SUBSETS, ["lsp", "lsp-cot", "cut", "drop", "none"], [0.1, 0.5, 1.0], [None, 2, 5, 12]
    ):
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
    # int(13 * 0.5) = 6 tokens; int(7 * 0.5) = 3 is the prompt alone: nothing to train, skipped
    assert report["lsp"] == {"sequences": 1, "touched": 1, "skipped": 1, "tokens": 6, "loss_tokens": 3}
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


# --------------------------------------------------------------------------- the paper's length handling and masks

ALL = {"prompt", "cot", "answer"}


@pytest.mark.parametrize(
    "length,max_length,lsp,kept",
    [
        (13, 13, 1.0, 13),  # at the cap: kept whole
        (13, 12, 1.0, None),  # over the cap: dropped, not cut
        (13, 12, 0.5, None),  # dropped before LSP, even though LSP alone would fit
        (13, 13, 0.5, 6),  # int(13 * 0.5) = 6
        (13, 20, 0.77, 10),  # int(10.01) = 10
        (13, 20, 0.25, 3),  # int(3.25) = 3
    ],
)
def test_drop_then_lsp_drops_over_the_cap_then_keeps_int_len_times_x(length, max_length, lsp, kept):
    c = C + list(range(30, 30 + length - 13))
    ex = build_example(P, c, A, loss_on=ALL, policy="lsp", lsp=lsp, max_length=max_length, length_filter="drop")
    assert (None if ex is None else len(ex[0])) == kept
    if ex is not None:
        assert ex[0] == (P + c + A)[:kept]


def test_lsp_then_cut_differs_from_drop_then_lsp():
    assert len(build_example(P, C, A, loss_on=ALL, policy="lsp", lsp=1.0, max_length=12)[0]) == 12  # cut
    assert build_example(P, C, A, loss_on=ALL, policy="lsp", lsp=1.0, max_length=12, length_filter="drop") is None
    assert skip_reason(P, C, A, policy="lsp", max_length=12, length_filter="drop") == "over_max_length"


@pytest.mark.parametrize("length,x", [(100, 0.29), (4000, 0.5), (3999, 0.5), (1234, 0.33), (7, 0.99), (57, 0.1)])
def test_lsp_count_is_exactly_the_official_int_len_times_x(length, x):
    cot = list(range(100, 100 + length - 5))
    ex = build_example(P, cot, A, loss_on=ALL, policy="lsp", lsp=x, max_length=4096, length_filter="drop")
    assert len(ex[0]) == max(1, int(length * x))  # datasets.py: keep = max(1, int(len(input_ids) * x))
    assert (length, x) != (100, 0.29) or len(ex[0]) == 28  # 100 * 0.29 = 28.999999999999996


def test_drop_filter_composes_with_lsp_cot():
    ex = build_example(P, C, A, policy="lsp-cot", lsp=0.5, max_length=13, length_filter="drop")
    assert ex[0] == P + C[:4] + A
    assert build_example(P, C, A, policy="lsp-cot", lsp=0.5, max_length=12, length_filter="drop") is None


# The answer section as tokenize_sections makes it: "\n</think>" (2 tokens here), then the answer text.
A4 = [90, 91, 20, 21]
OWNERS = {  # section of each token of P + C + A4, by think_close
    "answer": ["prompt"] * 3 + ["cot"] * 8 + ["answer"] * 4,
    "cot": ["prompt"] * 3 + ["cot"] * 10 + ["answer"] * 2,
}


@pytest.mark.parametrize("think_close", ["answer", "cot"])
@pytest.mark.parametrize("loss_on", SUBSETS, ids=lambda s: "+".join(sorted(s)))
def test_think_close_assigns_the_closing_tag_to_the_chosen_section(loss_on, think_close):
    ids, labels = build_example(P, C, A4, loss_on=loss_on, policy="none", think_close=think_close, close_tokens=2)
    assert ids == P + C + A4
    assert labels == [t if s in loss_on else IGNORE_INDEX for t, s in zip(ids, OWNERS[think_close])]


def test_think_close_cot_under_lsp_cot_still_keeps_the_tag_and_labels_it_cot():
    ids, labels = build_example(P, C, A4, loss_on={"cot"}, policy="lsp-cot", lsp=0.5, think_close="cot", close_tokens=2)
    assert ids == P + C[:4] + A4
    assert labels == [IGNORE_INDEX] * 3 + C[:4] + [90, 91] + [IGNORE_INDEX] * 2


def test_think_close_cot_with_the_tag_cut_off_labels_only_what_is_left():
    ids, labels = build_example(P, C, A4, loss_on={"cot"}, policy="cut", max_length=12, think_close="cot", close_tokens=2)
    assert ids == P + C + [90] and labels == [IGNORE_INDEX] * 3 + C + [90]  # the one tag token left is cot
    assert build_example(P, C, A4, loss_on={"answer"}, policy="cut", max_length=12, think_close="cot", close_tokens=2) is None
    assert build_example(P, C, A4, loss_on={"answer"}, policy="cut", max_length=12, close_tokens=2)[1][-1] == 90


def _official_labels(ids, name, think, close):
    """fmchisel DataCollatorForCompletionOnlyLM.torch_call, section_inclusion branch, on one row."""
    labels = list(ids)
    s = ids.index(think)  # cot_start_token_ids_start_idx
    e = ids.index(close) + 1  # cot_end_token_ids_end_idx
    ign = IGNORE_INDEX
    if name == "cot":
        labels[:s] = [ign] * s
        labels[e + 1 :] = [ign] * len(labels[e + 1 :])
    elif name == "promptCot":
        labels[e + 1 :] = [ign] * len(labels[e + 1 :])
    elif name == "cotAns":
        labels[:s] = [ign] * s
    elif name == "ans":
        labels[:e] = [ign] * e
    elif name == "promptAns":
        labels[s:e] = [ign] * (e - s)
    return labels


@pytest.mark.parametrize("name", list(LOSS_PRESETS))
def test_the_six_official_section_names_give_the_official_masks_with_think_close_cot(name):
    think, close = 70, 71
    p, c, a = [1, 2, 3], [think, 10, 11, 12], [close, 20, 21, 22]
    ids, labels = build_example(p, c, a, loss_on=name, policy="none", think_close="cot", close_tokens=1)
    official = _official_labels(ids, name, think, close)
    differ = [i for i, (x, y) in enumerate(zip(labels, official)) if x != y]
    if name in ("cot", "promptCot"):
        assert differ == [ids.index(close) + 1]  # the official slice also keeps the one token after </think>
    else:
        assert differ == []


def test_loss_sections_parse_lists_and_official_names():
    assert loss_sections("answer,cot") == ["cot", "answer"]
    assert loss_sections(["prompt", "answer"]) == ["prompt", "answer"]
    assert loss_sections("promptcotAns") == ["prompt", "cot", "answer"]
    assert loss_sections(["promptCot"]) == ["prompt", "cot"]
    assert {k: tuple(loss_sections(k)) for k in LOSS_PRESETS} == LOSS_PRESETS
    for bad in ("", "thoughts", "promptcotAns,cot", []):
        with pytest.raises(ValueError):
            loss_sections(bad)


def test_config_accepts_official_names_and_checks_the_length_filter(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    base = {"input": data, "out": tmp_path / "o"}
    assert TrainConfig(**base, loss_on="promptcotAns").loss_on == ["prompt", "cot", "answer"]
    assert TrainConfig(**base, loss_on=["cotAns"]).loss_on == ["cot", "answer"]
    assert TrainConfig(**base, policy="lsp", lsp=0.5, max_length=64, length_filter="drop", think_close="cot").length_filter == "drop"
    for bad in ({"loss_on": "promptcotans"}, {"length_filter": "drop"}, {"length_filter": "drop", "policy": "cut", "max_length": 64},
                {"keep": "best"}, {"val_fraction": 0.1, "val_file": data}, {"val_fraction": 2.5}):  # fmt: skip
        with pytest.raises(UsageError):
            TrainConfig(**base, **bad)


def test_think_close_tokens_counts_the_tag_at_the_start_of_the_answer():
    tok = FakeTokenizer()
    _, _, a = tokenize_sections(tok, Sections("x", [{"role": "user", "content": "q"}], "r", "2"))
    assert think_close_tokens(tok, a) == len("\n</think>")
