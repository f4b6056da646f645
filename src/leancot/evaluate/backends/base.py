"""What every generation backend takes and returns (no heavy imports here)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """Decoding settings: greedy when ``temperature == 0``."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Prompt:
    """One prompt, as the backend prepared it.

    ``text`` is the rendered chat for local backends (``None`` for an API, which renders
    itself from ``messages``); ``think_prefix`` is the ``<think>`` opening the template wrote;
    ``seed`` makes this (problem, sample) reproducible where the backend allows per-request seeds.
    """

    messages: list[dict[str, str]]
    text: str | None = None
    think_prefix: str = ""
    seed: int = 0


@dataclass(frozen=True)
class Generation:
    """One generated completion: the new text only, why it stopped, and its length in tokens.

    Local backends (hf, vllm) also give the ids they generated and where the reasoning
    ends among them, so that token counts are those of the generation itself: re-tokenising
    the decoded text of a cut-off output can count a quarter of its tokens.
    """

    text: str
    finish_reason: str  # "stop" (end-of-sequence token) | "length" (hit max_new_tokens) | "error" (see error)
    completion_tokens: int | None = None  # as counted by the backend (None when it cannot say)
    error: str | None = None  # "reason: detail" when the backend could not generate this prompt (a reject)
    token_ids: tuple[int, ...] | None = None  # the generated ids, end token included (None: an API)
    think_tokens: int | None = None  # how many of token_ids precede the last </think> (None: there is none)


@dataclass
class BackendOptions:
    """Everything a backend may need; each backend reads the fields that concern it."""

    model: str
    batch_size: int = 16  # hf: prompts per forward batch
    dtype: str = "auto"  # hf/vllm: auto | float32 | bfloat16 | float16
    device: str | None = None  # hf: cpu | cuda | cuda:1 ... (default: cuda when available)
    threads: int | None = None  # hf on CPU: torch threads (default: torch's; 1 is faster on a crowded machine)
    tensor_parallel_size: int = 1  # vllm
    data_parallel_size: int = 1  # vllm: independent replicas, each on tensor_parallel_size GPUs
    gpu_memory_utilization: float = 0.9  # vllm
    base_url: str | None = None  # openai: the endpoint (default: $OPENAI_BASE_URL or api.openai.com)
    api_key_env: str = "OPENAI_API_KEY"  # openai: the env var holding the key (never the key itself)
    concurrency: int = 16  # openai: requests in flight
    max_retries: int = 4  # openai: retries per request (connection errors, 429, 5xx), backing off
    request_timeout: float = 600.0  # openai: seconds per request
    seed: int = 0  # vllm: engine seed (per-request seeds come with each Prompt)
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific keyword arguments


class Backend(ABC):
    """A text generator. ``generate`` yields results as they finish, so the caller can write
    them at once: an interrupted run then loses at most what was in flight."""

    name: str = ""

    @abstractmethod
    def prepare(self, messages: list[dict[str, str]], seed: int = 0) -> Prompt:
        """Turn chat messages into this backend's prompt (render them for a local model)."""

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> Iterator[list[tuple[int, Generation]]]:
        """Yield lists of ``(index into prompts, Generation)``, each index exactly once."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the backend holds (GPU memory, worker processes, connections)."""


THINK_CLOSE = "</think>"


def think_boundary(tokenizer: Any, ids: Sequence[int]) -> int | None:
    """How many of the generated ``ids`` come before the last ``</think>`` (None: no ``</think>``).

    Where ``</think>`` is one token (R1 and its distills) its last id is looked for; else the
    text is decoded and the boundary found by bisection on decoded prefixes (a token that
    holds the ``<`` of ``</think>`` counts as answer). ``</think>`` itself starts the answer.
    """
    close = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)
    if len(close) == 1:
        last = next((k for k in range(len(ids) - 1, -1, -1) if ids[k] == close[0]), None)
        return last
    at = tokenizer.decode(ids, skip_special_tokens=False).rfind(THINK_CLOSE)
    if at < 0:
        return None
    lo, hi = 0, len(ids)  # the most tokens whose text ends before the tag
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer.decode(ids[:mid], skip_special_tokens=False)) <= at:
            lo = mid
        else:
            hi = mid - 1
    return lo


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]], seed: int = 0) -> Prompt:
    """A Prompt rendered with the tokenizer's chat template (for backends that hold a local tokenizer)."""
    from leancot.evaluate.render import render

    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    rendered = render(tokenizer, messages[-1]["content"], system)
    return Prompt(messages=messages, text=rendered.text, think_prefix=rendered.think_prefix, seed=seed)
