"""vLLM's offline engine: tensor parallelism inside a replica, data parallelism across replicas.

``tensor_parallel_size`` GPUs hold one model replica (``LLM(model=..., tensor_parallel_size=...)``).
With ``data_parallel_size > 1`` the prompts are split into contiguous shards and each replica runs
in its own spawned process, pinned to its own GPUs through ``CUDA_VISIBLE_DEVICES`` before vLLM is
imported (independent engines, as vLLM's offline data-parallel example does; no inter-replica
traffic). Prompts go in as token ids rendered by our own chat template, so the BOS is never added
twice and the ``<think>`` convention is handled exactly as in the hf backend. Each prompt carries
its own seed, so a sampled output does not depend on batching or on the replica that ran it.

Work is handed to the engine in chunks (``CHUNK`` prompts): vLLM batches within a chunk, and
a killed run loses at most the chunk in flight.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from leancot.evaluate.backends.base import Backend, BackendOptions, Generation, Prompt, Sampling, chat_prompt, think_boundary

log = logging.getLogger(__name__)

CHUNK = 1024  # prompts per engine call


def shard(n: int, parts: int) -> list[range]:
    """Split ``range(n)`` into ``parts`` contiguous, nearly equal ranges (some may be empty)."""
    size, extra = divmod(n, parts)
    bounds, start = [], 0
    for k in range(parts):
        end = start + size + (k < extra)
        bounds.append(range(start, end))
        start = end
    return bounds


def gpus_of(rank: int, tp: int, visible: str | None = None) -> str:
    """``CUDA_VISIBLE_DEVICES`` of data-parallel replica ``rank`` with ``tp`` GPUs each."""
    ids = visible.split(",") if visible else [str(i) for i in range(1 << 10)]
    mine = ids[rank * tp : (rank + 1) * tp]
    if len(mine) < tp:
        raise ValueError(f"replica {rank} needs GPUs {rank * tp}..{(rank + 1) * tp - 1}, only {len(ids)} visible")
    return ",".join(mine)


def to_generation(completion: Any, tokenizer: Any = None) -> Generation:
    """A vLLM ``CompletionOutput`` (``.text``, ``.finish_reason``, ``.token_ids``) as a Generation.

    With the engine's ``tokenizer``, the ids are split at ``</think>`` (see ``think_boundary``).
    """
    reason = "length" if completion.finish_reason == "length" else "stop"
    ids = tuple(completion.token_ids)
    think = think_boundary(tokenizer, ids) if tokenizer is not None else None
    return Generation(text=completion.text, finish_reason=reason, completion_tokens=len(ids), token_ids=ids, think_tokens=think)


def sampling_params(sampling: Sampling, seed: int):
    from vllm import SamplingParams

    if sampling.greedy:
        return SamplingParams(n=1, temperature=0.0, max_tokens=sampling.max_new_tokens, seed=seed)
    return SamplingParams(n=1, temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_new_tokens, seed=seed)


def engine(options: BackendOptions):
    """A vLLM ``LLM`` for one replica."""
    from vllm import LLM

    dtype = "auto" if options.dtype == "auto" else options.dtype
    return LLM(model=options.model, tensor_parallel_size=options.tensor_parallel_size, dtype=dtype, seed=options.seed,
               gpu_memory_utilization=options.gpu_memory_utilization, **options.extra)  # fmt: skip


def run_engine(llm, ids: list[list[int]], seeds: list[int], sampling: Sampling) -> list[Generation]:
    """Generate for token-id prompts on one engine; results in prompt order."""
    requests = [{"prompt_token_ids": x} for x in ids]
    params = [sampling_params(sampling, s) for s in seeds]
    outputs = llm.generate(requests, params, use_tqdm=False)
    tokenizer = llm.get_tokenizer()
    return [to_generation(o.outputs[0], tokenizer) for o in outputs]


class VLLMBackend(Backend):
    """Local generation with vLLM on one or more GPUs."""

    name = "vllm"

    def __init__(self, options: BackendOptions):
        from transformers import AutoTokenizer

        self.options = options
        self.tokenizer = AutoTokenizer.from_pretrained(options.model)
        self.dp = options.data_parallel_size
        self.llm = engine(options) if self.dp == 1 else None  # replicas start in their own processes
        self.pool = _ReplicaPool(options) if self.dp > 1 else None

    def prepare(self, messages: list[dict[str, str]], seed: int = 0) -> Prompt:
        return chat_prompt(self.tokenizer, messages, seed)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> Iterator[list[tuple[int, Generation]]]:
        ids = self.tokenizer([p.text for p in prompts], add_special_tokens=False)["input_ids"]
        for start in range(0, len(prompts), CHUNK):
            idx = list(range(start, min(start + CHUNK, len(prompts))))
            chunk_ids, seeds = [ids[i] for i in idx], [prompts[i].seed for i in idx]
            if self.pool is None:
                gens = run_engine(self.llm, chunk_ids, seeds, sampling)
            else:
                gens = self.pool.generate(chunk_ids, seeds, sampling)
            yield list(zip(idx, gens))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.llm = None


class _ReplicaPool:
    """``data_parallel_size`` worker processes, each owning one engine on its own GPUs."""

    def __init__(self, options: BackendOptions):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
        self.inboxes = [ctx.Queue() for _ in range(options.data_parallel_size)]
        self.outbox = ctx.Queue()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.workers = [
            ctx.Process(target=_replica_main, daemon=False,
                        args=(rank, gpus_of(rank, options.tensor_parallel_size, visible), options, inbox, self.outbox, os.getpid()))
            for rank, inbox in enumerate(self.inboxes)
        ]  # fmt: skip
        for w in self.workers:
            w.start()

    def generate(self, ids: list[list[int]], seeds: list[int], sampling: Sampling) -> list[Generation]:
        parts = shard(len(ids), len(self.inboxes))
        for inbox, part in zip(self.inboxes, parts):
            inbox.put(([ids[i] for i in part], [seeds[i] for i in part], sampling))
        results: dict[int, list[Generation]] = {}
        for _ in parts:
            rank, gens = self.outbox.get()
            if isinstance(gens, BaseException):
                raise RuntimeError(f"vLLM replica {rank} failed: {gens}")
            results[rank] = gens
        return [g for rank in range(len(parts)) for g in results[rank]]

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for w in self.workers:
            w.join(timeout=60)


def _replica_main(rank: int, gpus: str, options: BackendOptions, inbox, outbox, parent: int) -> None:
    """A replica process: pin its GPUs, start an engine, serve shards until told to stop (or its parent dies)."""
    from leancot.processes import bind_to_parent

    bind_to_parent(parent)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        llm = engine(options)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        outbox.put((rank, RuntimeError(str(e))))
        return
    while (job := inbox.get()) is not None:
        ids, seeds, sampling = job
        try:
            outbox.put((rank, run_engine(llm, ids, seeds, sampling) if ids else []))
        except BaseException as e:  # noqa: BLE001
            outbox.put((rank, RuntimeError(str(e))))
