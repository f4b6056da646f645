"""The ``prune`` stage: traces in, verified concise reasoning paths out.

``run(PruneConfig(...))`` reads every input row, turns it into a ``Trace``, prunes
it (DRP's decomposition + per-step actions, see ``leancot.prune.heuristic``),
verifies the pruned path and writes ``records.jsonl`` / ``rejects.jsonl`` /
``manifest.json`` in the output directory. Every input row ends in exactly one of
the two files; a re-run resumes where an interrupted one stopped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leancot import grading, manifest
from leancot.errors import UsageError
from leancot.extras import require
from leancot.io import MAX_LINE_BYTES, FieldMap, InputPath, RawRow, StageOutput, iter_rows
from leancot.progress import progress_bar
from leancot.prune.heuristic import prune_trace
from leancot.prune.verify import check
from leancot.schema import PrunedTrace, Step, Trace
from leancot.tokens import count_tokens

log = logging.getLogger(__name__)


class PruneConfig(BaseModel):
    """Settings of the prune stage (``leancot prune``)."""

    model_config = ConfigDict(extra="forbid")

    input: InputPath = Field(description="Traces: JSONL, JSON, CSV, Parquet or a saved datasets dir.")
    out: Path = Field(description="Output directory (records.jsonl, rejects.jsonl, manifest.json).")
    method: Literal["heuristic", "llm"] = Field("heuristic", description="Who prunes: the offline heuristic pruner, or a teacher LLM.")
    teacher: dict[str, Any] | None = Field(None, description="Teacher settings for method 'llm' (see leancot.teacher.llm_prune.TeacherConfig).")
    tokenizer: str = Field("smollm2-135m", description="Tokenizer that counts tokens (built-in name or local dir).")
    on_fail: Literal["reject", "keep"] = Field("reject", description="A pruned path that fails verification: reject it, or keep the original unpruned.")
    require_correct: bool = Field(True, description="Reject traces whose own answer is not the gold (DRP distils only correct paths).")
    id_field: str | None = Field(None, description="Input column with the id (default: auto-detect, else the line number).")
    question_field: str | None = Field(None, description="Input column with the question (default: auto-detect).")
    completion_field: str | None = Field(None, description="Input column with the model's full text (default: auto-detect).")
    answer_field: str | None = Field(None, description="Input column with the gold answer (default: auto-detect; none is fine).")
    limit: int | None = Field(None, ge=1, description="Prune only the first N input rows.")
    max_line_bytes: int = Field(MAX_LINE_BYTES, ge=1024, description="Longer input lines are rejected as line_too_long.")
    overwrite: bool = Field(False, description="Discard an existing output directory instead of resuming it.")

    @model_validator(mode="after")
    def _teacher_for_llm(self) -> PruneConfig:
        if self.method == "llm" and not (self.teacher or {}).get("model"):
            raise UsageError("--method llm needs a teacher model: --teacher-model NAME")
        return self

    def fingerprint_config(self) -> dict[str, Any]:
        """The settings that change the output (not where it goes or whether to overwrite)."""
        return self.model_dump(mode="json", exclude={"out", "overwrite", "input", "teacher"})


def run(config: PruneConfig) -> Path:
    """Prune every trace of ``config.input`` into ``config.out``; returns the output dir."""
    if config.method == "llm":
        require("openai", "api")
        from leancot.teacher.llm_prune import TeacherConfig, run_llm_prune  # the api extra, imported only here

        return run_llm_prune(config, TeacherConfig(**config.teacher))
    inputs = {str(config.input): manifest.file_sha256(config.input)}
    man = manifest.Manifest(config.out, "prune", config.fingerprint_config(), inputs)
    state = manifest.check_resumable(config.out, man.fingerprint, overwrite=config.overwrite)
    if state == "skip":
        log.info("prune: %s is up to date, skipping", config.out)
        return config.out
    man.write("running")
    fields = FieldMap(config.id_field, config.question_field, config.completion_field, config.answer_field)
    with StageOutput(config.out) as out:
        if out.resumed:
            log.info("prune: resuming, %d items already done", out.resumed)
        _prune_rows(config, fields, out)
    man.write("complete", **summarise(config.out))
    return config.out


def _prune_rows(config: PruneConfig, fields: FieldMap, out: StageOutput) -> None:
    seen: set[str] = set()
    rows = iter_rows(config.input, max_line_bytes=config.max_line_bytes)
    with progress_bar("pruning") as bar:
        task = bar.add_task("pruning", total=_count_rows(config))
        for n, row in enumerate(rows, start=1):
            if config.limit and n > config.limit:
                break
            _prune_row(config, fields, row, seen, out)
            bar.advance(task)


def _count_rows(config: PruneConfig) -> int | None:
    """Rows of a JSONL input (for the progress bar); None for other formats."""
    if config.input.suffix.lower() not in (".jsonl", ".ndjson"):
        return None
    with open(config.input, "rb") as f:
        n = sum(1 for line in f if line.strip())
    return min(n, config.limit) if config.limit else n


def _prune_row(config: PruneConfig, fields: FieldMap, row: RawRow, seen: set[str], out: StageOutput) -> None:
    item_id = row_id(row, fields)
    duplicate = item_id in seen
    seen.add(item_id)
    if duplicate:
        item_id = f"{item_id}#line-{row.line}"  # keep the account: the copy is a reject of its own
    if out.done(item_id):
        return
    if duplicate:
        out.reject(item_id, "duplicate_id")
        return
    try:
        result = prune_one(row, fields, config)
    except RecursionError:
        result = ("pruner_error", "recursion limit")
    if isinstance(result, PrunedTrace):
        out.add(result)
    else:
        out.reject(item_id, *result)


def row_id(row: RawRow, fields: FieldMap) -> str:
    if row.data is None:
        return f"line-{row.line}"
    if not fields.resolved:
        _resolve_fields(fields, row.data)
    key = fields.resolved.get("id")
    value = row.data.get(key) if key else None
    return str(value) if value not in (None, "") else f"line-{row.line}"


def _resolve_fields(fields: FieldMap, data: dict[str, Any]) -> dict[str, str | None]:
    """Pick the columns from the first readable row; a required one that is absent is a usage error."""
    cols = fields.resolve(data.keys())
    for name in ("question", "completion"):
        if cols[name] is None:
            raise UsageError(f"no {name} field in the input (it has: {', '.join(data)}); name it with --{name}-field")
    return cols


def prune_one(row: RawRow, fields: FieldMap, config: PruneConfig) -> PrunedTrace | tuple[str, str]:
    """One input row to a PrunedTrace, or ``(reason, detail)`` saying why it is rejected."""
    trace = to_trace(row, fields)
    if isinstance(trace, tuple):
        return trace
    if trace.answer is None:
        return ("no_final_answer", "no \\boxed{}, 'The answer is' or '####' after the reasoning")
    if trace.correct is False and config.require_correct:
        return ("incorrect_trace", f"trace answer {trace.answer!r} != gold {trace.gold_answer!r}")
    steps, pruned = prune_trace(trace.reasoning, trace.answer, trace.question)
    failures = check(pruned, original_answer=trace.answer, gold=trace.gold_answer, original_text=trace.reasoning, question=trace.question)
    if failures and config.on_fail == "reject":
        return (failures[0], "; ".join(failures))
    if failures:  # --on-fail keep: pass the trace through unpruned
        steps = [Step(index=s.index, text=s.text, skill=s.skill, action="keep") for s in steps]
        pruned = trace.reasoning
    return PrunedTrace(
        id=trace.id,
        question=trace.question,
        gold_answer=trace.gold_answer,
        original=trace.reasoning,
        pruned=pruned,
        steps=steps,
        answer=trace.answer,
        tokens_before=count_tokens(trace.reasoning, config.tokenizer),
        tokens_after=count_tokens(pruned, config.tokenizer),
        verified=not failures,
        method="heuristic" if not failures else "heuristic:unpruned",
        failures=failures,
    )


def to_trace(row: RawRow, fields: FieldMap) -> Trace | tuple[str, str]:
    """Map an input row onto a Trace, or say which field is missing."""
    if row.data is None:
        return (row.error or "unreadable", f"input line {row.line}")
    cols = fields.resolved or _resolve_fields(fields, row.data)
    for name in ("question", "completion"):
        if row.data.get(cols[name]) in (None, ""):
            return (f"missing_{name}", f"input line {row.line} has no '{cols[name]}'")
    completion = str(row.data[cols["completion"]])
    if not completion.strip():
        return ("empty_trace", f"input line {row.line}")
    reasoning, final, _closed = grading.split_think(completion)
    if not reasoning.strip():
        return ("empty_trace", "no reasoning before </think>")
    answer = grading.extract_answer(completion)
    gold = _gold(row.data.get(cols["answer"]) if cols.get("answer") else None)
    return Trace(
        id=row_id(row, fields),
        problem_id=str(row.data.get("problem_id") or row.data.get("source_problem") or ""),
        question=str(row.data[cols["question"]]),
        completion=completion,
        reasoning=reasoning.strip(),
        final=final.strip(),
        answer=answer,
        gold_answer=gold,
        correct=None if gold is None or answer is None else grading.is_equivalent(answer, gold),
        model=str(row.data.get("model") or ""),
    )


def _gold(value: Any) -> str | None:
    """A gold field may hold a bare answer or a whole solution (GSM8K '#### 18', MATH '\\boxed{}')."""
    if value in (None, ""):
        return None
    text = str(value)
    if "####" in text or "\\boxed" in text:
        return grading.extract_answer(text)
    return grading.normalize_answer(value)


def summarise(out_dir: Path) -> dict[str, Any]:
    """Counts and token totals of a prune output directory (for the manifest and stats)."""
    from leancot.io import read_jsonl

    records = read_jsonl(out_dir / "records.jsonl")
    rejects = read_jsonl(out_dir / "rejects.jsonl")
    before = sum(r["tokens_before"] for r in records)
    after = sum(r["tokens_after"] for r in records)
    reasons: dict[str, int] = {}
    for r in rejects:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {
        "counts": {"input": len(records) + len(rejects), "records": len(records), "rejects": len(rejects), "verified": sum(r["verified"] for r in records)},
        "reject_reasons": reasons,
        "tokens": {"before": before, "after": after, "ratio": round(after / before, 4) if before else None},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
