"""``TeacherPruner``: DRP pruning by a teacher LLM, registered as ``leancot prune --method llm``.

Each trace goes through ``leancot.prune.teacher.drp.teach`` (segment, then compress and
synthesise, each validated and re-asked with the error fed back). The prune stage does the
rest, as for every pruner: verification, the offline fallback when the teacher's answers stay
invalid (``method="heuristic:llm-fallback"``, with ``fallback_reason``), records and rejects.

Resume: every teacher response is in the SQLite request cache (``<out>/teacher_cache.sqlite``),
so a run stopped by Ctrl-C, ``kill -9`` or ``--max-cost`` resumes where it stopped, and a re-run
over a warm cache makes zero calls. ``batch: true`` sends the same requests through the OpenAI
Batch API in phases (``leancot.llm.batch``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from leancot.io import write_json_atomic
from leancot.llm import pricing
from leancot.llm.cache import RequestCache
from leancot.llm.client import AUTO_MAX, BudgetExceeded, LLMClient, LLMError, NotCached, cache_usage
from leancot.prune.base import Deferred, Pass, Postponed, Pruned, PruneFailed, Rejected, StopRun
from leancot.prune.teacher.config import TeacherConfig
from leancot.prune.teacher.drp import TeacherInvalid, teach
from leancot.schema import Trace

CACHE_FILE = "teacher_cache.sqlite"
STATE_FILE = "teacher_state.json"  # what the run learnt about the server (the response_format it takes)


def _read_state(out_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class TeacherPruner:
    """A teacher LLM behind any OpenAI-compatible endpoint prunes each trace (DRP)."""

    name = "llm"
    processes = False  # one client, its requests in flight together: no process pool
    chooser = None  # prunes every trace

    def __init__(self, settings: TeacherConfig):
        self.settings = settings
        # traces in flight; with "auto" the client's adaptive limit decides how many requests are sent
        self.concurrency = AUTO_MAX if settings.concurrency == "auto" else settings.concurrency
        self.client: LLMClient | None = None
        self.out_dir = Path(".")

    def open(self, out_dir: Path) -> None:
        s = self.settings
        if s.prices:
            pricing.load_prices(s.prices)
        self.out_dir = out_dir
        learnt = _read_state(out_dir)
        self.client = LLMClient(s.model, base_url=s.base_url, api_key_env=s.api_key_env, concurrency=s.concurrency,
                                timeout=s.timeout, max_retries=s.max_retries, max_cost=s.max_cost,
                                cache=RequestCache(s.cache or out_dir / CACHE_FILE), backoff_base=s.backoff_base,
                                backoff_cap=s.backoff_cap, batch_pricing=s.batch, breaker_after=s.breaker_after,
                                response_format=learnt.get("response_format", "json_schema"))  # fmt: skip

    async def prune(self, trace: Trace) -> Pruned:
        client = self.client
        assert client is not None, "open() first"
        try:
            result = await teach(trace, client, self.settings.settings())
        except TeacherInvalid as e:
            raise PruneFailed(e.reason, e.detail, usage=client.record_usage(e.usage)) from None
        except NotCached as e:
            raise Deferred(e.key, e.body) from None
        except BudgetExceeded as e:
            raise StopRun(f"max_cost: {e}") from None
        except LLMError as e:
            raise _outcome(e, client) from None
        # drp-paper: the steps whose action the teacher did not name (inferred from its path), said in the record
        extra = {"actions_inferred": result.inferred_actions} if result.inferred_actions else {}
        return Pruned(result.steps, result.pruned, f"llm:{self.settings.model}", usage=client.record_usage(result.usage), extra=extra)

    def drive(self, one_pass: Pass) -> str | None:
        """Live calls: one pass. Batch API: passes in cache-only mode, a batch between them."""
        return asyncio.run(self._batch(one_pass) if self.settings.batch else self._live(one_pass))

    async def _live(self, one_pass: Pass) -> str | None:
        assert self.client is not None
        try:
            stopped, _ = await one_pass()
            return stopped
        finally:
            await self.client.aclose()

    async def _batch(self, one_pass: Pass) -> str | None:
        from leancot.llm.batch import run_in_phases

        assert self.client is not None
        try:
            return await run_in_phases(self.client, one_pass, self.out_dir, max_retries=self.settings.max_retries,
                                       poll_s=self.settings.batch_poll_s)  # fmt: skip
        except LLMError as e:  # the Batch API itself is down: stop, resumable
            return f"batch API: {e}"

    def close(self) -> dict[str, Any]:
        """Close the cache; the usage and failures of this run, for the manifest."""
        client = self.client
        if client is None:
            return {}
        write_json_atomic(self.out_dir / STATE_FILE, {"base_url": self.settings.base_url, "response_format": client.response_format})
        total = cache_usage(client.cache, self.settings.model, batch=client.batch_pricing) if client.cache is not None else None
        if client.cache is not None:
            client.cache.close()
        return {
            "server": {"response_format": client.response_format, "concurrency_reached": round(client.limit.limit, 1)},
            # every response in the cache was paid for once, by this run or an earlier (even killed) one
            "usage_total": total if total is not None and total["calls"] else client.usage.as_dict(),
            "teacher_settings": self.settings.model_dump(mode="json", exclude={"cache", "prices"}),
            "usage": client.usage.as_dict(),
            "priced": pricing.price_of(self.settings.model) is not None,
            "call_failures": client.failures,
            "max_attempts_per_request": client.max_attempts_seen,
        }


def _outcome(e: LLMError, client: LLMClient) -> Exception:
    """What a failed call means for the trace: pending, a fallback, a reject, or stop the run."""
    if e.transient and client.unreachable:
        return StopRun(f"teacher unreachable at {client.where} ({e.reason})", exit_code=2)
    if e.transient:
        return Postponed(f"{e.reason}: {e.detail}")
    if e.reason == "context_length":  # the trace is too long for this teacher: the offline pruner may manage
        return PruneFailed("context_length", e.detail)
    return Rejected(e.reason, e.detail)
