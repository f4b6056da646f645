"""The vLLM backend: its pure helpers always; generation only where vLLM and a GPU are present."""

import pytest

from leancot.evaluate.backends.base import BackendOptions, Sampling
from leancot.evaluate.backends.vllm import gpus_of, shard, to_generation


def test_shards_cover_every_prompt_once_in_order():
    for n in (0, 1, 7, 8, 9):
        for parts in (1, 2, 3):
            ranges = shard(n, parts)
            assert len(ranges) == parts and [i for r in ranges for i in r] == list(range(n))
            assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


def test_each_replica_gets_its_own_gpus():
    assert gpus_of(0, 2) == "0,1" and gpus_of(1, 2) == "2,3"
    assert gpus_of(1, 1, visible="4,5,6") == "5"
    with pytest.raises(ValueError):
        gpus_of(2, 2, visible="0,1,2,3")


def test_a_vllm_output_becomes_a_generation():
    class Out:
        text, finish_reason, token_ids = "abc", "length", [1, 2, 3]

    g = to_generation(Out())
    assert (g.text, g.finish_reason, g.completion_tokens) == ("abc", "length", 3)


@pytest.mark.gpu
@pytest.mark.slow
def test_vllm_greedy_generation(tiny_model_dir):
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from leancot.evaluate.backends.vllm import VLLMBackend

    backend = VLLMBackend(BackendOptions(model=str(tiny_model_dir), gpu_memory_utilization=0.3))
    prompts = [backend.prepare([{"role": "user", "content": q}], seed=i) for i, q in enumerate(["2+2?", "3*3?"])]
    results = {i: g for batch in backend.generate(prompts, Sampling(max_new_tokens=8)) for i, g in batch}
    assert sorted(results) == [0, 1] and all(g.completion_tokens <= 8 for g in results.values())
    backend.close()
