"""DRP's two teacher conversations, built from the prompt files in ``prompts/``.

The prompts are data (``prompts/*.txt``, shipped as package data) with ``{{name}}``
slots. Two styles (``TeacherConfig.prompt_style``):

``leancot``: both calls of a trace begin with the same system message (``teacher_system``: the
two tasks in brief, the skills, the problem, its final answer and the trace, as numbered
sentence units or verbatim), and differ only in the user turn that asks for task 1 with its
rules (``segment_units_user`` / ``segment_user``) or task 2 with its rules (``compress_user``;
the steps by their units, ``units_steps``, or with their text, ``text_steps``). That shared
first message is a prefix that OpenAI's and DeepSeek's automatic prompt caching serve from cache
in the second call, billed at the cached rate (vLLM's and llama.cpp's prefix caches skip
recomputing it), so the trace is billed in full once. Both calls ask for the same JSON schema
(``teacher_schema``), for the same reason. The answers are compact strings: task 1
``"1 problem_setup; 4 hesitation"`` (each step's first unit and skill), task 2 ``"1K 4D 5C"``
(each step's name and action letter) with text only for a rewrite; leancot assembles the path
(``leancot.prune.teacher.drp``).

``drp-paper`` (``paper_*``): the official prompts of
``YuxuanJiang1/DRP`` ``split_verify.py``, word for word as system messages, with its user turns
``<think>\n{reasoning}\n</think>`` and ``Question:\n{q}\n\nReasoning Steps:\n{steps}``; free text,
no schema. The paper has no re-ask; leancot's (``paper_retry_user``) is its own addition.
"""

from __future__ import annotations

from typing import Any

from leancot import templates
from leancot.prune.skills import SKILLS
from leancot.schema import Step
from leancot.templates import render

_SKILL = {"type": "string", "enum": sorted(SKILLS)}
_STEPS = {
    # units: "1 problem_setup; 4 hesitation" (each step's first unit and skill); text: each step copied verbatim
    "units": {"type": ["string", "null"]},
    "text": {"type": ["array", "null"], "items": {"type": "object", "additionalProperties": False, "required": ["text", "skill"],
                                                 "properties": {"text": {"type": "string"}, "skill": _SKILL}}},
}  # fmt: skip
_REWRITE = {"type": "object", "additionalProperties": False, "required": ["step", "text"],
            "properties": {"step": {"type": "integer"}, "text": {"type": "string"}}}  # fmt: skip


def teacher_schema(segment_output: str) -> dict[str, Any]:
    """The one JSON schema of both calls of a trace: ``steps`` answers task 1, ``actions`` (every step's
    name and letter, ``"1K 4D 5C"``) and ``rewritten`` (the text of each rewrite) task 2; the rest null.

    One schema, because OpenAI puts the structured-output schema before the system message: two calls
    with different schemas would share no prefix, and the trace in it would never be billed as cached.
    The answers are compact strings rather than an object per step: an object per step cost ~15 output
    tokens a step, its letters a few (``benchmarks/teacher_cost.py``); ``parse`` validates them."""
    return {
        "name": f"drp_teacher_{segment_output}",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["steps", "actions", "rewritten"],
            "properties": {
                "steps": _STEPS[segment_output],
                "actions": {"type": ["string", "null"]},
                "rewritten": {"type": ["array", "null"], "items": _REWRITE},
            },
        },
    }


def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt`` of the DRP teacher."""
    return templates.load("leancot.prune.teacher", name)


def sentence_units(reasoning: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence unit of the reasoning, by the offline segmenter: what unit ids point at."""
    from leancot.prune.segment import units

    return [(a, b) for a, b, _ in units(reasoning) if reasoning[a:b].strip()]


