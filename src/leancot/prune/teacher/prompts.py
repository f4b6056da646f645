"""DRP's two teacher conversations, built from the prompt files in ``prompts/``.

The prompts are data (``prompts/*.txt``, shipped as package data) with ``{{name}}``
slots. The instructions go in the system message and the trace in the user message,
so every request of a run shares one long prefix (cheaper with provider prompt caching).
Each request can ask for structured output (a JSON schema) where the server supports it.

Two styles (``TeacherConfig.prompt_style``): ``leancot`` (``segment_*``, ``compress_*``: JSON
answers, leancot's discourse roles) and ``drp-paper`` (``paper_*``: the official prompts of
``YuxuanJiang1/DRP`` ``split_verify.py``, word for word as system messages, with its user turns
``<think>\n{reasoning}\n</think>`` and ``Question:\n{q}\n\nReasoning Steps:\n{steps}``; free text,
no schema). The paper has no re-ask; leancot's (``paper_retry_user``) is its own addition.
"""

from __future__ import annotations

from typing import Any

from leancot import templates
from leancot.prune.skills import SKILLS
from leancot.schema import Step
from leancot.templates import render

SEGMENT_SCHEMA: dict[str, Any] = {
    "name": "drp_segmentation",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["steps"],
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["text", "skill"],
                    "properties": {"text": {"type": "string"}, "skill": {"type": "string", "enum": sorted(SKILLS)}},
                },
            }
        },
    },
}

SEGMENT_UNITS_SCHEMA: dict[str, Any] = {
    "name": "drp_segmentation_units",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["steps"],
        "properties": {
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["start", "skill"],
                    "properties": {"start": {"type": "integer"}, "skill": {"type": "string", "enum": sorted(SKILLS)}},
                },
            }
        },
    },
}

COMPRESS_SCHEMA: dict[str, Any] = {
    "name": "drp_compression",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["actions", "pruned"],
        "properties": {
            "actions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["step", "action", "rewritten"],
                    "properties": {
                        "step": {"type": "integer"},
                        "action": {"type": "string", "enum": ["KEEP", "DELETE", "SINGLE-STEP COMPRESS", "MULTI-STEP COMPRESS"]},
                        "rewritten": {"type": ["string", "null"]},
                    },
                },
            },
            "pruned": {"type": "string"},
        },
    },
}


def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt`` of the DRP teacher."""
    return templates.load("leancot.prune.teacher", name)


def segment_messages(question: str, reasoning: str) -> list[dict[str, str]]:
    skills = "\n".join(f"- {name}: {desc}" for name, desc in SKILLS.items())
    return [
        {"role": "system", "content": render(load_prompt("segment_system"), skills=skills)},
        {"role": "user", "content": render(load_prompt("segment_user"), question=question, reasoning=reasoning)},
    ]


def sentence_units(reasoning: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence unit of the reasoning, by the offline segmenter: what unit ids point at."""
    from leancot.prune.segment import units

    return [(a, b) for a, b, _ in units(reasoning) if reasoning[a:b].strip()]


def segment_units_messages(question: str, reasoning: str, spans: list[tuple[int, int]]) -> list[dict[str, str]]:
    """Segmentation by unit ids: the teacher sees numbered units and answers only the grouping."""
    skills = "\n".join(f"- {name}: {desc}" for name, desc in SKILLS.items())
    listing = "\n".join(f"[{i}] {' '.join(reasoning[a:b].split())}" for i, (a, b) in enumerate(spans, start=1))
    return [
        {"role": "system", "content": render(load_prompt("segment_units_system"), skills=skills)},
        {"role": "user", "content": render(load_prompt("segment_units_user"), question=question, n_units=len(spans), units=listing)},
    ]


def compress_messages(question: str, steps: list[Step], answer: str | None) -> list[dict[str, str]]:
    listing = "\n\n".join(f"Step {i + 1} [{s.skill}]:\n{s.text}" for i, s in enumerate(steps))
    user = render(load_prompt("compress_user"), question=question, answer=answer or "(unknown)", n_steps=len(steps), steps=listing)
    return [{"role": "system", "content": load_prompt("compress_system")}, {"role": "user", "content": user}]


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
