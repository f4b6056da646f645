"""Eval's token counts come from the ids the backend generated, split at ``</think>``.

A cut-off generation of N tokens counts N (re-tokenising its decoded text does not give N
back: random tokens re-merge), and reasoning + answer = total for every backend.
"""

import pytest

from leancot.evaluate.backends import BackendOptions, Generation, Prompt, Sampling
from leancot.evaluate.backends.base import think_boundary
from leancot.evaluate.counting import token_counts
from leancot.evaluate.stage import make_records
from leancot.schema import Problem
from leancot.tokens import count_tokens


@pytest.fixture(scope="module")
def hf(tiny_model_dir):
    from leancot.evaluate.backends.hf import HFBackend

    return HFBackend(BackendOptions(model=str(tiny_model_dir), batch_size=2, threads=1))


def _records(backend, questions, max_new_tokens):
    prompts = [backend.prepare([{"role": "user", "content": q}]) for q in questions]
    gens = {i: g for batch in backend.generate(prompts, Sampling(max_new_tokens=max_new_tokens)) for i, g in batch}
    problems = [Problem(id=f"p{i}", question=q, gold_answer="5") for i, q in enumerate(questions)]
    results = [((problems[i], 0), prompts[i], gens[i]) for i in range(len(questions))]
    return make_records("toy", results, str(_tokenizer_dir(backend))), gens


def _tokenizer_dir(backend):
    return backend.tokenizer.name_or_path


def test_a_cut_off_generation_of_n_tokens_counts_n(hf):
    records, gens = _records(hf, ["What is 2+3?", "Compute 7*8."], max_new_tokens=32)
    for rec, gen in zip(records, (gens[0], gens[1])):
        assert rec.finish_reason == "length" and len(gen.token_ids) == 32
        assert (rec.total_tokens, rec.reasoning_tokens + rec.answer_tokens) == (32, 32)
        assert rec.answer_tokens == 0  # no </think>: cut off, all of it reasoning
    retokenised = [count_tokens(g.text, _tokenizer_dir(hf)) for g in gens.values()]
    assert retokenised != [32, 32]  # what the old count gave: the bug this guards against


def test_the_split_is_at_the_think_token_boundary(smollm2_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    reasoning = tok.encode("<think>\nSo 2 + 3 = 5.\n", add_special_tokens=False)
    answer = tok.encode("</think>\n\nThe answer is \\boxed{5}.", add_special_tokens=False)
    assert len(tok.encode("</think>", add_special_tokens=False)) > 1  # several tokens here: found by decoding
    assert think_boundary(tok, reasoning + answer) == len(reasoning)
    assert think_boundary(tok, reasoning) is None
    tok.add_tokens(["</think>"])  # as R1's vocabulary has it: one id, found directly
    close = tok.convert_tokens_to_ids("</think>")
    assert think_boundary(tok, [5, 6, close, 7, close, 8]) == 4  # the last </think>


def test_hf_ids_include_the_end_token_and_the_think_split(hf):
    ids = hf.tokenizer.encode("<think>\nx\n</think>\nok", add_special_tokens=False)
    end = min(hf.eos_ids)
    gen = hf._finish(ids + [end, end], max_new_tokens=len(ids) + 2)  # an end token, then padding
    assert gen.finish_reason == "stop" and gen.token_ids == (*ids, end) and gen.completion_tokens == len(ids) + 1
    assert gen.think_tokens == think_boundary(hf.tokenizer, ids) > 0
    ((reasoning, answer, total),) = token_counts([gen.text], [gen])
    assert (reasoning, reasoning + answer, total) == (gen.think_tokens, total, len(ids) + 1)


# (what, generation, output graded, expected (reasoning, answer, total) or a check)
API_CASES = [
    ("usage given, no think tags: all reasoning", Generation("So 5. The answer is 5.", "stop", completion_tokens=40), None, (40, 0, 40)),
    ("usage given, cut off in <think>", Generation("<think>So 2 + 3", "length", completion_tokens=64), None, (64, 0, 64)),
]


@pytest.mark.parametrize("name, gen, output, expected", API_CASES, ids=[c[0] for c in API_CASES])
def test_an_api_total_is_its_usage(name, gen, output, expected):
    assert token_counts([output or gen.text], [gen]) == [expected]


def test_an_api_split_shares_the_usage_total_in_proportion():
    gen = Generation("<think>\n" + "Let me add 2 and 3 carefully. " * 10 + "\n</think>\n\nThe answer is 5.", "stop", completion_tokens=200)
    ((reasoning, answer, total),) = token_counts([gen.text], [gen])
    assert total == 200 and reasoning + answer == 200 and reasoning > 4 * answer > 0


def test_no_ids_and_no_usage_counts_the_text():
    gen = Generation("<think>a b c</think>The answer is 5.", "stop")
    ((reasoning, answer, total),) = token_counts([gen.text], [gen])
    assert total == count_tokens(gen.text) and reasoning + answer == total


def test_the_think_prefix_of_the_prompt_is_not_counted(hf):
    ids = hf.tokenizer.encode("So 5.\n</think>\n5", add_special_tokens=False)
    gen = hf._finish(ids, max_new_tokens=len(ids))
    (rec,) = make_records(
        "toy",
        [((Problem(id="p", question="q", gold_answer="5"), 0), Prompt(messages=[], think_prefix="<think>\n"), gen)],
        _tokenizer_dir(hf),
    )
    assert rec.output.startswith("<think>\n") and rec.total_tokens == len(ids)


def test_a_vllm_output_keeps_its_ids_and_think_split():
    from leancot.evaluate.backends.vllm import to_generation

    class OneIdThink:  # a vocabulary where </think> is one token, id 99, as R1's
        def encode(self, text, add_special_tokens=False):
            return [99] if text == "</think>" else [1] * len(text)

    class Out:
        text, finish_reason, token_ids = "R</think>F", "stop", [11, 12, 99, 13, 2]

    gen = to_generation(Out(), OneIdThink())
    assert (gen.token_ids, gen.think_tokens, gen.completion_tokens) == ((11, 12, 99, 13, 2), 2, 5)
    assert token_counts([gen.text], [gen]) == [(2, 3, 5)]
