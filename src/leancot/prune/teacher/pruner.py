"""``leancot prune --method llm``: DRP pruning by a teacher LLM, as a stage.

``run_llm_prune(prune_config, teacher_config)`` reads the traces exactly as the offline
stage does (``leancot.prune.stage.to_trace``), prunes each with the teacher
(``leancot.teacher.drp.teach``) and writes the same three files: ``records.jsonl`` holds
``PrunedTrace`` records with ``method="llm:<model>"`` (or ``"heuristic:llm-fallback"``
with a ``fallback_reason`` when the teacher's answers stayed invalid) and per-record
``usage``; ``rejects.jsonl`` holds the rest; ``manifest.json`` the config, the teacher
settings (the NAME of the key's variable, never the key) and token usage and cost.

Resume: records are appended line by line and every teacher response is in the SQLite
cache, so a run stopped by Ctrl-C, ``kill -9`` or ``--max-cost`` resumes where it stopped
with no record lost or written twice, and a re-run over a warm cache makes zero calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leancot import manifest
from leancot.io import FieldMap, StageOutput, iter_rows
from leancot.progress import progress_bar
from leancot.prune.heuristic import prune_trace
from leancot.prune.stage import PruneConfig, row_id, summarise, to_trace
from leancot.prune.verify import check
from leancot.schema import PrunedTrace, Step, Trace
from leancot.teacher import pricing
from leancot.teacher.cache import RequestCache
from leancot.teacher.client import BudgetExceeded, TeacherClient, TeacherError, Usage
from leancot.teacher.drp import DrpSettings, TeacherInvalid, teach
from leancot.tokens import count_tokens

log = logging.getLogger(__name__)


class TeacherConfig(BaseModel):
    """Settings of the teacher LLM (``leancot prune --method llm``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Teacher model name as the server knows it (e.g. gpt-4o, gemini-2.0-flash).")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (default: OpenAI's); e.g. http://localhost:8000/v1.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Name of the environment variable holding the key (only the name is recorded).")
    concurrency: int = Field(16, ge=1, le=4096, description="Requests in flight at once.")
    timeout: float = Field(120.0, gt=0, description="Seconds before one request is abandoned and retried.")
    max_retries: int = Field(6, ge=0, le=50, description="Retries per request on 429/5xx/timeouts/dropped connections.")
    max_cost: float | None = Field(None, gt=0, description="Stop (resumably) once this run has spent this many USD on uncached calls.")
    batch: bool = Field(False, description="Use the OpenAI Batch API (half price, results within 24 h) instead of live calls.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature of the teacher.")
    max_tokens: int | None = Field(None, ge=1, description="Completion token limit per call (default: the server's).")
    structured: bool = Field(True, description="Ask for JSON-schema structured output (turn off for servers that reject response_format).")
    validation_retries: int = Field(1, ge=0, le=5, description="Re-asks with the error fed back before falling back to the offline pruner.")
    cache: Path | None = Field(None, description="SQLite request cache (default: <out>/teacher_cache.sqlite).")
    prices: Path | None = Field(None, description='JSON prices to add: {"model": {"input": USD/M, "output": USD/M}}.')
    batch_poll_s: float = Field(30.0, gt=0, description="Seconds between Batch API status polls.")
    backoff_base: float = Field(0.5, gt=0, description="First retry waits about this long (doubling each time, with jitter).")
    backoff_cap: float = Field(30.0, gt=0, description="Longest wait between retries (a Retry-After header may ask for more).")

    def fingerprint_config(self) -> dict[str, Any]:
        """What changes the records (not where the server is, how fast, or what it costs)."""
        return self.model_dump(mode="json", include={"model", "temperature", "max_tokens", "structured", "validation_retries"})

    def settings(self) -> DrpSettings:
        return DrpSettings(self.temperature, self.max_tokens, self.structured, self.validation_retries)

    def make_client(self, out_dir: Path) -> TeacherClient:
        if self.prices:
            pricing.load_prices(self.prices)
        cache = RequestCache(self.cache or Path(out_dir) / "teacher_cache.sqlite")
        return TeacherClient(self.model, base_url=self.base_url, api_key_env=self.api_key_env,
                             concurrency=self.concurrency, timeout=self.timeout, max_retries=self.max_retries,
                             max_cost=self.max_cost, cache=cache, backoff_base=self.backoff_base,
                             backoff_cap=self.backoff_cap, batch_pricing=self.batch)


def run_llm_prune(prune_config: PruneConfig, teacher_config: TeacherConfig) -> Path:
    """Prune every trace of ``prune_config.input`` with the teacher; returns the output dir."""
    out_dir = prune_config.out
    config = {**prune_config.fingerprint_config(), "method": "llm", "teacher": teacher_config.fingerprint_config()}
    inputs = {str(prune_config.input): manifest.file_sha256(prune_config.input)}
    previous = manifest.read(out_dir) or {}
    man = manifest.Manifest(out_dir, "prune", config, inputs)
    state = manifest.check_resumable(out_dir, man.fingerprint, overwrite=prune_config.overwrite)
    if state == "skip":
        log.info("prune: %s is up to date, skipping", out_dir)
        return out_dir
    total = Usage(**previous.get("usage_total", {})) if state == "resume" else Usage()
    man.data["teacher_settings"] = teacher_config.model_dump(mode="json", exclude={"cache", "prices"})
    man.write("running")
    client = teacher_config.make_client(out_dir)
    fields = FieldMap(prune_config.id_field, prune_config.question_field, prune_config.completion_field, prune_config.answer_field)
    try:
        with StageOutput(out_dir) as out:
            if out.resumed:
                log.info("prune: resuming, %d items already done", out.resumed)
            if teacher_config.batch:
                from leancot.teacher.batch import run_batch

                try:
                    stopped = asyncio.run(run_batch(prune_config, teacher_config, fields, out, client))
                except TeacherError as e:  # the Batch API itself is down: stop, resumable
                    stopped = f"batch API: {e}"
            else:
                stopped = asyncio.run(_run_online(prune_config, teacher_config, fields, out, client))
    finally:
        client.cache.close()
    total.add(client.usage)
    teacher_usage = {"usage": client.usage.as_dict(), "usage_total": total.as_dict(),
                     "priced": pricing.price_of(teacher_config.model) is not None, "call_failures": client.failures,
                     "max_attempts_per_request": client.max_attempts_seen}
    if stopped:
        log.warning("prune: stopped early (%s); run the same command again to resume", stopped)
        man.write("incomplete", stopped=stopped, **teacher_usage, **summarise(out_dir))
    else:
        man.write("complete", **teacher_usage, **summarise(out_dir))
    return out_dir


