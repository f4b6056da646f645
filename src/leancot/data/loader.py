"""Read benchmark and user files into :class:`leancot.schema.Problem` records."""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from leancot import grading
from leancot.data.registry import BENCHMARKS, Benchmark, find_benchmark
from leancot.errors import UsageError
from leancot.grading import last_boxed, normalize_answer
from leancot.io import FIELD_ALIASES, iter_rows
from leancot.schema import Problem, Trace

logger = logging.getLogger(__name__)

QUESTION_FIELDS = FIELD_ALIASES["question"]
ANSWER_FIELDS = (*FIELD_ALIASES["answer"], "solution")  # a problem file's worked solution holds its answer
ID_FIELDS = FIELD_ALIASES["id"]
TRACES_FILE = "r1_distill_math_traces.jsonl"


def files_dir() -> Path:
    """The folder of bundled data files (``leancot/data/files``)."""
    return Path(str(files("leancot.data").joinpath("files")))


def traces_path() -> Path:
    """The bundled file of 40 real R1-distill reasoning traces (see ``files/README.md``)."""
    return files_dir() / "traces" / TRACES_FILE


def load_traces() -> list[dict[str, Any]]:
    """The raw rows of :func:`traces_path` (id, problem, completion, gt_answer, chunks...)."""
    return read_records(traces_path())


def bundled_trace(row: dict[str, Any]) -> Trace:
    """One row of :func:`load_traces` as a pruner's ``Trace`` (reasoning and answer split from the completion)."""
    reasoning, final, _ = grading.split_think(row["completion"])
    return Trace(id=row["id"], problem_id=row["id"], question=row["problem"], completion=row["completion"], reasoning=reasoning,
                 final=final, answer=grading.extract_answer(row["completion"]), gold_answer=row["gt_answer"],
                 correct=bool(row["is_correct"]))  # fmt: skip


def correct_traces() -> list[Trace]:
    """The bundled traces whose answer is correct (20 of the 40), as ``Trace``s."""
    return [bundled_trace(row) for row in load_traces() if row["is_correct"]]


# --------------------------------------------------------------------------- reading


def read_records(path: Path) -> list[dict[str, Any]]:
    """The rows of a file in any input format leancot reads (``leancot.io.iter_rows``: JSONL, JSON, CSV,
    Parquet, a saved datasets dir; a BOM dropped, CRLF read as LF). A row that cannot be read is an error."""
    rows = []
    for row in iter_rows(path):
        if row.data is None:
            raise UsageError(f"cannot read {path}: line {row.line}: {row.error}")
        rows.append(row.data)
    return rows


# --------------------------------------------------------------------------- gold answers


def gold_from_solution(text: str) -> str | None:
    """The answer inside a worked solution: after ``####``, else the last ``\\boxed{}``."""
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    return last_boxed(text)


def _gold(value: Any, field: str) -> str | None:
    """The normalised gold of an answer-like field; None when there is none."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        extracted = gold_from_solution(value)
        if extracted is not None:
            value = extracted
        elif field == "solution":  # a worked solution without a marked answer
            return None
    return normalize_answer(value) or None


def _pick(row: dict[str, Any], given: str | None, candidates: tuple[str, ...]) -> str | None:
    if given is not None:
        if given not in row:
            raise UsageError(f"field {given!r} not found; the record has {sorted(row)}")
        return given
    return next((f for f in candidates if row.get(f) not in (None, "")), None)


def to_problem(
    row: dict[str, Any],
    idx: int,
    source: str,
    *,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    default_id: str | None = None,
) -> Problem:
    """Map one raw record onto a Problem; fields not used are kept in ``meta``."""
    q_field = _pick(row, question_field, QUESTION_FIELDS)
    if q_field is None:
        raise UsageError(f"{source} record {idx}: no question field (tried {', '.join(QUESTION_FIELDS)}); name it with --question-field")
    a_field = _pick(row, answer_field, ANSWER_FIELDS)
    i_field = _pick(row, id_field, ID_FIELDS)
    question = str(row[q_field])
    gold = _gold(row[a_field], a_field) if a_field else None
    meta = {k: v for k, v in row.items() if k not in (q_field, a_field) and v != question}
    if a_field and isinstance(row[a_field], str) and gold_from_solution(row[a_field]) is not None:
        meta.setdefault("solution", row[a_field])  # the worked solution is worth keeping
    pid = default_id if default_id is not None else (str(row[i_field]) if i_field else f"{source}-{idx}")
    return Problem(id=pid, question=question, gold_answer=gold, source=source, meta=meta)


# --------------------------------------------------------------------------- load


def _load_benchmark(bench: Benchmark, split: str, limit: int | None) -> list[Problem]:
    if split not in bench.splits:
        raise UsageError(f"benchmark {bench.name!r} has no split {split!r}; valid: {', '.join(bench.splits)}")
    rows = read_records(files_dir() / "benchmarks" / bench.splits[split])[:limit]
    prefix = bench.name if split == "test" else f"{bench.name}-{split}"
    return [
        to_problem(row, idx, bench.name, question_field=bench.question_field, answer_field=bench.answer_field, default_id=f"{prefix}-{idx}")
        for idx, row in enumerate(rows)
    ]


def load(
    name_or_path: str | Path,
    split: str = "test",
    *,
    limit: int | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
) -> list[Problem]:
    """Load a bundled benchmark by name, or a user's JSONL/JSON/CSV file, as Problems.

    Benchmarks: ``gsm8k`` (splits ``test``, ``train``), ``math500``, ``aime24``, ``aime25``,
    ``amc23`` and aliases such as ``math-500`` or ``aime2024``; ids are ``"{name}-{idx}"``
    (``"gsm8k-train-{idx}"`` for the train split). A user file's fields are detected
    (question: question/problem/prompt; answer: answer/gold_answer/gt_answer/final_answer/
    solution, the answer being taken out of a ``####`` or ``\\boxed{}`` solution) unless
    named; its ids are the record's ``id`` or ``"{file stem}-{idx}"``. Gold answers are
    normalised; other fields go to ``meta``. ``limit`` keeps the first N records.

    Raises UsageError for an unknown name, an unknown split or a missing file.
    """
    bench = find_benchmark(str(name_or_path)) if isinstance(name_or_path, str) else None
    if bench is not None:
        return _load_benchmark(bench, split, limit)
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix or len(path.parts) > 1:
            raise UsageError(f"file not found: {path}")
        raise UsageError(
            f"unknown benchmark {str(name_or_path)!r}; known: {', '.join(sorted(BENCHMARKS))} (or give a .jsonl/.json/.csv file)"
        )
    rows = read_records(path)[:limit]
    logger.info("loaded %d records from %s", len(rows), path)
    return [
        to_problem(row, idx, path.stem, question_field=question_field, answer_field=answer_field, id_field=id_field)
        for idx, row in enumerate(rows)
    ]
