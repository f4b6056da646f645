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
  Prompt tokens the provider's automatic prompt caching served (``cached_prompt_tokens``,
  read from ``usage.prompt_tokens_details.cached_tokens``, as OpenAI, llama.cpp's
  ``llama-server`` and vLLM with ``--enable-prompt-tokens-details`` report them, or DeepSeek's
  ``usage.prompt_cache_hit_tokens``) are counted apart and priced at the cached-input rate.

The API key is read from the environment variable named by ``api_key_env`` and handed
to the SDK only; it is never logged, cached or written anywhere.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
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
    """A call that failed for good: a request the server refuses, or retries exhausted.

    ``transient``: the server or the network was at fault (down, overloaded, timing out),
    not the request; the same request may succeed later, so a stage keeps the item pending."""

    def __init__(self, reason: str, detail: str = "", *, transient: bool = False):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.transient = transient


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
    cached_prompt_tokens: int = 0  # of prompt_tokens, those the provider's prompt cache served (billed cheaper)
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


def cache_usage(cache: Any, model: str, *, batch: bool = False) -> dict[str, Any]:
    """What every response the request cache holds for ``model`` cost, priced: the usage of a stage's whole
    run across resumes (a killed run's responses included), as the manifest's ``usage.total`` records it."""
    from leancot.llm import pricing

    totals = cache.totals(model)
    cached = totals.get("cached_prompt_tokens", 0)
    cost = pricing.cost_usd(model, totals["prompt_tokens"], totals["completion_tokens"], cached_prompt_tokens=cached, batch=batch)
    return {"calls": totals["responses"], "prompt_tokens": totals["prompt_tokens"], "completion_tokens": totals["completion_tokens"],
            "cached_prompt_tokens": cached, "cost_usd": round(cost, 6)}  # fmt: skip


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


@dataclass
class Failure:
    """What went wrong with one HTTP attempt, by what happened."""

    reason: str  # connection_refused | connection_error | timeout | http_<status> | malformed_body | context_length | response_format
    transient: bool  # worth retrying: the server or network, not the request, is at fault
    retry_after: float | None = None
    detail: str = ""  # the server's own message, kept for the record that fails


def classify(exc: Exception) -> Failure:
    """Classify an exception raised by the SDK call."""
    import openai

    if isinstance(exc, openai.APIConnectionError) and _refused(exc):  # some transports report a refusal as a timeout
        return Failure("connection_refused", True, detail=str(exc)[:300])
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", True, detail=str(exc)[:300])
    if isinstance(exc, openai.APIConnectionError):
        return Failure("connection_refused" if _refused(exc) else "connection_error", True, detail=str(exc)[:300])
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc)
    if isinstance(exc, (ValueError, openai.APIResponseValidationError, KeyError, IndexError, TypeError, AttributeError)):
        return Failure("malformed_body", True, detail=str(exc)[:300])  # a truncated or garbled body: like a dropped connection
    return Failure(type(exc).__name__, False, detail=str(exc)[:300])


def _status_failure(exc: Any) -> Failure:
    status = exc.status_code
    message = _server_message(exc)
    lowered = message.lower()
    if "response_format" in lowered or "json_schema" in lowered:
        return Failure("response_format", False, detail=message)  # the server cannot do structured output: negotiate
    if "context length" in lowered or "context_length" in lowered or "maximum context" in lowered or "too many tokens" in lowered:
        return Failure("context_length", False, detail=message)
    after = retry_after_s(exc.response.headers if exc.response is not None else None)
    return Failure(f"http_{status}", status in RETRY_STATUS or status >= 500, after, message)


