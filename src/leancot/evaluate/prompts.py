"""The evaluation prompts: zero-shot, as the DeepSeek-R1 evaluations ask for math.

Prompts are text files under ``prompts/`` (package data) with one ``{question}``
placeholder; a benchmark maps to a file by name here. Every bundled benchmark uses
the R1 math prompt ("Please reason step by step, and put your final answer within
\\boxed{}."), placed in the user turn with no system prompt, as R1 recommends.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from leancot.errors import UsageError

DEFAULT_PROMPT = "r1_math"
#: benchmark -> prompt file stem; a benchmark not listed (a user's file) gets DEFAULT_PROMPT.
BENCHMARK_PROMPTS: dict[str, str] = {name: DEFAULT_PROMPT for name in ("gsm8k", "math500", "aime24", "aime25", "amc23")}


@cache
def load_prompt(name: str = DEFAULT_PROMPT) -> str:
    """The template text of ``prompts/<name>.txt`` (without its trailing newline)."""
    resource = files("leancot.evaluate").joinpath(f"prompts/{name}.txt")
    if not resource.is_file():
        raise UsageError(f"unknown prompt {name!r}; prompts live in leancot/evaluate/prompts/*.txt")
    return resource.read_text(encoding="utf-8").rstrip("\n")


def build_prompt(question: str, benchmark: str, prompt: str | None = None) -> str:
    """The user message for one problem: the benchmark's template with the question filled in.

    ``str.replace`` rather than ``str.format``: questions are full of LaTeX braces.
    """
    template = load_prompt(prompt or BENCHMARK_PROMPTS.get(benchmark, DEFAULT_PROMPT))
    return template.replace("{question}", question.strip())