def teacher_system(question: str, reasoning: str, answer: str | None, spans: list[tuple[int, int]] | None) -> dict[str, str]:
    """The system message both calls of a trace begin with: the tasks in brief, the skills, then the trace
    (as numbered sentence units with ``spans``, else verbatim). The same first message in both calls is
    a shared prefix that providers' automatic prompt caching bills at the cached rate in the second call.
    (Each task's own rules go in its user turn: in the system message each call would pay for both.)"""
    skills = "\n".join(f"- {name}: {desc}" for name, desc in SKILLS.items())
    if spans is None:
        trace = render(load_prompt("text_trace"), reasoning=reasoning)
    else:
        listing = "\n".join(f"[{i}] {' '.join(reasoning[a:b].split())}" for i, (a, b) in enumerate(spans, start=1))
        trace = render(load_prompt("units_trace"), n_units=len(spans), units=listing)
    content = render(load_prompt("teacher_system"), skills=skills, question=question, answer=answer or "(unknown)", trace=trace.strip())
    return {"role": "system", "content": content}


def segment_messages(system: dict[str, str], units: bool) -> list[dict[str, str]]:
    """Task 1: the trace into skill-labelled steps, by unit ids (``units``) or copied verbatim."""
    return [system, {"role": "user", "content": load_prompt("segment_units_user" if units else "segment_user")}]


def compress_messages(system: dict[str, str], steps: list[Step], ranges: list[tuple[int, int]] | None) -> list[dict[str, str]]:
    """Task 2: an action per step. With ``ranges`` (first and last unit of each step; the system message
    holds the units) a step is listed as ``4-6 computation`` and named by its first unit; without, it is
    listed with its text and named by its number."""
    if ranges is None:
        listing = "\n\n".join(f"Step {i} [{s.skill}]:\n{s.text}" for i, s in enumerate(steps, start=1))
        header = render(load_prompt("text_steps"), listing=listing)
    else:
        listing = "\n".join((f"{a}" if a == b else f"{a}-{b}") + f" {s.skill}" for s, (a, b) in zip(steps, ranges))
        header = render(load_prompt("units_steps"), listing=listing)
    user = render(load_prompt("compress_user"), steps=header.strip())
    return [system, {"role": "user", "content": user}]


def step_names(ranges: list[tuple[int, int]] | None, n_steps: int) -> list[int]:
    """What the compression answer calls each step: its first unit (``ranges``), else its number."""
    return [a for a, _ in ranges] if ranges is not None else list(range(1, n_steps + 1))


def paper_segment_messages(reasoning: str) -> list[dict[str, str]]:
    """DRP's official segmentation request: the prompt as the system turn, the reasoning in ``<think>``."""
    return [
        {"role": "system", "content": load_prompt("paper_segment_system")},
        {"role": "user", "content": render(load_prompt("paper_segment_user"), reasoning=reasoning.strip())},
    ]


def paper_steps(steps: list[Step]) -> str:
    """Steps in the official ``Step n: ...`` / ``Skill: ...`` form (the compression request's input)."""
    return "\n\n".join(f"Step {i}: {s.text}\nSkill: {s.atomic_skill or s.skill}" for i, s in enumerate(steps, start=1))


def paper_compress_messages(question: str, steps: list[Step]) -> list[dict[str, str]]:
    """DRP's official compression request. The official code passes the segmentation answer as it came;
    leancot passes the steps as parsed (the same format, without any preamble the teacher wrote)."""
    user = render(load_prompt("paper_compress_user"), question=question, steps=paper_steps(steps))
    return [{"role": "system", "content": load_prompt("paper_compress_system")}, {"role": "user", "content": user}]


def with_feedback(messages: list[dict[str, str]], bad_answer: str, error: str, style: str = "leancot") -> list[dict[str, str]]:
    """The conversation extended by the unusable answer and what was wrong with it."""
    retry = "paper_retry_user" if style == "drp-paper" else "retry_user"
    return [*messages, {"role": "assistant", "content": bad_answer}, {"role": "user", "content": render(load_prompt(retry), error=error)}]


def response_format(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The ``response_format`` request parameter for a JSON schema ({} when not used)."""
    return {"response_format": {"type": "json_schema", "json_schema": schema}} if schema else {}
