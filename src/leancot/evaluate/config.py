"""``EvalConfig``: the settings of the eval stage (``leancot eval``); its flags are made from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from leancot import data
from leancot.config import ProblemFields, StageConfig, parse_shard
from leancot.errors import UsageError
from leancot.evaluate import protocols


class EvalConfig(StageConfig, ProblemFields):
    """Settings of the eval stage (``leancot eval``)."""

    model: str = Field(description="Built-in name (smollm2-135m), a local checkpoint dir, or for --backend openai the served model's name.")
    benchmarks: list[str] = Field(
        ["gsm8k"], description="Benchmark names (gsm8k, math500, aime24, aime25, amc23) or .jsonl/.json/.csv problem files."
    )
    split: str = Field("test", description="Benchmark split.")
    limit: int | None = Field(None, ge=1, description="Only the first N problems of each benchmark.")
    shard: tuple[int, int] | None = Field(
        None, description="i/N: only the i-th of N slices of each benchmark's problems, for a cluster; join them with leancot merge."
    )
    backend: str | None = Field(None, description="hf | vllm | openai (default: vllm with a GPU and vLLM installed, else hf).")
    protocol: str = Field(
        protocols.DEFAULT_PROTOCOL,
        description="Preset of the settings below marked (protocol): leancot, drp-lm-eval, essence-lighteval, deepseek-r1 (files in leancot/evaluate/protocols/); explicit flags override it.",
    )
    max_new_tokens: int | None = Field(
        None, ge=1, description="(protocol; leancot 2048) Generation budget per output; an output cut off here is graded wrong."
    )
    max_new_tokens_by_benchmark: dict[str, int] | None = Field(
        None, description="Budgets of single benchmarks, name=N,name=N (default: the protocol's, when --max-new-tokens is not given)."
    )
    n: int | None = Field(
        None,
        ge=1,
        description="(protocol; leancot 1) Samples per problem (n > 1 needs temperature > 0; gives pass@k, mean@k and mean ± std over samples).",
    )
    temperature: float | None = Field(None, ge=0.0, description="(protocol; leancot 0.0) 0 = greedy decoding.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="(protocol; leancot 1.0) Nucleus sampling mass (with temperature > 0).")
    chat_template: bool | None = Field(
        None,
        description="(protocol; leancot true) Render the prompt with the model's chat template; false feeds the prompt text as is (lm-eval style).",
    )
    stop: list[str] | None = Field(
        None,
        description="(protocol; leancot none) Stop strings, applied only outside the reasoning (after </think>): the output is cut before the first.",
    )
    answer_format: Literal["any", "the-answer-is"] | None = Field(
        None,
        description="(protocol; leancot any) any: \\boxed{}, 'The answer is', ...; the-answer-is: only lm-eval's strict 'The answer is N.'; both graded with math-verify.",
    )
    seed: int = Field(0, description="Seed of the per-sample sampling seeds and of nothing else.")
    batch_size: int = Field(16, ge=1, description="hf: prompts per generate batch.")
    threads: int | None = Field(None, ge=1, description="hf on CPU: torch threads (default: torch's own choice).")
    dtype: str | None = Field(
        None, description="(protocol; leancot auto) hf/vllm weights: auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16."
    )
    tensor_parallel_size: int = Field(1, ge=1, description="vllm: GPUs per model replica.")
    data_parallel_size: int = Field(1, ge=1, description="vllm: model replicas, each with its share of the prompts.")
    base_url: str | None = Field(None, description="openai: an OpenAI-compatible endpoint (default $OPENAI_BASE_URL, else OpenAI).")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: the environment variable that holds the API key.")
    concurrency: int = Field(16, ge=1, description="openai: requests in flight.")
    max_retries: int = Field(4, ge=0, description="openai: retries per request before the run fails (finished records are kept).")
    tokenizer: str | None = Field(
        None, description="Tokenizer that counts tokens (default: the evaluated model's; for openai, the built-in one)."
    )
    prompt: str | None = Field(None, description="(protocol; leancot r1_math) Prompt file stem under leancot/evaluate/prompts.")
    system_prompt: str | None = Field(None, description="A system message (R1 advises none).")

    @field_validator("shard", mode="before")
    @classmethod
    def _parse_shard(cls, v: Any) -> Any:
        return parse_shard(v)

    @model_validator(mode="before")
    @classmethod
    def _protocol_defaults(cls, data: Any) -> Any:
        return protocols.apply_protocol(data) if isinstance(data, dict) else data

    @field_validator("stop", mode="before")
    @classmethod
    def _split_stop(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("benchmarks", mode="before")
    @classmethod
    def _split_commas(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [b for b in (s.strip() for s in v.split(",")) if b]
        return v

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if not self.benchmarks:
            raise UsageError("no benchmark given; choose from " + ", ".join(data.list_benchmarks()))
        if self.n > 1 and self.temperature == 0:
            raise UsageError(f"--n {self.n} with greedy decoding gives {self.n} identical outputs; set --temperature > 0")
        return self

    def fingerprint_config(self) -> dict[str, Any]:
        """What changes an output; what only selects problems or affects speed may differ on resume."""
        fields = {"model", "split", "backend", "max_new_tokens", "max_new_tokens_by_benchmark", "temperature", "top_p", "seed",
                  "dtype", "tokenizer", "prompt", "system_prompt", "chat_template", "stop", "answer_format"}  # fmt: skip
        return self.model_dump(mode="json", include=fields)
