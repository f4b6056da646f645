"""One small async interface for a teacher call: messages in, text plus token usage out.

``LLMClient.chat`` sends a chat-completions request to any OpenAI-compatible server
(OpenAI, Gemini's OpenAI endpoint, vLLM, SGLang, llama.cpp) through the official
``openai`` SDK, with:

- the request cache first (``leancot.llm.cache``): a hit costs nothing and makes no call;
- at most ``concurrency`` requests in flight (an ``asyncio.Semaphore``);
- a per-request timeout, and retries with exponential backoff and jitter on 429, 408/409,
  5xx, timeouts, dropped connections and malformed bodies, waiting at least what a
  ``Retry-After`` header asks. The SDK's own retries are switched off (``max_retries=0``)
  so that every retry is counted here and the total is bounded by ``max_retries``;
- usage and cost accounting (``Usage``), and a budget: once ``max_cost`` USD is spent,
  further uncached calls raise ``BudgetExceeded`` so the stage can stop cleanly and resume.

The API key is read from the environment variable named by ``api_key_env`` and handed
to the SDK only; it is never logged, cached or written anywhere.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from leancot.errors import UsageError
from leancot.llm import pricing
from leancot.llm.cache import RequestCache, request_key

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429}  # plus every 5xx
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer is waited on this long, then retried


class LLMError(Exception):
    """A call that failed for good (retries exhausted, or a request the server refuses)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class BudgetExceeded(Exception):
    """``max_cost`` is spent; no further uncached call is made."""


class NotCached(Exception):
    """Raised in cache-only mode (the Batch API driver) for a request that must be sent."""

    def __init__(self, key: str, body: dict[str, Any]):
        super().__init__(key)
        self.key = key
        self.body = body


