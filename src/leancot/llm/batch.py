"""The OpenAI Batch API as a transport: phases of dependent requests, resumably.

The Batch API answers a file of requests within 24 hours at half the price. A task such as
DRP pruning needs up to four calls per trace, each depending on the one before (segment,
maybe a re-ask, compress, maybe a re-ask), so the work goes in *phases*
(``run_in_phases``, which takes the task as a callback and imports none):

1. run every pending item through the task's normal code with the client in cache-only
   mode: items whose answers are all cached finish (the task writes them);
   every other item stops at its first missing request, which is collected;
2. submit the collected requests as one batch (``custom_id`` = the request's cache key):
   write the request JSONL under ``<out>/batch/``, upload it, create the batch, poll it
   with a progress display, download the output, put every answer in the cache;
3. resubmit only the lines that failed (up to ``max_retries`` more batches), then go
   back to 1. A request that still fails makes its trace a ``teacher_error`` reject.

Everything is resumable. ``<out>/batch_state.json`` lists the phases and, per phase,
every batch ever created — ids are appended, never overwritten, and the input file id
is recorded *before* the batch is created, so a run killed in between finds its batch
again (by that file id) instead of paying for a second one. Answers are in the cache as
soon as a batch is downloaded, so a re-run asks only for what is still missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from leancot.io import write_json_atomic
from leancot.llm.client import LLMClient, LLMError, backoff_s, classify, normalise_body
from leancot.progress import progress_bar

log = logging.getLogger(__name__)

STATE = "batch_state.json"
ENDPOINT = "/v1/chat/completions"
TERMINAL = {"completed", "failed", "expired", "cancelled"}
MAX_PHASES = 50  # DRP makes at most 2 * (validation_retries + 1) dependent calls per trace


class BatchState:
    """``batch_state.json``: phases in order, each with its request count and batches."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE
        self.dir = out_dir / "batch"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {"phases": []}

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def phase_for(self, needed: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The unfinished phase these requests belong to (after a restart), else a new phase."""
        phases = self.data["phases"]
        if phases and not phases[-1].get("done"):
            keys = set(json.loads((self.dir / f"{phases[-1]['name']}.keys.json").read_text()))
            if set(needed) <= keys:
                return phases[-1]
        phase = {"name": f"phase-{len(phases) + 1}", "requests": len(needed), "batches": [], "done": False}
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / f"{phase['name']}.keys.json").write_text(json.dumps(sorted(needed)))
        phases.append(phase)
        self.save()
        return phase


async def run_in_phases(
    client: LLMClient,
    one_pass: Callable[[], Awaitable[tuple[str | None, dict[str, dict[str, Any]]]]],
    state_dir: Path,
    *,
    max_retries: int,
    poll_s: float,
) -> str | None:
    """Drive a task through Batch API phases; returns why it stopped early, if it did.

    ``one_pass()`` is the task (the transport never imports it): it runs every pending item
    with the client in cache-only mode, finishes those whose answers are cached, and returns
    ``(stopped, needed)`` -- a reason to stop, and the requests (cache key -> body) still missing."""
    state = BatchState(state_dir)
    client.cache_only = True
    try:
        for _ in range(MAX_PHASES):
            stopped, needed = await one_pass()
            if stopped or not needed:
                return stopped
            if not client.budget_left():
                return f"max_cost: spent ${client.spent():.4f} of --max-cost ${client.max_cost}"
            await run_phase(client, state, state.phase_for(needed), needed, max_retries=max_retries, poll_s=poll_s)
        raise LLMError("batch_phases", f"still missing answers after {MAX_PHASES} phases")
    finally:
        await client.aclose()


async def run_phase(
    client: LLMClient, state: BatchState, phase: dict[str, Any], needed: dict[str, dict[str, Any]], *, max_retries: int, poll_s: float
) -> None:
    """Submit ``needed`` (key -> request body) and resubmit failed lines until all are answered."""
    remaining = dict(needed)
    for attempt in range(max_retries + 1):
        entry = phase["batches"][attempt] if attempt < len(phase["batches"]) else None
        if entry is None:
            entry = await _upload(client, state, phase, attempt, remaining)
        if not entry.get("id"):
            entry["id"] = await _find_or_create(client, entry["input_file_id"], phase["name"])
            state.save()
        batch = await _poll(client, entry["id"], poll_s, phase["name"])
        entry.update(status=batch.status, output_file_id=batch.output_file_id, error_file_id=batch.error_file_id)
        state.save()
        if batch.output_file_id:
            for key, data in (await _download(client, batch.output_file_id)).items():
                if key in remaining:
                    client.cache.put(key, client.model, data)
                    client.record(data)
                    del remaining[key]
        if not remaining:
            break
        log.info("%s: %d of %d lines failed; resubmitting them", phase["name"], len(remaining), entry["lines"])
    for key in remaining:
        client.failed_keys[key] = f"batch line failed {max_retries + 1} times"
    phase.update(done=True, failed=len(remaining))
    state.save()


async def _upload(
    client: LLMClient, state: BatchState, phase: dict[str, Any], attempt: int, remaining: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Write the request JSONL, upload it, and record the file id before any batch exists."""
    path = state.dir / f"{phase['name']}-{attempt}.jsonl"
    lines = [{"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body} for key, body in remaining.items()]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    upload = await _call(client, lambda: client.sdk.files.create(file=(path.name, path.read_bytes()), purpose="batch"))
    entry = {"input_file": str(path.relative_to(state.path.parent)), "input_file_id": upload.id, "lines": len(lines)}
    phase["batches"].append(entry)
    state.save()
    return entry


async def _find_or_create(client: LLMClient, input_file_id: str, phase: str) -> str:
    """The batch made from ``input_file_id`` (a run killed right after creating it), else a new one."""
    async for batch in client.sdk.batches.list(limit=100):
        if batch.input_file_id == input_file_id:
            log.info("%s: found batch %s from an interrupted run", phase, batch.id)
            return batch.id
    batch = await _call(
        client,
        lambda: client.sdk.batches.create(
            input_file_id=input_file_id, endpoint=ENDPOINT, completion_window="24h", metadata={"leancot_phase": phase}
        ),
    )
    log.info("%s: created batch %s", phase, batch.id)
    return batch.id


async def _poll(client: LLMClient, batch_id: str, every_s: float, phase: str) -> Any:
    with progress_bar(f"batch {phase}") as bar:
        task = bar.add_task(f"batch {phase} ({batch_id})", total=None)
        while True:
            batch = await _call(client, lambda: client.sdk.batches.retrieve(batch_id))
            counts = batch.request_counts
            if counts is not None and counts.total:
                bar.update(task, total=counts.total, completed=counts.completed + counts.failed)
            if batch.status in TERMINAL:
                return batch
            await asyncio.sleep(every_s)


async def _download(client: LLMClient, file_id: str) -> dict[str, dict[str, Any]]:
    """Answers of a batch output file by custom_id; lines that are not a 200 answer are left out."""
    content = await _call(client, lambda: client.sdk.files.content(file_id))
    answers: dict[str, dict[str, Any]] = {}
    for raw in content.text.splitlines():
        try:
            line = json.loads(raw)
            response = line.get("response") or {}
            if response.get("status_code") == 200:
                answers[line["custom_id"]] = normalise_body(response["body"])
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            continue  # a garbled line is a failed line: resubmitted
    return answers


async def _call(client: LLMClient, make: Callable[[], Awaitable[Any]]) -> Any:
    """A Files/Batches API call with the client's retry policy."""
    for attempt in range(client.max_retries + 1):
        try:
            return await make()
        except Exception as exc:  # noqa: BLE001 - classified like chat calls
            failure = classify(exc)
            if not failure.transient or attempt == client.max_retries:
                raise LLMError(f"batch_api_{failure.reason}", failure.detail, transient=failure.transient) from None
            await asyncio.sleep(backoff_s(attempt, client.backoff_base, client.backoff_cap, failure.retry_after))
    raise AssertionError("unreachable")
