"""The ``prune`` stage: traces in, verified concise reasoning paths out.

``run(PruneConfig(...))`` reads every input row, turns it into a ``Trace``, prunes it with
the pruner named by ``method`` (``leancot.prune.registry``: the offline DRP rules, the
teacher LLM, ...), verifies the pruned path (the same answer, no invented number), applies
``--on-fail`` and the fallback pruner, and writes ``records.jsonl`` / ``rejects.jsonl`` /
``manifest.json`` under the one stage lifecycle (``leancot.manifest.stage_run``). This is the
only row loop: every pruner gets the same checks. Every input row ends in exactly one of
the two files; a re-run resumes where an interrupted one stopped. A pruner that chooses among
samples (``shortest-correct``: ``Pruner.chooser``) first sees every readable row of the input
(``_choose``); the rows it leaves out are rejects before any other check.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leancot import manifest, stages
from leancot.errors import StageIncomplete
from leancot.io import RawRow, StageOutput, iter_rows
from leancot.progress import progress_bar
from leancot.prune import registry
from leancot.prune.base import Chooser, Deferred, Postponed, Pruned, PruneFailed, Pruner, Rejected, Sample, StopRun
from leancot.prune.config import PruneConfig
from leancot.prune.reader import TraceReader
from leancot.prune.verify import verify_path
from leancot.schema import PrunedTrace, Step, Trace
from leancot.tokens import count_tokens, count_tokens_batch

log = logging.getLogger(__name__)


def run(config: PruneConfig) -> Path:
    """Prune every trace of ``config.input`` into ``config.out``; returns the output dir."""
    pruner = registry.make(config.method, config)
    inputs = {str(config.input): manifest.file_sha256(config.input)}
    with manifest.stage_run(config.out, "prune", config.fingerprint_config(), inputs, overwrite=config.overwrite,
                            allow_empty=config.allow_empty) as stage:  # fmt: skip
        if stage.skipped:
            return config.out
        stage.total = total = _count_rows(config)
        fallback = registry.make(config.fallback, config) if config.fallback != "reject" and config.method != config.fallback else None
        fields = TraceReader(config)
        if pruner.chooser is not None:
            _choose(config, pruner.chooser)
        pruner.open(config.out)
        stop = None
        try:
            with stage.output() as out:
                stopped = pruner.drive(lambda: _one_pass(config, pruner, fallback, fields, out, total))
        except StopRun as e:
            stopped, stop = str(e), e
        finally:
            extra = pruner.close()
        summary = summarise(config.out)
        left = total - summary["counts"]["input"]
        summary["counts"]["input"] = total  # the input's rows; records + rejects == input once nothing is left
        if left > 0 and not stopped:
            stopped, stop = f"{left} traces left after transient teacher failures", StopRun("", exit_code=2)
        if stopped:
            log.warning("prune: stopped early (%s); run the same command again to resume", stopped)
            extra["stopped"] = stopped
        if fields.without_delimiter:
            log.warning(
                "prune: %d rows had no reasoning delimiter (</think>, Stratos markers, --reasoning-delimiter): "
                "their whole text was taken as reasoning",
                fields.without_delimiter,
            )
        extra.update(format=fields.format, rows_without_delimiter=fields.without_delimiter)
        stage.complete(summary.pop("counts"), status="incomplete" if stopped else "complete", **extra, **summary)
    if stop is not None and stop.exit_code:
        raise StageIncomplete(f"prune: {stopped}: {left} of {total} items left; re-run the same command to resume")
    return config.out


# --------------------------------------------------------------------------- the one row loop


async def _one_pass(
    config: PruneConfig, pruner: Pruner, fallback: Pruner | None, fields: TraceReader, out: StageOutput, total: int
) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """Every pending row through the pruner, ``pruner.concurrency`` at a time.

    Returns why it stopped early (or None) and the deferred requests (Batch API) by key. An
    offline pruner runs in ``config.workers`` processes instead (``leancot.prune.parallel``),
    writing the same records in the same order."""
    rows = _pending(config, fields, out)
    workers = config.worker_count()
    if pruner.processes and workers > 1 and total - out.resumed >= PARALLEL_MIN_ROWS:
        await _pool_pass(rows, config, fields, out, total, workers)
        return None, {}
    deferred: dict[str, dict[str, Any]] = {}
    stop: list[StopRun] = []

    async def worker(bar: Any, task: Any) -> None:
        for item_id, item in rows:  # one shared iterator: each row goes to exactly one worker
            if stop:
                return
            try:
                result = await process(item, item_id, fields, pruner, fallback, config)
            except Deferred as d:
                deferred[d.key] = d.body
                continue
            except Postponed:
                continue  # left pending: the next run does it
            except StopRun as e:
                stop.append(e)
                return
            _write(out, item_id, result)
            bar.advance(task)

    with progress_bar(f"pruning ({pruner.name})") as bar:
        task = bar.add_task(f"pruning ({pruner.name})", total=total)
        bar.advance(task, out.resumed)
        await asyncio.gather(*(worker(bar, task) for _ in range(pruner.concurrency)))
    if stop:
        raise stop[0]  # through the pruner's driver (which closes its client) to the stage
    return None, deferred


# --------------------------------------------------------------------------- the same loop on N processes

PARALLEL_MIN_ROWS = 64  # below this, starting processes costs more than it saves
_worker: dict[str, Any] = {}  # each pool process's reader, pruner, fallback and config


def _pool_init(config_json: str, fmt: str | None, spec: Any) -> None:
    """In each pool process: the stage's settings, and the input format the main process settled."""
    config = PruneConfig.model_validate_json(config_json)
    reader = TraceReader(config)
    reader.format, reader.spec = fmt, spec
    fallback = registry.make(config.fallback, config) if config.fallback != "reject" and config.method != config.fallback else None
    _worker.update(config=config, reader=reader, pruner=registry.make(config.method, config), fallback=fallback,
                   loop=asyncio.new_event_loop())  # fmt: skip


