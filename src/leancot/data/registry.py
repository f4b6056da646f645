"""The bundled benchmarks: a plain registry of name -> files, fields and gold format.

The files live under ``leancot/data/files/benchmarks/`` with their licences beside
them (see ``files/README.md`` for their origin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GoldFormat = Literal["plain", "after_hashes"]


@dataclass(frozen=True)
class Benchmark:
    """One bundled benchmark.

    ``splits`` maps a split name to a file relative to ``files/benchmarks/``;
    ``gold`` says how to read the gold answer from ``answer_field``: ``"plain"`` (the
    value itself: a string, an int such as 70 or a float such as 27.0) or
    ``"after_hashes"`` (the text after ``####`` in a GSM8K solution). Every gold is then
    normalised with :func:`leancot.grading.normalize_answer`.
    """

    name: str
    splits: dict[str, str]
    question_field: str
    answer_field: str
    gold: GoldFormat = "plain"
    aliases: tuple[str, ...] = field(default_factory=tuple)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "gsm8k",
            {"test": "gsm8k/test.jsonl", "train": "gsm8k/train.jsonl"},
            question_field="question",
            answer_field="answer",
            gold="after_hashes",
            aliases=("gsm-8k", "gsm_8k", "openai/gsm8k"),
        ),
        Benchmark(
            "math500",
            {"test": "math500/test.jsonl"},
            question_field="problem",
            answer_field="answer",
            aliases=("math-500", "math_500", "huggingfaceh4/math-500"),
        ),
        Benchmark(
            "aime24",
            {"test": "aime24/test.jsonl"},
            question_field="problem",
            answer_field="answer",  # zero-padded strings: "025" -> "25"
            aliases=("aime2024", "aime-2024", "aime_2024", "aime-24"),
        ),
        Benchmark(
            "aime25",
            {"test": "aime25/test.jsonl"},
            question_field="problem",
            answer_field="answer",  # ints
            aliases=("aime2025", "aime-2025", "aime_2025", "aime-25"),
        ),
        Benchmark(
            "amc23",
            {"test": "amc23/test.jsonl"},
            question_field="problem",
            answer_field="answer",  # floats: 27.0 -> "27"
            aliases=("amc2023", "amc-2023", "amc_2023", "amc-23"),
        ),
    )
}

_ALIASES: dict[str, str] = {alias: b.name for b in BENCHMARKS.values() for alias in (b.name, *b.aliases)}


def find_benchmark(name: str) -> Benchmark | None:
    """The registry entry for a name or alias (case-insensitive), or None."""
    canonical = _ALIASES.get(name.strip().lower())
    return BENCHMARKS[canonical] if canonical else None


def list_benchmarks() -> list[str]:
    """The canonical names of the bundled benchmarks."""
    return sorted(BENCHMARKS)
