"""A stage's ``manifest.json``: what ran, on what, with which versions, and what came out.

The fingerprint (a hash of the stage name, its config and its inputs' contents)
decides what a re-run does: the same fingerprint with status ``complete`` means
the stage is skipped; the same fingerprint with status ``running`` means an
interrupted run, which resumes; a different fingerprint over existing output is
refused, since mixing records of two configs would be silent corruption.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from leancot.errors import UsageError
from leancot.io import write_json_atomic

MANIFEST = "manifest.json"
TRACKED_PACKAGES = ("leancot", "transformers", "tokenizers", "torch", "math-verify", "pydantic", "peft", "trl", "vllm", "openai")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, or of every file under a directory (sorted by relative path)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def fingerprint(stage: str, config: dict[str, Any], inputs: dict[str, str]) -> str:
    """A hash of what determines a stage's output (config minus paths of the output itself)."""
    blob = json.dumps({"stage": stage, "config": config, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def read(out_dir: str | Path) -> dict[str, Any] | None:
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def check_resumable(out_dir: str | Path, fp: str, *, overwrite: bool = False) -> str:
    """Decide what to do with an output directory: 'fresh', 'resume' or 'skip'."""
    out_dir = Path(out_dir)
    old = read(out_dir)
    has_output = (out_dir / "records.jsonl").exists() or (out_dir / "rejects.jsonl").exists()
    if overwrite:
        for name in ("records.jsonl", "rejects.jsonl", MANIFEST):
            (out_dir / name).unlink(missing_ok=True)
        return "fresh"
    if old is None:
        return "resume" if has_output else "fresh"
    if old.get("fingerprint") != fp:
        raise UsageError(f"{out_dir} holds output of another config or input; use --overwrite or another --out")
    return "skip" if old.get("status") == "complete" else "resume"


class Manifest:
    """Collects a stage's metadata while it runs and writes it on start and at the end."""

    def __init__(self, out_dir: str | Path, stage: str, config: dict[str, Any], inputs: dict[str, str], seed: int | None = None):
        self.path = Path(out_dir) / MANIFEST
        self.started = time.time()
        self.data: dict[str, Any] = {
            "stage": stage,
            "status": "running",
            "fingerprint": fingerprint(stage, config, inputs),
            "config": config,
            "inputs": inputs,
            "seed": seed,
            "versions": package_versions(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
        }

    @property
    def fingerprint(self) -> str:
        return self.data["fingerprint"]

    def write(self, status: str = "running", **fields: Any) -> None:
        self.data.update(fields, status=status)
        self.data["wall_seconds"] = round(time.time() - self.started, 3)
        write_json_atomic(self.path, self.data)
