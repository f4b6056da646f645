"""``run(ExportConfig)``: read a stage output, write one export, count what was skipped."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from leancot import manifest
from leancot.errors import StageFailed, UsageError
from leancot.export import formats
from leancot.export.config import LLAMAFACTORY_FORMATS, ExportConfig
from leancot.export.rows import Example, drafts, example

log = logging.getLogger(__name__)

#: The stages whose records an export turns into examples (``rows.example`` reads each one's fields).
STAGES = ("prune", "generate", "eval")


@dataclass
class ExportResult:
    """What an export wrote: ``rows + skipped = records`` of the stage output."""

    source: Path
    stage: str
    format: str
    out: Path
    rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    dataset_info: Path | None = None  # LLaMA-Factory's file, for sharegpt and alpaca
    dataset_name: str | None = None

    @property
    def records(self) -> int:
        return self.rows + sum(self.skipped.values())


def run(config: ExportConfig) -> ExportResult:
    """Export ``config.dir`` as ``config.format``; returns what was written.

    Raises UsageError for a directory that is not a finished prune, generate or eval output or an
    ``--out`` inside it, and StageFailed when every record is skipped (nothing is written then)."""
    m = manifest.require_stage(config.dir, *STAGES, command="export")
    if m.get("status") != "complete":
        raise UsageError(f"export: {config.dir} is not finished (status {m.get('status')}); re-run its stage to complete it first")
    out = config.out_path()
    if out.resolve().is_relative_to(config.dir.resolve()):
        raise UsageError(f"export: --out {out} is inside {config.dir}; write the export outside the stage's output")
    if out.is_dir() and config.format != "hf-dataset":
        raise UsageError(f"export: --out {out} is a directory; give a file path")
    examples, skipped = _collect(config, m)
    result = ExportResult(config.dir, m["stage"], config.format, out, len(examples), dict(sorted(skipped.items())))
    if not examples:
        raise StageFailed(f"export: nothing to export from {config.dir}: {result.records} records, all skipped ({_reasons(skipped)})" + (
            "; --all exports unverified records too" if "not_verified" in skipped or "not_correct" in skipped or "ungraded" in skipped else ""
        ))  # fmt: skip
    _write(config, out, examples)
    if config.format in LLAMAFACTORY_FORMATS:
        result.dataset_name = config.dataset_name or out.stem
        result.dataset_info = out.parent / "dataset_info.json"
        entry = formats.llamafactory_entry(config.format, out.name, system=bool(config.system_prompt))
        formats.add_dataset_info(result.dataset_info, result.dataset_name, entry)
    log.debug("export: %s -> %s (%d rows, skipped %s)", config.dir, out, len(examples), skipped)
    return result


def _collect(config: ExportConfig, m: dict) -> tuple[list[Example], Counter[str]]:
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for draft in drafts(config.dir, m):
        got = example(draft, only_verified=config.only_verified, answer_style=config.answer_style)
        if isinstance(got, Example):
            examples.append(got)
        else:
            skipped[got] += 1
    return examples, skipped


def _write(config: ExportConfig, out: Path, examples: list[Example]) -> None:
    make = formats.ROWS[config.format]
    rows = (make(ex, config.tags, config.system_prompt) for ex in examples)
    if config.format == "parquet":
        formats.write_parquet(out, list(rows))
    elif config.format == "hf-dataset":
        formats.write_hf_dataset(out, list(rows))
    else:
        formats.write_jsonl(out, rows)


def _reasons(skipped: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))


def summary_line(result: ExportResult) -> str:
    """One line: where it went, and rows + skipped = records."""
    skipped = sum(result.skipped.values())
    why = f" ({_reasons(result.skipped)})" if skipped else ""
    line = f"{result.source} → {result.out} ({result.format}): {result.rows} rows + {skipped} skipped{why} = {result.records} {result.stage} records"
    if result.dataset_info is not None:
        line += f"; LLaMA-Factory dataset '{result.dataset_name}' in {result.dataset_info}"
    return line
