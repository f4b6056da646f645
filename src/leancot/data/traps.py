"""Path traps: hand-written GSM8K-style R1 traces annotated with the computations a
faithful pruned path must keep, the ones it must drop, and the traps that mislead a pruner.

>>> from leancot.data.traps import load_traps
>>> trap = load_traps()[0]
>>> sorted(trap)[:4]
['asides', 'classes', 'completion', 'correct']

Each ``required`` item is ``{"id", "expr", "after"}``: ``expr`` is the computation exactly
as the reasoning first writes it, ``after`` the ids of the computations it uses. The fields
and the trap classes are described in ``files/path_traps/README.md``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from leancot.data.loader import files_dir, read_records

TRAPS_FILE = "gsm8k_traps.jsonl"
#: The sets: ``main`` is what the pruners' tests take cases from; ``heldout`` was written apart from
#: the pruner code (its author never read it) and measured before any rule was tuned on it.
SETS = {"main": TRAPS_FILE, "heldout": "gsm8k_traps_heldout.jsonl", "heldout2": "gsm8k_traps_heldout2.jsonl"}

# The trap classes a trace may be tagged with: what would mislead a pruner (first nine),
# then the kinds of arithmetic a path must carry over intact.
CLASSES = (
    "shared_value",
    "answer_equals_given",
    "retracted",
    "slip",
    "aside",
    "use_before_derive",
    "number_forms",
    "final_pass",
    "dangling",
    "percent",
    "fraction",
    "money",
    "unit_change",
)


def traps_path(name: str = "main") -> Path:
    """The bundled file of path-trap traces of set ``name`` (:data:`SETS`)."""
    return files_dir() / "path_traps" / SETS[name]


def load_traps(name: str = "main") -> list[dict[str, Any]]:
    """The rows of :func:`traps_path`: id, question, gold_answer, completion, classes,
    required, retracted, asides, correct."""
    return read_records(traps_path(name))


def class_table(traps: list[dict[str, Any]]) -> str:
    """A Markdown table of how many traces (and how many correct ones) carry each class."""
    every = Counter(tag for trap in traps for tag in trap["classes"])
    right = Counter(tag for trap in traps if trap["correct"] for tag in trap["classes"])
    rows = [f"| `{tag}` | {every[tag]} | {right[tag]} |" for tag in CLASSES]
    total = f"| all traces | {len(traps)} | {sum(trap['correct'] for trap in traps)} |"
    return "\n".join(["| class | traces | correct traces |", "|---|---|---|", *rows, total])
