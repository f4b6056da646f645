"""``TeacherConfig``: the settings of the DRP teacher LLM (``leancot prune --method llm``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leancot.prune.teacher.drp import DrpSettings


class TeacherConfig(BaseModel):
    """Settings of the teacher LLM; in a recipe, ``stages.prune.teacher``."""

    model_config = ConfigDict(extra="forbid")
    #: Flag names that differ from the field names: ``--teacher-model``; the others keep their names.
    FLAG_NAMES: ClassVar[dict[str, str]] = {"model": "teacher-model"}

    model: str = Field(description="Teacher model name as the server knows it (e.g. gpt-4o, gemini-2.0-flash).")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (default: OpenAI's); e.g. http://localhost:8000/v1.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Name of the environment variable holding the key (only the name is recorded).")
    concurrency: int | Literal["auto"] = Field(
        "auto",
        description="Requests in flight at once; auto starts at 4 and adapts (halved when requests time out or the server says 429/503, up to 64).",
    )
    timeout: float = Field(120.0, gt=0, description="Seconds before one request is abandoned and retried.")
    max_retries: int = Field(6, ge=0, le=50, description="Retries per request on 429/5xx/timeouts/dropped connections.")
    max_cost: float | None = Field(None, gt=0, description="Stop (resumably) once this run has spent this many USD on uncached calls.")
    batch: bool = Field(False, description="Use the OpenAI Batch API (half price, results within 24 h) instead of live calls.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature of the teacher.")
    max_tokens: int | None = Field(None, ge=1, description="Completion token limit per call (default: the server's).")
    structured: bool = Field(
        True,
        description="Ask for structured output; a server that refuses json_schema is asked for json_object, then for none (remembered per output directory).",
    )
    prompt_style: Literal["leancot", "drp-paper"] = Field(
        "leancot",
        description=(
            "Prompts: leancot (JSON answers, the 12 discourse roles of leancot.prune.skills) or drp-paper (the official DRP "
            "prompts of YuxuanJiang1/DRP split_verify.py, word for word: 'Step n: ... / Skill: ...' with open-ended atomic "
            "mathematical skills, kept as Step.atomic_skill, and the path after '##'; segmentation is then verbatim text)."
        ),
    )
    segment_output: Literal["units", "text"] | None = Field(
        None,
        description=(
            "Segmentation answer: units (step = ids of numbered sentences: a few tokens per step) or text (each step copied "
            "verbatim, the paper's way). Default: units with prompt_style leancot, text with drp-paper, which segments "
            "verbatim only (units with drp-paper is an error)."
        ),
    )
    breaker_after: int = Field(
        8, ge=1, description="Stop the run (resumably, exit 2) after this many requests in a row are lost to a server that is down."
    )
    validation_retries: int = Field(1, ge=0, le=5, description="Re-asks with the error fed back before falling back to the offline pruner.")
    cache: Path | None = Field(None, description="SQLite request cache (default: <out>/teacher_cache.sqlite).")
    prices: Path | None = Field(
        None, description='JSON prices to add: {"model": {"input": USD/M, "output": USD/M, "cached_input": USD/M (optional)}}.'
    )
    batch_poll_s: float = Field(30.0, gt=0, description="Seconds between Batch API status polls.")
    backoff_base: float = Field(0.5, gt=0, description="First retry waits about this long (doubling each time, with jitter).")
    backoff_cap: float = Field(30.0, gt=0, description="Longest wait between retries (a Retry-After header may ask for more).")

    @model_validator(mode="after")
    def _resolve_segment_output(self) -> TeacherConfig:
        if self.prompt_style == "drp-paper" and self.segment_output == "units":
            raise ValueError(
                "segment_output units cannot be used with prompt_style drp-paper: the paper's teacher copies "
                "every step verbatim ('Step n: ...'); leave segment_output unset or set it to text"
            )
        if self.segment_output is None:
            self.segment_output = "text" if self.prompt_style == "drp-paper" else "units"
        return self

    def fingerprint_config(self) -> dict[str, Any]:
        """What changes the records (not where the server is, how fast, or what it costs)."""
        return self.model_dump(
            mode="json", include={"model", "temperature", "max_tokens", "validation_retries", "segment_output", "prompt_style"}
        )

    def settings(self) -> DrpSettings:
        return DrpSettings(
            self.temperature, self.max_tokens, self.structured, self.validation_retries, self.segment_output or "units", self.prompt_style
        )
