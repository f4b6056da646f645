"""DRP with a teacher LLM, for one trace: decompose, act per step, synthesise, verify.

``teach(trace, client, settings)`` makes DRP's two calls — segmentation, then
compression — each validated (``leancot.prune.teacher.parse``) and, when invalid,
asked again with the error fed back (``settings.validation_retries`` times). The
path is verified like the offline pruner's (``leancot.prune.verify.check``:
the same answer as the original trace and the gold, no invented numbers); a failed
verification is fed back the same way. When the teacher cannot produce a valid answer,
``TeacherInvalid`` says why and the caller falls back to the offline pruner.

``settings.prompt_style`` picks the conversations:

- ``leancot``: JSON. The teacher names steps, it does not copy them: task 1 groups numbered
  sentence units (``"1 problem_setup; 4 hesitation"``; or copies steps verbatim, ``segment_output:
  text``), task 2 names every step with an action letter (``"1K 4D 5C"``: a step is named by its
  first unit, or by its number in text mode) and writes text only for a rewrite; a step missing,
  repeated or out of order is fed back like any invalid answer. leancot assembles the path from the kept
  steps' own text (exact slices of the trace) and the rewrites, in order, closed by
  ``The answer is \\boxed{X}`` as the offline pruner closes its paths. Both calls begin with the
  same system message holding the trace and ask for the same schema, so the second call's copy
  of the trace is a cached prefix for providers' automatic prompt caching.
- ``drp-paper``: the official prompts, free text: verbatim ``Step n / Skill`` segmentation and the
  path the teacher writes after ``##``, never a JSON schema; validated and re-asked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leancot.llm.client import LLMClient, Usage
from leancot.prune.heuristic import synthesise  # the offline pruner's assembly: kept texts, then the answer
from leancot.prune.teacher import prompts as prompting
from leancot.prune.teacher.parse import (
    ParseError,
    parse_compression,
    parse_paper_compression,
    parse_paper_segmentation,
    parse_segmentation,
    parse_unit_segmentation,
)
from leancot.prune.verify import invented_numbers, verify_path
from leancot.schema import Step, Trace


class TeacherInvalid(Exception):
    """The teacher's answers stayed invalid after the retries; ``reason`` names the phase."""

    def __init__(self, reason: str, detail: str, usage: Usage | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.usage = usage or Usage()  # what the failed attempts cost: the fallback record carries it


@dataclass
class DrpSettings:
    """What shapes the teacher requests (part of the cache key and of the stage fingerprint)."""

    temperature: float = 0.0
    max_tokens: int | None = None
    structured: bool = True  # ask for a JSON schema (response_format); parsing is tolerant anyway
    validation_retries: int = 1  # re-asks per call with the error fed back, before falling back
    segment_output: str = "units"  # units: the teacher groups numbered sentences; text: it copies each step (the paper)
    prompt_style: str = "leancot"  # leancot: JSON answers; drp-paper: the official prompts' free text

    def params(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        p: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens:
            p["max_tokens"] = self.max_tokens
        if self.structured and schema:
            p.update(prompting.response_format(schema))
        return p


@dataclass
class DrpResult:
    steps: list[Step]
    pruned: str
    usage: Usage
    inferred_actions: list[int] = field(default_factory=list)  # drp-paper: steps whose action was inferred from the path


async def teach(trace: Trace, client: LLMClient, settings: DrpSettings) -> DrpResult:
    """Segment, prune and synthesise ``trace`` with the teacher. Raises TeacherInvalid,
    or the client's LLMError / BudgetExceeded / NotCached."""
    usage = Usage()
    try:
        if settings.prompt_style == "drp-paper":
            return await _paper(trace, client, settings, usage)
        return await _leancot(trace, client, settings, usage)
    except TeacherInvalid as e:
        e.usage = usage
        raise


async def _leancot(trace: Trace, client: LLMClient, settings: DrpSettings, usage: Usage) -> DrpResult:
    """Both calls on one system message with the trace (a shared, cacheable prefix) and one schema."""
    units = settings.segment_output == "units"
    spans = prompting.sentence_units(trace.reasoning) if units else None
    system = prompting.teacher_system(trace.question, trace.reasoning, trace.answer, spans)
    params = settings.params(prompting.teacher_schema(settings.segment_output))  # the same in both calls: part of the prefix

    def segmentation(answer: str) -> tuple[list[Step], list[tuple[int, int]] | None]:
        if spans is None:
            return parse_segmentation(answer, trace.reasoning, trace.question), None
        return parse_unit_segmentation(answer, trace.reasoning, spans)

    def compression(answer: str) -> tuple[list[Step], str]:
        out = parse_compression(answer, steps, prompting.step_names(ranges, len(steps)))
        pruned = synthesise(out, trace.answer)
        _verified((out, pruned), trace, assembled=True)
        return out, pruned

    messages = prompting.segment_messages(system, units)
    steps, ranges = await _ask(client, messages, params, usage, settings, "llm_invalid_segmentation", segmentation)
    messages = prompting.compress_messages(system, steps, ranges)
    out, pruned = await _ask(client, messages, params, usage, settings, "llm_invalid_compression", compression)
    return DrpResult(out, pruned, usage)


async def _paper(trace: Trace, client: LLMClient, settings: DrpSettings, usage: Usage) -> DrpResult:
    """DRP's official calls: verbatim ``Step n / Skill`` segmentation (TeacherConfig refuses units with it),
    then compression in free text, the path after ``##``."""
    messages = prompting.paper_segment_messages(trace.reasoning)
    steps = await _ask(client, messages, settings.params(None), usage, settings, "llm_invalid_segmentation",
                       lambda a: parse_paper_segmentation(a, trace.reasoning, trace.question))  # fmt: skip

    def parse(answer: str) -> tuple[list[Step], str, list[int]]:
        out, pruned, inferred = parse_paper_compression(answer, steps, trace.answer)
        _verified((out, pruned), trace, assembled=False)
        return out, pruned, inferred

    messages = prompting.paper_compress_messages(trace.question, steps)
    out, pruned, inferred = await _ask(client, messages, settings.params(None), usage, settings, "llm_invalid_compression", parse)
    return DrpResult(out, pruned, usage, inferred)


async def _ask(
    client: LLMClient,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    usage: Usage,
    settings: DrpSettings,
    reason: str,
    parse: Callable[[str], Any],
) -> Any:
    """One validated call: retried with the error fed back, then TeacherInvalid."""
    error = ""
    for _ in range(settings.validation_retries + 1):
        completion = await client.chat(messages, **params)
        usage.add(completion.usage)
        try:
            return parse(completion.content or completion.reasoning)  # a reasoning server may leave content null
        except ParseError as e:
            error = str(e)
            if completion.finish_reason == "length":
                error = f"the answer was cut off at the token limit (finish_reason=length) before it was complete: {error}"
            messages = prompting.with_feedback(messages, completion.content, error, settings.prompt_style)
    raise TeacherInvalid(reason, error)


def _verified(result: tuple[list[Step], str], trace: Trace, *, assembled: bool) -> tuple[list[Step], str]:
    """The verification every pruner's path goes through (``leancot.prune.verify.verify_path``), phrased as
    feedback for the teacher. ``assembled``: leancot put the path together (and closed it) from the teacher's
    actions, rather than the teacher writing it. A path missing a computation that the original's sentences
    can restore passes: the stage restores them without another call."""
    steps, pruned = result
    verdict = verify_path(pruned, steps, reasoning=trace.reasoning, question=trace.question, answer=trace.answer, gold=trace.gold_answer)
    failures = verdict.failures
    if not failures:
        return result
    if "invented_numbers" in failures:
        extra = invented_numbers(pruned, "\n".join((trace.reasoning, trace.question, trace.answer or "")))
        where = "your rewritten text" if assembled else "the path"
        raise ParseError(f"{where} uses numbers that are not in the trace ({', '.join(extra[:10])}); do not introduce new numbers")
    if failures[0] in ("retracted_kept", "incomplete_derivation"):
        raise ParseError(
            f"the path is not a derivation a student can follow ({verdict.detail}): delete a computation the trace takes back "
            "together with its correction, and keep every computation the answer depends on, in order"
        )
    if assembled:
        raise ParseError(
            f"the path put together from the kept steps and your rewrites does not verify ({', '.join(failures)}): "
            f"keep the steps that reach the final answer {trace.answer}"
        )
    raise ParseError(
        f"the path does not verify ({', '.join(failures)}): it must reach the original answer {trace.answer} "
        f'and end with "The answer is {trace.answer}."'
    )