def _server_message(exc: Any) -> str:
    """The error text the server sent (its JSON body's message, else the raw body)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else inner
        text = text if isinstance(text, str) else str(body)
    else:
        text = str(body) if body else getattr(exc, "message", "") or str(exc)
    return text[:500]


def _refused(exc: BaseException) -> bool:
    """Whether a connection error was a refused connection (nothing listening), anywhere in its causes."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class AdaptiveLimit:
    """How many requests may be in flight: fixed, or ``auto`` (additive increase, halved on congestion).

    A one-slot server (llama.cpp with one slot) queues requests; with many in flight they time out
    while it is still working on them. ``auto`` starts at ``start``, grows by about one per
    ``limit`` successes, and halves on a timeout, 429 or 503, so it settles where the server keeps up."""

    def __init__(self, limit: int, *, auto: bool, maximum: int):
        self.auto, self.max = auto, maximum
        self.limit = float(limit)
        self.in_flight = 0
        self._cond: asyncio.Condition | None = None

    async def __aenter__(self) -> None:
        if self._cond is None:
            self._cond = asyncio.Condition()
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self.in_flight += 1

    async def __aexit__(self, *exc: object) -> None:
        assert self._cond is not None
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def success(self) -> None:
        if self.auto:
            self.limit = min(self.max, self.limit + 1 / max(self.limit, 1.0))

    def congested(self) -> None:
        if self.auto:
            self.limit = max(1.0, self.limit / 2)


FORMATS = ("json_schema", "json_object", "none")  # response_format levels, most structured first
AUTO_START, AUTO_MAX = 4, 64  # --concurrency auto: first and largest number of requests in flight


