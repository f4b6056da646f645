"""``leancot generate``: reasoning traces from a teacher model, kept only when correct.

For every problem of a benchmark split (or a user's problem file, via
``leancot.data.load``) the teacher — a reasoning model behind any OpenAI-compatible
endpoint — is asked ``n`` times. Each completion is graded against the gold answer
(``leancot.grading``); correct ones become records in the input format of
``leancot prune`` (``id, question, completion, gold_answer, model, usage`` and more),
the rest become rejects with their reason (``incorrect``, ``no_answer``, ``truncated``,
``teacher_error``). This is DRP's rejection sampling: only the teacher's correct
outputs are pruned and distilled. A problem without a gold answer cannot be graded;
its samples are kept with ``correct: null``.

A separate reasoning field (vLLM's or DeepSeek's ``reasoning_content``) is put back
inside ``<think>...</think>`` before the answer, so every record reads the same way.
Resumable like every stage: cached responses, append-only records, a manifest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leancot import data, grading, manifest, stages, templates
from leancot.errors import StageIncomplete
from leancot.generate.config import GenerateConfig
from leancot.io import StageOutput
from leancot.llm import pricing
from leancot.llm.cache import RequestCache
from leancot.llm.client import AUTO_MAX, BudgetExceeded, Completion, LLMClient, LLMError, cache_usage
from leancot.progress import progress_bar
from leancot.schema import Problem, Trace

log = logging.getLogger(__name__)


def run(config: GenerateConfig) -> Path:
    """Generate, grade and keep the correct traces of every problem; returns the output dir."""
    problems = data.load(config.source, split=config.split, limit=config.limit, **config.field_kwargs())
    if config.shard:
        problems = problems[config.shard[0] :: config.shard[1]]
    source = Path(config.source)
    inputs = {config.source: manifest.file_sha256(source) if source.is_file() else f"benchmark:{config.split}"}
    with manifest.stage_run(config.out, "generate", config.fingerprint_config(), inputs, overwrite=config.overwrite,
                            allow_empty=config.allow_empty) as stage:  # fmt: skip
        if stage.skipped:
            return config.out
        stage.total = len(problems) * config.n
        client = _client(config)
        try:
            with stage.output() as out:
                stopped = asyncio.run(_generate(problems, config, client, out))
            total = cache_usage(client.cache, config.model)  # every response paid for, by this run or an earlier one
        finally:
            client.cache.close()
        fields = {"teacher_settings": config.model_dump(mode="json", include=config.not_fingerprinted - {"cache", "prices"}), "usage": client.usage.as_dict(),
                  "usage_total": total, "call_failures": client.failures, **summarise(out)}  # fmt: skip
        left = stage.total - fields["counts"]["input"]
        fields["counts"]["input"] = stage.total  # records + rejects == input once nothing is left
        stopped = stopped or (f"{left} samples left after transient teacher failures" if left > 0 else None)
        if stopped:
            log.warning("generate: stopped early (%s); run the same command again to resume", stopped)
            fields["stopped"] = stopped
        stage.complete(fields.pop("counts"), status="incomplete" if stopped else "complete", **fields)
    if stopped and not stopped.startswith("max_cost"):
        raise StageIncomplete(f"generate: {stopped}: {left} of {stage.total} samples left; re-run the same command to resume")
    return config.out


def _client(config: GenerateConfig) -> LLMClient:
    if config.prices:
        pricing.load_prices(config.prices)
    cache = RequestCache(config.cache or config.out / "teacher_cache.sqlite")
    return LLMClient(
        config.model,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        timeout=config.timeout,
        max_retries=config.max_retries,
        max_cost=config.max_cost,
        cache=cache,
        breaker_after=config.breaker_after,
    )


def summarise(out: StageOutput) -> dict[str, Any]:
    from leancot.io import read_jsonl

    rejects = read_jsonl(out.rejects_path)
    reasons = manifest.reject_reasons(rejects)
    records = len(read_jsonl(out.records_path))
    n = records + len(rejects)
    return {"counts": {"input": n, "samples": n, "records": records, "rejects": len(rejects)}, "reject_reasons": reasons}


def _items(problems: list[Problem], config: GenerateConfig, out: StageOutput) -> Iterator[tuple[str, Problem, int]]:
    for problem in problems:
        for k in range(config.n):
            item_id = problem.id if config.n == 1 else f"{problem.id}#{k}"
            if not out.done(item_id):
                yield item_id, problem, k


async def _generate(problems: list[Problem], config: GenerateConfig, client: LLMClient, out: StageOutput) -> str | None:
    items = _items(problems, config, out)
    stop: list[str] = []
    template = templates.load("leancot.generate", "generate_user")

    async def worker(bar, task) -> None:
        for item_id, problem, k in items:  # one shared iterator: each item goes to one worker
            if stop:
                return
            messages = [{"role": "user", "content": templates.render(template, question=problem.question)}]
            try:
                completion = await client.chat(messages, salt=f"sample-{k}", **config.params())
            except BudgetExceeded as e:
                stop.append(f"max_cost: {e}")
                return
            except LLMError as e:
                if e.transient and client.unreachable:
                    stop.append(f"teacher unreachable at {client.where} ({e.reason})")
                    return
                if not e.transient:  # the server refused this request: a counted reject, with its message
                    out.reject(item_id, e.reason, e.detail)
                continue  # transient: left pending for the next run
            else:
                _keep_or_reject(out, item_id, problem, k, completion, config, client.record_usage(completion.usage))
            bar.advance(task)

    try:
        with progress_bar("generating") as bar:
            task = bar.add_task("generating", total=len(problems) * config.n - out.resumed)
            workers = AUTO_MAX if config.concurrency == "auto" else config.concurrency
            await asyncio.gather(*(worker(bar, task) for _ in range(workers)))
    finally:
        await client.aclose()
    return stop[0] if stop else None


def full_text(completion: Completion) -> str:
    """The completion with a separate reasoning field put back inside ``<think>``."""
    if completion.reasoning and "</think>" not in completion.content:
        return f"<think>\n{completion.reasoning.strip()}\n</think>\n\n{completion.content.strip()}"
    return completion.content


def _keep_or_reject(
    out: StageOutput, item_id: str, problem: Problem, k: int, completion: Completion, config: GenerateConfig, usage: dict[str, Any]
) -> None:
    text = full_text(completion)
    reasoning, final, _closed = grading.split_think(text)
    answer = grading.extract_answer(text)
    correct = None if problem.gold_answer is None or answer is None else grading.is_equivalent(answer, problem.gold_answer)
    if answer is None:
        reason = "truncated" if completion.finish_reason == "length" else "no_answer"
        out.reject(item_id, reason, f"finish_reason={completion.finish_reason}")
        return
    if correct is False and not config.keep_incorrect:
        out.reject(item_id, "incorrect", f"answer {answer!r} != gold {problem.gold_answer!r}")
        return
    out.add(
        Trace(
            id=item_id,
            problem_id=problem.id,
            question=problem.question,
            completion=text,
            reasoning=reasoning,
            final=final,
            answer=answer,
            gold_answer=problem.gold_answer,
            correct=correct,
            model=config.model,
            usage=usage,
            sample=k,
            finish_reason=completion.finish_reason,
            source=problem.source,
        )
    )


STAGE = stages.Stage(
    "generate",
    GenerateConfig,
    run,
    command="leancot.generate.command:register",
    record_key=("id",),
    shards=True,
    trains_on=lambda c: stages.Problems(c.source, c.split, c.limit, c.field_kwargs()),
)
