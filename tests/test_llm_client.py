"""The teacher client against a real HTTP server on loopback: retries, timeouts, cache, budget."""

import asyncio
import time

import pytest
from teacher_fixtures import SECRET

from leancot.errors import UsageError
from leancot.llm.cache import RequestCache
from leancot.llm.client import BudgetExceeded, LLMClient, LLMError

MESSAGES = [{"role": "user", "content": "What is 2 + 3? Please reason step by step."}]


def make(server, tmp_path=None, **kw):
    kw.setdefault("backoff_base", 0.01)
    cache = RequestCache(tmp_path / "cache.sqlite") if tmp_path else None
    return LLMClient("gpt-4o-mini", base_url=server.base_url, cache=cache, **kw)


def ask(client, messages=MESSAGES, **params):
    async def go():
        try:
            return await client.chat(messages, **params)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_plain_call_returns_text_usage_and_cost(server):
    client = make(server)
    c = ask(client)
    assert "\\boxed{5}" in c.content and c.usage.prompt_tokens > 0 and c.usage.cost_usd > 0
    assert client.usage.calls == 1 and client.usage.attempts == 1


@pytest.mark.parametrize("fault", ["429", "500", "malformed_body", "drop", "hang"])
def test_transient_faults_are_retried_and_counted(server, fault):
    server.script = [fault, fault]
    server.hang_s = 1.0
    client = make(server, timeout=0.3)
    c = ask(client)
    assert "\\boxed{5}" in c.content
    assert client.usage.retries == 2 and client.usage.attempts == 3 and server.chat_requests == 3


def test_retry_after_is_honoured(server):
    server.script = ["429"]
    server.retry_after = "0.4"
    client = make(server)
    start = time.perf_counter()
    ask(client)
    assert time.perf_counter() - start >= 0.4


def test_retries_are_bounded(server):
    server.script = ["500"] * 10
    client = make(server, max_retries=3)
    with pytest.raises(LLMError, match=r"http_500: boom \(after 4 attempts\)") as err:  # what happened, and how often
        ask(client)
    assert err.value.transient and server.chat_requests == 4 and client.usage.retries == 3


def test_a_refused_key_stops_the_run_with_one_line(monkeypatch):
    from aiohttp import web
    from fake_openai_server import FakeOpenAI

    class Refusing(FakeOpenAI):
        async def chat(self, request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)

    srv = Refusing()
    srv.start()
    try:
        monkeypatch.setenv("MY_KEY", SECRET)
        client = LLMClient("gpt-4o-mini", base_url=srv.base_url, api_key_env="MY_KEY")
        with pytest.raises(UsageError, match=r"refused the key in \$MY_KEY") as e:
            ask(client)
        assert SECRET not in str(e.value)
    finally:
        srv.stop()


def test_no_key_for_openai_itself_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    client = LLMClient("gpt-4o-mini", api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(UsageError, match=r"\$NO_SUCH_KEY_VAR"):
        ask(client)


def test_the_cache_answers_a_repeat_without_a_call_and_never_holds_the_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    first = ask(make(server, tmp_path))
    client = make(server, tmp_path)
    again = ask(client)
    assert again.content == first.content and again.cached and server.chat_requests == 1
    assert again.usage.prompt_tokens == first.usage.prompt_tokens  # a record shows the same tokens either way
    assert client.usage.calls == 0 and client.usage.cost_usd == 0
    ask(make(server, tmp_path), temperature=0.5)  # other params: another key
    assert server.chat_requests == 2
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes()


def test_the_budget_stops_uncached_calls(server):
    client = make(server, max_cost=1e-9)
    ask(client)  # the first call is allowed; then the budget is spent
    with pytest.raises(BudgetExceeded):
        ask(client, [{"role": "user", "content": "another question"}])
    assert server.chat_requests == 1


def test_max_cost_needs_a_known_price(server):
    with pytest.raises(UsageError, match="no price known"):
        LLMClient("my-local-model", base_url=server.base_url, max_cost=1.0)


def test_concurrency_is_bounded(server):
    server.latency = 0.1
    client = make(server, concurrency=4)

    async def many():
        try:
            start = time.perf_counter()
            await asyncio.gather(*(client.chat([{"role": "user", "content": f"q {i}"}]) for i in range(8)))
            return time.perf_counter() - start
        finally:
            await client.aclose()

    assert asyncio.run(many()) >= 0.2  # 8 calls of 0.1 s, 4 at a time: at least two rounds


@pytest.mark.parametrize("field", ["openai", "deepseek"])
def test_cached_prompt_tokens_are_read_counted_and_priced_at_the_cached_rate(server, tmp_path, field):
    from leancot.llm import pricing

    server.prompt_cache, server.cache_min_tokens, server.cache_block = field, 64, 16
    long = [{"role": "system", "content": "Shared instructions and a long trace. " * 40}]
    first = ask(make(server, tmp_path), [*long, {"role": "user", "content": "task 1"}])
    client = make(server, tmp_path)
    second = ask(client, [*long, {"role": "user", "content": "task 2"}])
    assert first.usage.cached_prompt_tokens == 0  # nothing seen before it
    cached = second.usage.cached_prompt_tokens
    assert cached == server.cached_tokens_reported and cached % 16 == 0  # whole blocks of the shared prefix
    assert len(long[0]["content"]) // 4 - 16 <= cached < second.usage.prompt_tokens
    full = pricing.cost_usd("gpt-4o-mini", second.usage.prompt_tokens, second.usage.completion_tokens)
    fresh = second.usage.prompt_tokens - cached
    assert second.usage.cost_usd == pytest.approx((fresh * 0.15 + cached * 0.075 + second.usage.completion_tokens * 0.60) / 1e6)
    assert second.usage.cost_usd < full and client.usage.cached_prompt_tokens == cached
    with RequestCache(tmp_path / "cache.sqlite") as cache:  # what the cache holds: the usage totals of a run
        assert cache.totals("gpt-4o-mini")["cached_prompt_tokens"] == cached
    again = ask(make(server, tmp_path), [*long, {"role": "user", "content": "task 2"}])  # from leancot's own cache
    assert again.cached and again.usage.cached_prompt_tokens == cached and again.usage.cost_usd == second.usage.cost_usd


def test_a_price_without_a_cached_rate_bills_cached_tokens_as_input(tmp_path):
    from leancot.llm import pricing

    (tmp_path / "p.json").write_text('{"my-a": {"input": 1.0, "output": 2.0}, "my-b": {"input": 1.0, "output": 2.0, "cached_input": 0.1}}')
    pricing.load_prices(tmp_path / "p.json")
    assert pricing.cost_usd("my-a", 1_000_000, 0, cached_prompt_tokens=500_000) == 1.0
    assert pricing.cost_usd("my-b", 1_000_000, 0, cached_prompt_tokens=500_000) == pytest.approx(0.55)
    assert pricing.cost_usd("my-b", 1_000_000, 0, cached_prompt_tokens=500_000, batch=True) == pytest.approx(0.275)
    assert pricing.price_of("gpt-4o").cached_input == 1.25 and pricing.price_of("gpt-4o-mini").cached_input == 0.075