def _pool_work(items: list[tuple[str, Any]]) -> tuple[list[Any], int]:
    """A chunk of rows to their results, and how many of them had no reasoning delimiter."""
    w, before = _worker, _worker["reader"].without_delimiter
    results = [w["loop"].run_until_complete(process(item, item_id, w["reader"], w["pruner"], w["fallback"], w["config"]))
               for item_id, item in items]  # fmt: skip
    return results, w["reader"].without_delimiter - before


async def _pool_pass(
    rows: Iterator[tuple[str, Any]], config: PruneConfig, fields: TraceReader, out: StageOutput, total: int, workers: int
) -> None:
    from leancot.prune.parallel import ordered_map

    first = next(rows, None)  # reading it settles the format, which every process must share
    if first is None:
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the forked processes tokenize on their own
    with progress_bar(f"pruning ({config.method}, {workers} processes)") as bar:
        task = bar.add_task("pruning", total=total)
        bar.advance(task, out.resumed)

        def write(part: list[tuple[str, Any]], done: tuple[list[Any], int]) -> None:
            results, without = done
            fields.without_delimiter += without
            for (item_id, _), result in zip(part, results):
                _write(out, item_id, result)
            bar.advance(task, len(part))

        await ordered_map(itertools.chain([first], rows), _pool_work, workers=workers, initializer=_pool_init,
                          initargs=(config.model_dump_json(), fields.format, fields.spec), on_results=write)  # fmt: skip


def _pending(config: PruneConfig, fields: TraceReader, out: StageOutput) -> Iterator[tuple[str, RawRow | tuple[str, str]]]:
    """``(id, row)`` for every input row not yet done (of this shard), or ``(id, (reason, detail))``
    for a duplicate id."""
    for item_id, row, duplicate in _rows(config, fields, config.shard):
        if not out.done(item_id):
            yield item_id, ("duplicate_id", "") if duplicate else row


