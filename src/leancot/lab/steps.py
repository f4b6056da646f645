"""How the lab runs a stage: as ``leancot run`` runs a recipe's step (``pipeline.run_step``), so each of
its prune, train and eval runs has its own lock, fingerprint, manifest and resume."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


def run_stage(stage: str, config: BaseModel, label: str) -> Path:
    """One stage run of the lab; returns its output dir."""
    from leancot.pipeline import Step, run_step

    return run_step(Step(stage, "", config, label=f"lab: {label}"))
