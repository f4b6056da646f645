"""``GenerateConfig``: the settings of the generate stage (``leancot generate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from leancot.config import ProblemFields, StageConfig, parse_shard


class GenerateConfig(StageConfig, ProblemFields):
    """Settings of the generate stage (``leancot generate``)."""

    source: str = Field(description="Benchmark name (gsm8k, math500, aime24, aime25, amc23) or a problem file.")
    model: str = Field(description="Teacher (reasoning) model name as the server knows it.")
    split: str = Field("test", description="Benchmark split.")
    limit: int | None = Field(None, ge=1, description="Only the first N problems.")
    shard: tuple[int, int] | None = Field(
        None, description="i/N: only the i-th of N slices of the problems (i, i+N, ...), for a cluster; join them with leancot merge."
    )
    n: int = Field(1, ge=1, le=1024, description="Samples per problem.")
    temperature: float = Field(0.6, ge=0, le=2, description="Sampling temperature (0.6 is what R1 models recommend).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling.")
    max_tokens: int | None = Field(None, ge=1, description="Completion token limit (default: the server's).")
    keep_incorrect: bool = Field(False, description="Keep incorrect samples as records too (marked correct=false).")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Name of the environment variable holding the key.")
    concurrency: int | Literal["auto"] = Field(
        "auto",
        description="Requests in flight at once; auto starts at 4 and adapts to the server (halved on timeouts, 429, 503; up to 64).",
    )
    timeout: float = Field(600.0, gt=0, description="Seconds before one request is abandoned and retried (long traces are slow).")
    max_retries: int = Field(6, ge=0, le=50, description="Retries per request on 429/5xx/timeouts/dropped connections.")
    max_cost: float | None = Field(
        None, gt=0, description="Stop (resumably) once this many USD are spent on uncached calls (earlier runs over the same cache count)."
    )
    breaker_after: int = Field(
        8, ge=1, description="Stop the run (resumably, exit 2) after this many requests in a row are lost to a server that is down."
    )
    cache: Path | None = Field(None, description="SQLite request cache (default: <out>/teacher_cache.sqlite).")
    prices: Path | None = Field(None, description="JSON prices to add (see leancot.llm.pricing).")

    #: how the server is reached, how fast, and at what cost: not part of the output's identity
    not_fingerprinted: ClassVar[set[str]] = {"base_url", "api_key_env", "concurrency", "timeout", "max_retries", "max_cost",
                                             "breaker_after", "cache", "prices"}  # fmt: skip

    @field_validator("shard", mode="before")
    @classmethod
    def _parse_shard(cls, v: Any) -> Any:
        return parse_shard(v)

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p}
        if self.max_tokens:
            p["max_tokens"] = self.max_tokens
        return p