def _rows(config: PruneConfig, fields: TraceReader, shard: tuple[int, int] | None) -> Iterator[tuple[str, RawRow, bool]]:
    """``(id, row, duplicate)`` of the input rows up to ``--limit`` (of one shard, when given); a repeated
    id gets its line number (``id#line-N``) so that its copy is accounted for as a reject of its own."""
    seen: set[str] = set()
    for n, row in enumerate(iter_rows(config.input, max_line_bytes=config.max_line_bytes), start=1):
        if config.limit and n > config.limit:
            return
        if shard and (n - 1) % shard[1] != shard[0]:
            continue  # another shard's row
        item_id = fields.row_id(row)
        duplicate = item_id in seen
        seen.add(item_id)
        yield (f"{item_id}#line-{row.line}" if duplicate else item_id), row, duplicate


def _choose(config: PruneConfig, chooser: Chooser) -> None:
    """The first pass of a pruner that chooses among samples: every readable row of the whole input (every
    shard's: each shard's run then makes the same choice) goes to its chooser before any is pruned."""
    reader = TraceReader(config)  # its own: the main pass counts the rows without a delimiter once

    def samples(bar: Any, task: Any) -> Iterator[Sample]:
        for item_id, row, duplicate in _rows(config, reader, None):
            bar.advance(task)
            trace = None if duplicate else reader.trace(row, item_id)
            if isinstance(trace, Trace):
                yield Sample(trace, row.data or {})

    with progress_bar("grouping samples") as bar:
        total = _count_rows(config.model_copy(update={"shard": None}))
        chooser.choose(samples(bar, bar.add_task("grouping samples", total=total)))


async def process(
    item: RawRow | tuple[str, str], item_id: str, fields: TraceReader, pruner: Pruner, fallback: Pruner | None, config: PruneConfig
) -> PrunedTrace | tuple[str, str]:
    """One input row to its record or reject: read, checked, pruned, verified."""
    if isinstance(item, tuple):
        return item
    trace = _usable_trace(item, item_id, fields, pruner, config)
    return trace if isinstance(trace, tuple) else await _prune(trace, pruner, fallback, config)


def _usable_trace(row: RawRow, item_id: str, fields: TraceReader, pruner: Pruner, config: PruneConfig) -> Trace | tuple[str, str]:
    trace = fields.trace(row, item_id)
    if isinstance(trace, tuple):
        return trace
    if pruner.chooser is not None and (left_out := pruner.chooser.verdict(Sample(trace, row.data or {}))):
        return left_out  # another sample of its problem was chosen, or none could be
    if trace.answer is None:
        return ("no_final_answer", "no \\boxed{}, 'The answer is' or '####' after the reasoning")
    if trace.correct is False and config.require_correct:
        return ("incorrect_trace", f"trace answer {trace.answer!r} != gold {trace.gold_answer!r}")
    return trace


async def _prune(trace: Trace, pruner: Pruner, fallback: Pruner | None, config: PruneConfig) -> PrunedTrace | tuple[str, str]:
    """One trace through the pruner, verified; the fallback pruner when the first cannot prune it."""
    try:
        return _verified(trace, await pruner.prune(trace), config)
    except Rejected as e:
        return (e.reason, e.detail)
    except PruneFailed as failed:
        if fallback is None:
            return (failed.reason, failed.detail)
        return await _fall_back(trace, fallback, failed, pruner.name, config)
    except RecursionError:
        return ("pruner_error", "recursion limit")


async def _fall_back(
    trace: Trace, fallback: Pruner, failed: PruneFailed, method: str, config: PruneConfig
) -> PrunedTrace | tuple[str, str]:
    pruned = await fallback.prune(trace)
    pruned.method = f"{pruned.method}:{method}-fallback"
    pruned.usage = failed.usage  # what the failed attempts cost is this record's cost
    pruned.extra.update(fallback_reason=failed.reason, fallback_detail=failed.detail[:500])
    result = _verified(trace, pruned, config)
    if isinstance(result, tuple):
        return (result[0], f"after {failed.reason} ({failed.detail[:200]}), the offline fallback failed: {result[1]}")
    return result


