"""``ReportConfig``: the settings of ``leancot report``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot.errors import UsageError


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
