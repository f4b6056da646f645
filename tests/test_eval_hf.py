"""The transformers backend and the chat rendering, on a tiny random model."""

import pytest

from leancot.evaluate.backends import BackendOptions, Sampling
from leancot.evaluate.render import RenderedPrompt, render, think_prefix_of


@pytest.fixture(scope="module")
def sharp_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny random model with its weights scaled up: its greedy choices are then clear
    winners (margins ~0.05-0.4 logits) that vary from token to token, not the near-ties of a
    fresh init, so a batching bug shows up as a different output rather than hiding in noise."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    out = tmp_path_factory.mktemp("sharp_tiny")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def backend(sharp_model_dir):
    from leancot.evaluate.backends.hf import HFBackend

    return HFBackend(BackendOptions(model=str(sharp_model_dir), batch_size=4, threads=1))


QUESTIONS = [
    "What is 2+2?",
    "Natalia sold clips to 48 of her friends in April, and then half as many in May. How many in all?",
    "Compute 7*8.",
    "A long question " * 12,
    "x",
]


def test_batched_greedy_equals_batch_size_one(backend):
    prompts = [backend.prepare([{"role": "user", "content": q}]) for q in QUESTIONS]
    sampling = Sampling(max_new_tokens=12)
    batched = {i: g for batch in backend.generate(prompts, sampling) for i, g in batch}
    assert sorted(batched) == list(range(len(QUESTIONS)))  # every prompt exactly once, despite the length sort
    ids = backend.tokenizer([p.text for p in prompts], add_special_tokens=False)["input_ids"]
    single = [backend.generate_ids([x], sampling)[0] for x in ids]
    assert len({g.text for g in single}) > 1  # the model's outputs depend on the prompt
    assert [batched[i].text for i in range(len(QUESTIONS))] == [g.text for g in single]


def test_an_end_token_stops_a_row_and_is_reported(backend):
    import torch

    ids = backend.tokenizer(["Compute 7*8.", "What is 2+2?"], add_special_tokens=False)["input_ids"]
    free = backend.generate_ids([ids[0]], Sampling(max_new_tokens=8))[0]
    assert free.finish_reason == "length" and free.completion_tokens == 8
    first = backend.model.generate(
        input_ids=torch.tensor([ids[0]]), attention_mask=torch.ones(1, len(ids[0]), dtype=torch.long), max_new_tokens=3, do_sample=False
    )[0, len(ids[0]) :].tolist()
    assert first[2] not in first[:2]
    saved = set(backend.eos_ids)
    backend.eos_ids = saved | {first[2]}  # the first row's third token now ends a turn
    try:
        rows = backend.generate_ids(ids, Sampling(max_new_tokens=8))
    finally:
        backend.eos_ids = saved
    assert rows[0].finish_reason == "stop" and rows[0].completion_tokens == 3  # two tokens of text + the end token
    assert rows[0].text == backend.tokenizer.decode(first[:2], skip_special_tokens=True)


def test_sampling_uses_the_seed(backend):
    prompt = backend.prepare([{"role": "user", "content": "Compute 7*8."}], seed=5)
    sampling = Sampling(max_new_tokens=10, temperature=1.0, top_p=0.9)
    first = [g.text for b in backend.generate([prompt, prompt], sampling) for _, g in b]
    again = [g.text for b in backend.generate([prompt, prompt], sampling) for _, g in b]
    assert first == again


class _Template:
    """A stand-in tokenizer whose chat template opens the think block itself (as R1-Distill's does)."""

    chat_template = "x"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return "<｜User｜>" + messages[-1]["content"] + "<｜Assistant｜><think>\n"


def test_a_template_that_opens_think_is_detected():
    rendered = render(_Template(), "What is 1+1?")
    assert rendered.think_prefix == "<think>\n"
    assert think_prefix_of("<|im_start|>assistant\n") == ""


def test_smollm_style_template_and_no_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rendered = render(tok, "Q?")
    assert rendered.text.endswith("<|im_start|>assistant\n") and rendered.think_prefix == ""
    tok.chat_template = None
    assert render(tok, "Q?") == RenderedPrompt(text="Q?\n")