def _verified(trace: Trace, p: Pruned, config: PruneConfig) -> PrunedTrace | tuple[str, str]:
    """The pruned path must be a complete derivation of the original answer (and the gold) that
    invents no number (``leancot.prune.verify.verify_path``: a path missing a computation gets the
    original's sentence back when that completes it). A failing path is a reject, or with
    ``--on-fail keep`` the trace passes through unpruned."""
    verdict = verify_path(p.pruned, p.steps, reasoning=trace.reasoning, question=trace.question, answer=trace.answer,
                          gold=trace.gold_answer, derivation_check=config.derivation_check)  # fmt: skip
    failures = verdict.failures
    if failures and config.on_fail == "reject":
        return (failures[0], verdict.detail)
    extra = {**p.extra, "derivation": verdict.derivation}
    if verdict.restored:
        extra["restored"] = verdict.restored
    steps, pruned, method = verdict.steps, verdict.pruned, p.method
    if failures:
        steps = [s.model_copy(update={"action": "keep", "rewritten": None}) for s in p.steps]
        pruned, method = trace.reasoning, f"{method}:unpruned"
    steps = _counted(steps, config.tokenizer)
    return PrunedTrace(
        id=trace.id, question=trace.question, gold_answer=trace.gold_answer, original=trace.reasoning, pruned=pruned,
        steps=steps, answer=trace.answer, tokens_before=count_tokens(trace.reasoning, config.tokenizer),
        tokens_after=count_tokens(pruned, config.tokenizer), verified=not failures, method=method, failures=failures,
        **({"usage": p.usage} if p.usage is not None else {}), **extra,
    )  # fmt: skip


def _counted(steps: list[Step], tokenizer: str) -> list[Step]:
    """The steps with their token counts (before, and what is kept), in one tokenizer call."""
    counts = count_tokens_batch([s.text for s in steps] + [s.kept_text() for s in steps], tokenizer)
    n = len(steps)
    return [s.model_copy(update={"tokens": counts[i], "tokens_kept": counts[n + i]}) for i, s in enumerate(steps)]


def _write(out: StageOutput, item_id: str, result: PrunedTrace | tuple[str, str]) -> None:
    if isinstance(result, PrunedTrace):
        out.add(result)
    else:
        out.reject(item_id, *result)


def _count_rows(config: PruneConfig) -> int:
    """Input rows (for the progress bar, the interrupt message and the account of what is left)."""
    if config.input.suffix.lower() in (".jsonl", ".ndjson"):
        with open(config.input, "rb") as f:
            n = sum(1 for line in f if line.strip())
    else:
        n = sum(1 for _ in iter_rows(config.input, max_line_bytes=config.max_line_bytes))
    n = min(n, config.limit) if config.limit else n
    return len(range(config.shard[0], n, config.shard[1])) if config.shard else n


def summarise(out_dir: Path) -> dict[str, Any]:
    """Counts and token totals of a prune output directory (for the manifest and stats).

    Streams the files a line at a time: a run of any size fits in memory."""
    from leancot.prune.stats import totals

    t = totals(_lines(out_dir / "records.jsonl"))
    reasons = manifest.reject_reasons(_lines(out_dir / "rejects.jsonl"))
    rejects = sum(reasons.values())
    before, after = t.tokens_before, t.tokens_after
    return {
        "counts": {
            "input": t.records + rejects,
            "records": t.records,
            "rejects": rejects,
            "verified": t.verified,
            "complete_derivations": t.complete,
            "repaired": t.repaired,
        },  # fmt: skip
        "reject_reasons": reasons,
        "methods": dict(t.methods),  # which pruner made each record (teacher, fallback, unpruned)
        "tokens": {"before": before, "after": after, "ratio": round(after / before, 4) if before else None},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


STAGE = stages.Stage(
    "prune",
    PruneConfig,
    run,
    command="leancot.prune.command:register",
    feeds=(stages.Feed("input", "generate", "records.jsonl"),),
    record_key=("id",),
    shards=True,
    trains_on=lambda c: stages.InputFile(Path(c.input)),
)
