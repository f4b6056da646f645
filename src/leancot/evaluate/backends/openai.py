"""Any OpenAI-compatible endpoint (OpenAI, vLLM serve, SGLang, llama.cpp), through the teacher client.

Reuses ``leancot.llm.client.LLMClient``: the official async ``openai`` SDK, at most
``concurrency`` requests in flight, bounded retries with backoff on 429/5xx/timeouts/dropped
connections, and the key read from ``$api_key_env`` only. Results are yielded as each request
finishes, so the caller writes them at once. When a request still fails after its retries
(the endpoint is down), the run stops with a one-line error and every record already written
stays; a re-run resumes. A request the server refuses outright (HTTP 400, e.g. a prompt over the
context length) becomes a counted reject for that prompt, not a failed run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence

from leancot.errors import UsageError
from leancot.evaluate.backends.base import Backend, BackendOptions, Generation, Prompt, Sampling

log = logging.getLogger(__name__)


class OpenAIBackend(Backend):
    """Chat completions from a served model; the server applies the chat template."""

    name = "openai"

    def __init__(self, options: BackendOptions):
        from leancot.llm.client import LLMClient

        self.base_url = options.base_url
        self.client = LLMClient(options.model, base_url=options.base_url, api_key_env=options.api_key_env,
                                    concurrency=options.concurrency, timeout=options.request_timeout,
                                    max_retries=options.max_retries, **options.extra)  # fmt: skip
        self.loop = asyncio.new_event_loop()  # one loop for the backend's life: the client's semaphore and pool bind to it

    def prepare(self, messages: list[dict[str, str]], seed: int = 0) -> Prompt:
        return Prompt(messages=messages, seed=seed)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> Iterator[list[tuple[int, Generation]]]:
        pending = {self.loop.create_task(self._one(i, p, sampling)) for i, p in enumerate(prompts)}
        try:
            while pending:
                done, pending = self.loop.run_until_complete(asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED))
                errors = [t.exception() for t in done if t.exception() is not None]
                results = [t.result() for t in done if t.exception() is None]
                if results:
                    yield results  # written by the caller before a fatal error below stops the run
                if errors:
                    raise errors[0]
        finally:
            for t in pending:
                t.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))

    async def _one(self, index: int, prompt: Prompt, sampling: Sampling) -> tuple[int, Generation]:
        from leancot.llm.client import LLMError

        params = {"max_tokens": sampling.max_new_tokens, "temperature": sampling.temperature, "seed": prompt.seed}
        if not sampling.greedy:
            params["top_p"] = sampling.top_p
        try:
            c = await self.client.chat(prompt.messages, **params)
        except LLMError as e:
            if e.transient:  # the endpoint, not this prompt, is at fault: stop, resumable
                where = self.base_url or "the OpenAI API"
                raise UsageError(f"{where} failed ({e}); finished records are kept, re-run the same command to resume") from None
            return index, Generation(text="", finish_reason="error", error=f"{e.reason}: {e.detail}")
        # A server that returns the reasoning in its own field (vLLM's reasoning parser, DeepSeek)
        # gets it put back inside <think>, so reasoning tokens are counted like a local model's.
        text = f"<think>\n{c.reasoning}\n</think>\n\n{c.content}" if c.reasoning else c.content
        reason = "length" if c.finish_reason == "length" else "stop"
        return index, Generation(text=text, finish_reason=reason, completion_tokens=c.usage.completion_tokens or None)

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
