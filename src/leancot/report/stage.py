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

from leancot import stages
from leancot.io import write_text_atomic
from leancot.report.config import ReportConfig

log = logging.getLogger(__name__)


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


STAGE = stages.Stage("report", ReportConfig, run, command="leancot.report.command:register", collects=True)
