"""The ``report`` stage: run directories in, ``report.html`` and ``report.md`` out.

``run(ReportConfig(runs=[...]))`` reads every run directory (see ``leancot.report.collect``),
draws the plots and writes the two files into ``config.out`` (default: the first run
directory). It writes no manifest: the output dir is often another stage's, whose
manifest must stay its own, and a report is cheap to redo.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot.errors import UsageError
from leancot.io import write_text_atomic

log = logging.getLogger(__name__)


class ReportConfig(BaseModel):
    """Settings of the report stage (``leancot report``)."""

    model_config = ConfigDict(extra="forbid")

    runs: list[Path] = Field(description="Run directories (prune, train, eval outputs) or parents holding them up to two levels down.")
    out: Path | None = Field(None, description="Where report.html and report.md go (default: the first run directory).")
    title: str = Field("leancot report", description="The page's title.")
    max_records: int = Field(
        200,
        ge=0,
        description="Pruned records per prune run embedded in the trace viewer (each adds ~20 KiB for a real R1 trace: benchmarks/report_build.py).",
    )
    tokenizer: str | None = Field(None, description="Tokenizer for the per-skill token counts (default: the prune run's own).")

    @field_validator("runs")
    @classmethod
    def _runs_exist(cls, v: list[Path]) -> list[Path]:
        if not v:
            raise UsageError("no run directory given")
        for p in v:
            if not p.exists():
                raise UsageError(f"run directory not found: {p}")
            if not p.is_dir():
                raise UsageError(f"not a directory: {p}")
        return v

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else self.runs[0]


def run(config: ReportConfig) -> Path:
    """Write ``report.html`` and ``report.md`` for ``config.runs``; returns the path of report.html."""
    from leancot.report.collect import collect
    from leancot.report.html import render_html, render_markdown
    from leancot.report.plots import all_figures
    from leancot.report.tables import all_tables

    coll = collect(config.runs, max_records=config.max_records, tokenizer=config.tokenizer)
    log.info("report: %d prune, %d train, %d eval run(s)", len(coll.prune), len(coll.train), len(coll.eval))
    for w in coll.warnings:
        log.warning("report: %s", w)
    tables = all_tables(coll)
    figures = all_figures(coll)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "report.html"
    write_text_atomic(html_path, render_html(coll, tables, figures, title=config.title))
    write_text_atomic(out / "report.md", render_markdown(coll, tables, title=config.title))
    for path in (html_path, out / "report.md"):
        os.chmod(path, 0o644)  # the atomic write's temp file is private; a report is for sharing
    return html_path