@dataclass
class Usage:
    """Tokens, cost and call counts; per record and summed over a run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0  # responses received from the server
    cached_calls: int = 0  # answered from the cache
    attempts: int = 0  # HTTP attempts, failed ones included
    retries: int = 0

    def add(self, other: Usage) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost_usd"] = round(d["cost_usd"], 6)
        return d


@dataclass
class Completion:
    """A chat completion reduced to what the stages use."""

    content: str
    reasoning: str = ""  # a separate reasoning field (vLLM/DeepSeek ``reasoning_content``), if any
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    cached: bool = False

    @classmethod
    def from_data(cls, data: dict[str, Any], usage: Usage, cached: bool) -> Completion:
        return cls(data.get("content") or "", data.get("reasoning") or "", data.get("finish_reason") or "", usage, cached)


def resolve_api_key(api_key_env: str, base_url: str | None) -> str:
    """The key from ``$api_key_env``; a local server (``base_url`` set) may need none."""
    key = os.environ.get(api_key_env, "")
    if key:
        return key
    if base_url:
        log.info("no $%s set; sending a placeholder key to %s", api_key_env, base_url)
        return "not-needed"
    raise UsageError(f"no API key: set ${api_key_env} (or name another variable with --api-key-env)")


def retry_after_s(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` / ``retry-after-ms`` header asks to wait, or None."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


def backoff_s(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for retry ``attempt`` (0-based), never below Retry-After."""
    delay = min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)  # jitter spreads a thundering herd
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def classify(exc: Exception) -> tuple[bool, str, float | None]:
    """``(retryable, reason, retry_after)`` of an exception raised by the SDK call."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return True, "timeout", None
    if isinstance(exc, openai.APIConnectionError):
        return True, "connection_error", None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        after = retry_after_s(exc.response.headers if exc.response is not None else None)
        return status in RETRY_STATUS or status >= 500, f"http_{status}", after
    if isinstance(exc, (ValueError, openai.APIResponseValidationError, KeyError, IndexError, TypeError, AttributeError)):
        return True, "malformed_response", None  # a truncated or garbled body: like a dropped connection
    return False, type(exc).__name__, None


class LLMClient:
    """Async chat client with cache, bounded concurrency, bounded retries and a cost budget."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 16, timeout: float = 120.0, max_retries: int = 6, max_cost: float | None = None,
                 cache: RequestCache | None = None, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 batch_pricing: bool = False):
        if max_cost is not None and pricing.price_of(model) is None:
            raise UsageError(f"no price known for {model!r}, so --max-cost cannot be enforced; give a prices file")
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_cost = max_cost
        self.cache = cache
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.batch_pricing = batch_pricing
        self.cache_only = False  # set by the Batch API driver: a miss raises NotCached
        self.failed_keys: dict[str, str] = {}  # requests the Batch API gave up on -> why
        self.usage = Usage()
        self.failures: dict[str, int] = {}  # reason -> count of failed attempts
        self.max_attempts_seen = 0
        self._concurrency = concurrency
        self._sem: asyncio.Semaphore | None = None
        self._sdk = None

    @property
    def sdk(self):
        """The ``openai.AsyncOpenAI`` client, made on first use (so cache-only runs need no key)."""
        if self._sdk is None:
            import openai

            for name in ("httpx", "httpx2"):  # one INFO line per request would drown the progress bar
                if logging.getLogger(name).level == logging.NOTSET:
                    logging.getLogger(name).setLevel(logging.WARNING)
            self._sdk = openai.AsyncOpenAI(api_key=resolve_api_key(self.api_key_env, self.base_url),
                                           base_url=self.base_url, timeout=self.timeout, max_retries=0,
                                           http_client=_http_client(openai, self.timeout))
        return self._sdk

    def budget_left(self) -> bool:
        return self.max_cost is None or self.usage.cost_usd < self.max_cost

    def key(self, messages: list[dict[str, Any]], params: dict[str, Any], salt: str = "") -> str:
        return request_key(self.model, messages, params, salt)

    async def chat(self, messages: list[dict[str, Any]], *, salt: str = "", **params: Any) -> Completion:
        """One chat completion (from the cache when it holds it). Raises LLMError,
        BudgetExceeded, NotCached (cache-only mode) or UsageError (bad key/model: stop the run)."""
        key = self.key(messages, params, salt)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.cached_calls += 1  # the run spent nothing; the record still shows its tokens
            return Completion.from_data(hit, self._usage_of(hit, cached=True), cached=True)
        if key in self.failed_keys:
            raise LLMError("batch_line_failed", self.failed_keys[key])
        if self.cache_only:
            raise NotCached(key, {"model": self.model, "messages": messages, **params})
        if not self.budget_left():
            raise BudgetExceeded(f"spent ${self.usage.cost_usd:.4f} of --max-cost ${self.max_cost}")
        data = await self._send_with_retries(messages, params)
        if self.cache is not None:
            self.cache.put(key, self.model, data)
        return self.record(data)

    def record(self, data: dict[str, Any]) -> Completion:
        """Account a fresh response (also used for Batch API results); returns it as a Completion."""
        usage = self._usage_of(data, cached=False)
        self.usage.add(usage)
        return Completion.from_data(data, usage, cached=False)

    def _usage_of(self, data: dict[str, Any], *, cached: bool) -> Usage:
        usage = Usage(prompt_tokens=int(data.get("prompt_tokens", 0)), completion_tokens=int(data.get("completion_tokens", 0)),
                      calls=int(not cached), cached_calls=int(cached))
        usage.cost_usd = pricing.cost_usd(self.model, usage.prompt_tokens, usage.completion_tokens, batch=self.batch_pricing)
        return usage

    def record_usage(self, usage: Usage) -> dict[str, Any]:
        """A record's usage: its tokens and their cost, the same whether answered live or from the cache."""
        d = usage.as_dict()
        return {"prompt_tokens": d["prompt_tokens"], "completion_tokens": d["completion_tokens"], "cost_usd": d["cost_usd"]}

    async def _send_with_retries(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._concurrency)
        for attempt in range(self.max_retries + 1):
            self.usage.attempts += 1
            self.max_attempts_seen = max(self.max_attempts_seen, attempt + 1)
            try:
                async with self._sem:
                    body = await self._post(messages, params)
                return normalise_body(body)
            except Exception as exc:  # noqa: BLE001 - classified below; unknown kinds are re-raised
                retryable, reason, after = classify(exc)
                self.failures[reason] = self.failures.get(reason, 0) + 1
                _raise_fatal(exc, reason, self)
                if not retryable:
                    raise LLMError(reason, str(exc)[:300]) from None
                if attempt == self.max_retries:
                    raise LLMError("retries_exhausted", f"{reason} after {attempt + 1} attempts") from None
                self.usage.retries += 1
                delay = backoff_s(attempt, self.backoff_base, self.backoff_cap, after)
                log.debug("teacher call failed (%s), retry %d in %.2fs", reason, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _post(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        """POST /chat/completions through the SDK's generic ``post``, returning the JSON body.

        Same auth, timeout and error classes as ``chat.completions.create``, without its
        per-call request transform and response model (~3.5 ms of CPU per call together,
        which at 64 requests in flight was the throughput limit on 2 cores)."""
        body = {"model": self.model, "messages": messages, **params}
        return await self.sdk.post("/chat/completions", cast_to=object, body=body)

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None


def _http_client(openai: Any, timeout: float) -> Any:
    """The SDK's aiohttp transport (``openai[aiohttp]``) when installed, else its default httpx one.

    Why: with 64 requests in flight, httpx's connection pool costs ~1 ms of CPU per request
    (it scans every connection), a third of the per-call overhead; aiohttp's pool does not.
    """
    try:
        return openai.DefaultAioHttpClient(timeout=timeout)
    except (AttributeError, RuntimeError):  # an older SDK, or aiohttp not installed
        return None


def _raise_fatal(exc: Exception, reason: str, client: LLMClient) -> None:
    """A wrong key or an unknown model fails every call alike: stop the run with one line."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        raise UsageError(f"{client.base_url or 'OpenAI'} refused the key in ${client.api_key_env} (401)") from None
    if isinstance(exc, (openai.PermissionDeniedError, openai.NotFoundError)):
        raise UsageError(f"{client.base_url or 'OpenAI'} refused model {client.model!r} ({reason})") from None
    if not isinstance(exc, openai.OpenAIError) and not isinstance(exc, (ValueError, LookupError, TypeError, AttributeError)):
        raise exc


def normalise_body(body: Any) -> dict[str, Any]:
    """The parts of a chat-completion JSON body that are kept (and cached); raises on a malformed one."""
    choice = body["choices"][0]
    message = choice["message"]
    content = message.get("content")
    reasoning = next((v for k in ("reasoning_content", "reasoning") if isinstance(v := message.get(k), str) and v), "")
    if not isinstance(content, str) and not reasoning:
        raise ValueError("response has no message content")
    usage = body.get("usage") or {}
    return {
        "content": content if isinstance(content, str) else "",
        "reasoning": reasoning,
        "finish_reason": choice.get("finish_reason") or "",
        "prompt_tokens": int(usage.get("prompt_tokens") or 0),
        "completion_tokens": int(usage.get("completion_tokens") or 0),
    }