# --------------------------------------------------------------------------- the rows


def pending(config: PruneConfig, fields: FieldMap, out: StageOutput) -> Iterator[tuple[str, Trace | tuple[str, str]]]:
    """``(id, trace)`` for every input row not yet done, or ``(id, (reason, detail))`` for one
    that is rejected before the teacher sees it (the offline stage's checks, same order)."""
    seen: set[str] = set()
    for n, row in enumerate(iter_rows(config.input, max_line_bytes=config.max_line_bytes), start=1):
        if config.limit and n > config.limit:
            return
        item_id = row_id(row, fields)
        duplicate = item_id in seen
        seen.add(item_id)
        if duplicate:
            item_id = f"{item_id}#line-{row.line}"
        if out.done(item_id):
            continue
        if duplicate:
            yield item_id, ("duplicate_id", "")
            continue
        trace = to_trace(row, fields)
        if isinstance(trace, Trace) and trace.answer is None:
            trace = ("no_final_answer", "no \\boxed{}, 'The answer is' or '####' after the reasoning")
        elif isinstance(trace, Trace) and trace.correct is False and config.require_correct:
            trace = ("incorrect_trace", f"trace answer {trace.answer!r} != gold {trace.gold_answer!r}")
        yield item_id, trace


async def prune_item(trace: Trace, client: TeacherClient, tc: TeacherConfig, config: PruneConfig) -> PrunedTrace | tuple[str, str]:
    """One trace through the teacher (or the offline fallback). BudgetExceeded/NotCached propagate."""
    try:
        result = await teach(trace, client, tc.settings())
    except TeacherInvalid as e:
        log.debug("%s: teacher answers invalid (%s); offline fallback", trace.id, e)
        return offline_fallback(trace, config, e.reason, e.detail)
    except TeacherError as e:
        return ("teacher_error", str(e))
    return _record(trace, config, result.steps, result.pruned, f"llm:{tc.model}", [], usage=client.record_usage(result.usage))


def offline_fallback(trace: Trace, config: PruneConfig, reason: str, detail: str) -> PrunedTrace | tuple[str, str]:
    """The offline pruner's result for a trace the teacher could not prune; ``method`` says so."""
    steps, pruned = prune_trace(trace.reasoning, trace.answer, trace.question)
    failures = check(pruned, original_answer=trace.answer, gold=trace.gold_answer,
                     original_text=trace.reasoning, question=trace.question)
    if failures and config.on_fail == "reject":
        return (failures[0], f"after {reason} ({detail[:200]}), the offline fallback failed: {'; '.join(failures)}")
    method = "heuristic:llm-fallback"
    if failures:  # --on-fail keep
        steps = [s.model_copy(update={"action": "keep", "rewritten": None}) for s in steps]
        pruned, method = trace.reasoning, "heuristic:llm-fallback:unpruned"
    return _record(trace, config, steps, pruned, method, failures, fallback_reason=reason, fallback_detail=detail[:500])


def _record(trace: Trace, config: PruneConfig, steps: list[Step], pruned: str, method: str,
            failures: list[str], **extra: Any) -> PrunedTrace:
    return PrunedTrace(
        id=trace.id, question=trace.question, gold_answer=trace.gold_answer, original=trace.reasoning,
        pruned=pruned, steps=steps, answer=trace.answer,
        tokens_before=count_tokens(trace.reasoning, config.tokenizer), tokens_after=count_tokens(pruned, config.tokenizer),
        verified=not failures, method=method, failures=failures, **extra,
    )


# --------------------------------------------------------------------------- live calls


async def _run_online(config: PruneConfig, tc: TeacherConfig, fields: FieldMap, out: StageOutput,
                      client: TeacherClient) -> str | None:
    """Prune all pending rows with ``tc.concurrency`` workers; returns why it stopped early, if it did."""
    rows = pending(config, fields, out)
    stop: list[str] = []

    async def worker(bar, task) -> None:
        for item_id, trace in rows:  # one shared iterator: each row goes to exactly one worker
            if stop:
                return
            result = trace if isinstance(trace, tuple) else None
            if result is None:
                try:
                    result = await prune_item(trace, client, tc, config)
                except BudgetExceeded as e:
                    stop.append(f"max_cost: {e}")
                    return
            _write(out, item_id, result)
            bar.advance(task)

    try:
        with progress_bar("pruning (teacher)") as bar:
            task = bar.add_task("pruning (teacher)", total=None)
            await asyncio.gather(*(worker(bar, task) for _ in range(tc.concurrency)))
    finally:
        await client.aclose()
    return stop[0] if stop else None


def _write(out: StageOutput, item_id: str, result: PrunedTrace | tuple[str, str]) -> None:
    if isinstance(result, PrunedTrace):
        out.add(result)
    else:
        out.reject(item_id, *result)
