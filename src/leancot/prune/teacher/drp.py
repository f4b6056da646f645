"""DRP with a teacher LLM, for one trace: decompose, act per step, synthesise, verify.

``teach(trace, client, settings)`` makes DRP's two calls — segmentation, then
compression/synthesis — each validated (``leancot.prune.teacher.parse``) and, when invalid,
asked again with the error fed back (``settings.validation_retries`` times). The
synthesised path is verified like the offline pruner's (``leancot.prune.verify.check``:
the same answer as the original trace and the gold, no invented numbers); a failed
verification is fed back the same way. When the teacher cannot produce a valid answer,
``TeacherInvalid`` says why and the caller falls back to the offline pruner.

``settings.prompt_style`` picks the conversations: ``leancot`` (JSON, by unit ids or verbatim)
or ``drp-paper`` (the official prompts, free text: verbatim ``Step n / Skill`` segmentation and
the path after ``##``, never a JSON schema; validated and re-asked the same way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leancot.llm.client import LLMClient, Usage
from leancot.prune.teacher import prompts as prompting
from leancot.prune.teacher.parse import (
    BOXED_ENDING,
    PAPER_ENDING,
    ParseError,
    parse_compression,
    parse_paper_compression,
    parse_paper_segmentation,
    parse_segmentation,
    parse_unit_segmentation,
)
from leancot.prune.verify import check, invented_numbers
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
    inferred_actions: list[int] = field(default_factory=list)  # drp-paper: steps the teacher gave no action (inferred)


async def teach(trace: Trace, client: LLMClient, settings: DrpSettings) -> DrpResult:
    """Segment, prune and synthesise ``trace`` with the teacher. Raises TeacherInvalid,
    or the client's LLMError / BudgetExceeded / NotCached."""
    usage = Usage()
    try:
        steps = await _segment(trace, client, settings, usage)
        if settings.prompt_style == "drp-paper":
            return await _paper_compress(trace, steps, client, settings, usage)
        comp_messages = prompting.compress_messages(trace.question, steps, trace.answer)
        steps, pruned = await _ask(
            client,
            comp_messages,
            settings.params(prompting.COMPRESS_SCHEMA),
            usage,
            settings,
            "llm_invalid_compression",
            lambda a: _verified(parse_compression(a, steps, trace.answer), trace),
        )
    except TeacherInvalid as e:
        e.usage = usage
        raise
    return DrpResult(steps, pruned, usage)


async def _paper_compress(trace: Trace, steps: list[Step], client: LLMClient, settings: DrpSettings, usage: Usage) -> DrpResult:
    """DRP's official compression call: free text, the path after ``##``."""

    def parse(answer: str) -> tuple[list[Step], str, list[int]]:
        out, pruned, inferred = parse_paper_compression(answer, steps, trace.answer)
        _verified((out, pruned), trace, ending=PAPER_ENDING)
        return out, pruned, inferred

    messages = prompting.paper_compress_messages(trace.question, steps)
    out, pruned, inferred = await _ask(client, messages, settings.params(None), usage, settings, "llm_invalid_compression", parse)
    return DrpResult(out, pruned, usage, inferred)


async def _segment(trace: Trace, client: LLMClient, settings: DrpSettings, usage: Usage) -> list[Step]:
    """DRP's first call: the trace into skill-labelled steps (by unit ids, or copied verbatim)."""
    if settings.prompt_style == "drp-paper":  # always verbatim, as the paper (TeacherConfig refuses units with it)
        messages = prompting.paper_segment_messages(trace.reasoning)
        return await _ask(
            client,
            messages,
            settings.params(None),
            usage,
            settings,
            "llm_invalid_segmentation",
            lambda a: parse_paper_segmentation(a, trace.reasoning, trace.question),
        )
    if settings.segment_output == "text":
        messages = prompting.segment_messages(trace.question, trace.reasoning)
        return await _ask(
            client,
            messages,
            settings.params(prompting.SEGMENT_SCHEMA),
            usage,
            settings,
            "llm_invalid_segmentation",
            lambda a: parse_segmentation(a, trace.reasoning, trace.question),
        )
    spans = prompting.sentence_units(trace.reasoning)
    messages = prompting.segment_units_messages(trace.question, trace.reasoning, spans)
    return await _ask(
        client,
        messages,
        settings.params(prompting.SEGMENT_UNITS_SCHEMA),
        usage,
        settings,
        "llm_invalid_segmentation",
        lambda a: parse_unit_segmentation(a, trace.reasoning, spans, trace.question),
    )


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


def _verified(result: tuple[list[Step], str], trace: Trace, ending: str = BOXED_ENDING) -> tuple[list[Step], str]:
    """The verification of the offline pruner, phrased as feedback for the teacher."""
    steps, pruned = result
    failures = check(pruned, original_answer=trace.answer, gold=trace.gold_answer, original_text=trace.reasoning, question=trace.question)
    if not failures:
        return result
    if "invented_numbers" in failures:
        extra = invented_numbers(pruned, "\n".join((trace.reasoning, trace.question, trace.answer or "")))
        raise ParseError(f"the path uses numbers that are not in the trace ({', '.join(extra[:10])}); do not introduce new numbers")
    expected = f'"The answer is \\boxed{{{trace.answer}}}."' if ending == BOXED_ENDING else f'"The answer is {trace.answer}."'
    raise ParseError(
        f"the path does not verify ({', '.join(failures)}): it must reach the original answer {trace.answer} and end with {expected}"
    )