class LLMClient:
    """Async chat client with cache, bounded concurrency and retries, a circuit breaker and a cost budget."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int | str = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        max_cost: float | None = None,
        cache: RequestCache | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        batch_pricing: bool = False,
        breaker_after: int = 8,
        response_format: str = "json_schema",
    ):
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
        self.breaker_after = breaker_after  # consecutive requests lost to a down server before giving up
        self.consecutive_lost = 0
        self.response_format = response_format  # negotiated down when the server refuses structured output
        self.spent_before = self._spent_in_cache()  # what earlier runs over this cache already paid
        auto = concurrency == "auto"
        self.limit = AdaptiveLimit(AUTO_START if auto else int(concurrency), auto=auto, maximum=AUTO_MAX if auto else int(concurrency))
        self._sdk = None

    @property
    def where(self) -> str:
        return self.base_url or "the OpenAI API"

    @property
    def unreachable(self) -> bool:
        """The circuit breaker: this many requests in a row were lost to transient failures."""
        return self.consecutive_lost >= self.breaker_after

    @property
    def sdk(self):
        """The ``openai.AsyncOpenAI`` client, made on first use (so cache-only runs need no key)."""
        if self._sdk is None:
            import openai

            for name in ("httpx", "httpx2"):  # one INFO line per request would drown the progress bar
                if logging.getLogger(name).level == logging.NOTSET:
                    logging.getLogger(name).setLevel(logging.WARNING)
            self._sdk = openai.AsyncOpenAI(
                api_key=resolve_api_key(self.api_key_env, self.base_url),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,
                http_client=_http_client(openai, self.timeout),
            )
        return self._sdk

    def spent(self) -> float:
        """USD spent on this model's uncached calls so far, earlier runs over the same cache included."""
        return self.spent_before + self.usage.cost_usd

    def budget_left(self) -> bool:
        return self.max_cost is None or self.spent() < self.max_cost

    def key(self, messages: list[dict[str, Any]], params: dict[str, Any], salt: str = "") -> str:
        return request_key(self.model, messages, params, salt)

    async def chat(self, messages: list[dict[str, Any]], *, salt: str = "", **params: Any) -> Completion:
        """One chat completion (from the cache when it holds it). Raises LLMError,
        BudgetExceeded, NotCached (cache-only mode) or UsageError (bad key/model: stop the run).

        The cache key is the request as asked; the request sent carries the response_format
        the server was found to accept."""
        key = self.key(messages, params, salt)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.cached_calls += 1  # the run spent nothing; the record still shows its tokens
            return Completion.from_data(hit, self._usage_of(hit, cached=True), cached=True)
        if key in self.failed_keys:
            raise LLMError("batch_line_failed", self.failed_keys[key])
        if self.cache_only:
            raise NotCached(key, {"model": self.model, "messages": messages, **self._negotiated(params)})
        if self.unreachable:
            raise LLMError("unreachable", f"{self.where}: {self.consecutive_lost} requests in a row failed", transient=True)
        if not self.budget_left():
            raise BudgetExceeded(f"spent ${self.spent():.4f} of --max-cost ${self.max_cost}")
        data = await self._send_negotiating(messages, params)
        if self.cache is not None:
            self.cache.put(key, self.model, data)
        return self.record(data)

    def record(self, data: dict[str, Any]) -> Completion:
        """Account a fresh response (also used for Batch API results); returns it as a Completion."""
        usage = self._usage_of(data, cached=False)
        self.usage.add(usage)
        return Completion.from_data(data, usage, cached=False)

    def _usage_of(self, data: dict[str, Any], *, cached: bool) -> Usage:
        usage = Usage(
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            cached_prompt_tokens=int(data.get("cached_prompt_tokens", 0)),  # absent from responses cached before it was kept
            calls=int(not cached),
            cached_calls=int(cached),
        )
        usage.cost_usd = pricing.cost_usd(self.model, usage.prompt_tokens, usage.completion_tokens,
                                          cached_prompt_tokens=usage.cached_prompt_tokens, batch=self.batch_pricing)  # fmt: skip
        return usage

    def _spent_in_cache(self) -> float:
        if self.cache is None:
            return 0.0
        t = self.cache.totals(self.model)
        return pricing.cost_usd(self.model, t["prompt_tokens"], t["completion_tokens"],
                                cached_prompt_tokens=t["cached_prompt_tokens"], batch=self.batch_pricing)  # fmt: skip

    def record_usage(self, usage: Usage) -> dict[str, Any]:
        """A record's usage: its tokens and their cost, the same whether answered live or from the cache."""
        d = usage.as_dict()
        return {k: d[k] for k in ("prompt_tokens", "completion_tokens", "cached_prompt_tokens", "cost_usd")}

    def _negotiated(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the response_format this server accepts (json_schema -> json_object -> none)."""
        if "response_format" not in params or self.response_format == "json_schema":
            return params
        rest = {k: v for k, v in params.items() if k != "response_format"}
        return rest if self.response_format == "none" else {**rest, "response_format": {"type": "json_object"}}

    async def _send_negotiating(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """Send; on a refusal that names response_format, step down one level and send again."""
        while True:
            used = self.response_format
            try:
                return await self._send_with_retries(messages, self._negotiated(params))
            except LLMError as e:
                if e.reason != "response_format" or "response_format" not in params or used == "none":
                    raise
                if self.response_format == used:  # requests in flight may have stepped down already
                    self.response_format = FORMATS[FORMATS.index(used) + 1]
                    log.warning("%s refused response_format %s (%s); using %s", self.where, used, e.detail[:200], self.response_format)

    async def _send_with_retries(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            self.usage.attempts += 1
            self.max_attempts_seen = max(self.max_attempts_seen, attempt + 1)
            try:
                async with self.limit:
                    body = await self._post(messages, params)
                data = normalise_body(body)
            except Exception as exc:  # noqa: BLE001 - classified below; unknown kinds are re-raised
                failure = classify(exc)
                self.failures[failure.reason] = self.failures.get(failure.reason, 0) + 1
                _raise_fatal(exc, failure.reason, self)
                if failure.reason in ("timeout", "http_429", "http_503"):
                    self.limit.congested()
                if not failure.transient:
                    raise LLMError(failure.reason, failure.detail) from None
                if attempt == self.max_retries:
                    self.consecutive_lost += 1
                    raise LLMError(failure.reason, f"{failure.detail[:200]} (after {attempt + 1} attempts)", transient=True) from None
                self.usage.retries += 1
                delay = backoff_s(attempt, self.backoff_base, self.backoff_cap, failure.retry_after)
                log.debug("teacher call failed (%s), retry %d in %.2fs", failure.reason, attempt + 1, delay)
                await asyncio.sleep(delay)
            else:
                self.consecutive_lost = 0
                self.limit.success()
                return data
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
        "cached_prompt_tokens": cached_prompt_tokens(usage),
    }


def cached_prompt_tokens(usage: dict[str, Any]) -> int:
    """Prompt tokens the server's prompt cache served: ``prompt_tokens_details.cached_tokens`` (OpenAI, llama.cpp's
    ``llama-server``, vLLM with ``--enable-prompt-tokens-details``), else DeepSeek's ``prompt_cache_hit_tokens``;
    0 when the server says neither (llama-cpp-python's server, vLLM by default)."""
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")
    return int(cached) if isinstance(cached, (int, float)) and not isinstance(cached, bool) and cached > 0 else 0
