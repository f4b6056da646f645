"""The lab students' BPE: trained on the lab's text, digits one by one, every text round-trips."""

from __future__ import annotations

from transformers import AutoTokenizer

from leancot.lab.problems import generate
from leancot.lab.teacher import write_trace
from leancot.lab.tokenizer import train_tokenizer


def test_lab_tokenizer_keeps_words_whole_and_digits_apart(tmp_path):
    traces = [write_trace(p) for p in generate(60, seed=0)]
    tokenizer = AutoTokenizer.from_pretrained(train_tokenizer(traces, tmp_path / "tok", vocab_size=600))
    assert len(tokenizer) <= 600
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = tokenizer.tokenize("Let me double-check that. 49 - 25 = 24")
    assert "Ġdouble" in tokens and tokens[-2:] == ["2", "4"], tokens
    for text in (traces[0], "Unseen: Ωmega 1234567 \\boxed{99} <script>"):
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_lab_tokenizer_renders_the_chat_template(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(train_tokenizer(["a b c"], tmp_path / "tok", vocab_size=300))
    text = tokenizer.apply_chat_template([{"role": "user", "content": "2 + 3"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\n2 + 3<|im_end|>\n<|im_start|>assistant\n"
