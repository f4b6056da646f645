"""A stage's ``manifest.json`` and the one lifecycle every stage runs under.

The fingerprint (a hash of the stage name, its config and its inputs' contents)
decides what a re-run does: the same fingerprint with status ``complete`` means
the stage is skipped; the same fingerprint otherwise means an interrupted run,
which resumes; a different fingerprint over existing output is refused, since
mixing records of two configs would be silent corruption.

``stage_run(...)`` is that lifecycle, written once::

    with stage_run(out, "prune", config.fingerprint_config(), inputs, overwrite=...) as run:
        if run.skipped:
            return out
        with run.output() as out_files:       # records.jsonl / rejects.jsonl, resumable
            ...                               # the stage's own work
        run.complete(counts)                  # exit-code rules, then status "complete"

Every stage writes one schema (:class:`ManifestData`): ``stage``, ``status``, ``fingerprint``,
``config``, ``inputs``, ``seed``, ``versions``, ``counts``, ``wall_seconds: {run, total}``,
``usage: {run, total}`` (calls, tokens, cost; ``total`` is what the request cache holds, or the
runs summed, across resumes), ``shard: {index, of}`` (from the config), and the stage's own fields.
:func:`read` returns it as a dict, upgrading a manifest an earlier leancot wrote (``wall_seconds``
as a number, ``usage_total`` beside ``usage``, ``shard`` at the top); one it cannot read is a
one-line error that says to re-run with ``--overwrite``.

It holds an exclusive OS lock on the output directory for the whole run (``flock``:
released by the kernel when the process dies, so ``kill -9`` leaves no stale lock); a
run that fails before writing any record leaves the directory as if it had not run;
Ctrl-C / SIGTERM end with "interrupted at N of M; re-run the same command to resume".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from leancot.errors import Interrupted, StageFailed, UsageError
from leancot.io import StageOutput, write_json_atomic

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PID_FILE = ".leancot.pid"  # who holds the lock (for the message); the lock itself is on the directory
TRACKED_PACKAGES = ("leancot", "transformers", "tokenizers", "torch", "math-verify", "pydantic", "peft", "trl", "vllm", "openai")
RECORD_FILES = ("records.jsonl", "rejects.jsonl")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, or of every file under a directory (sorted by relative path; lock files left out)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != PID_FILE) if path.is_dir() else [path]
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


SCHEMA = 2


class Span(BaseModel):
    """A figure for this run and for every run over the same directory (a resumed run adds to the earlier ones)."""

    run: float = 0.0
    total: float = 0.0


class UsageFigures(BaseModel):
    """API calls, tokens and cost (more fields a client counts are kept)."""

    model_config = ConfigDict(extra="allow")

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float = 0.0

    def plus(self, other: UsageFigures) -> UsageFigures:
        mine, theirs = self.model_dump(), other.model_dump()
        summed = {k: mine.get(k, 0) + theirs.get(k, 0) for k in {*mine, *theirs} if isinstance(mine.get(k, 0), int | float)}
        summed["cost_usd"] = round(summed.get("cost_usd", 0.0), 6)
        return UsageFigures(**summed)


class UsageSpan(BaseModel):
    run: UsageFigures
    total: UsageFigures


class ShardInfo(BaseModel):
    index: int
    of: int


class ManifestData(BaseModel):
    """What every stage's ``manifest.json`` holds (the stage's own fields come along as extras)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA
    stage: str
    status: str = "unknown"
    fingerprint: str = ""
    config: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    seed: int | None = None
    versions: dict[str, str] = {}
    started_at: str = ""
    finished_at: str | None = None
    wall_seconds: Span = Span()
    usage: UsageSpan | None = None
    counts: dict[str, int] = {}
    shard: ShardInfo | None = None


def read(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of ``out_dir`` as a dict of :class:`ManifestData` (None when there is none or it is not JSON)."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    try:
        return ManifestData.model_validate(_upgraded(raw)).model_dump(mode="json")
    except ValidationError:
        raise UsageError(f"{path} was written by another leancot and cannot be read; re-run the stage with --overwrite") from None


def _upgraded(raw: dict[str, Any]) -> dict[str, Any]:
    """A manifest of an earlier leancot in today's schema (its figures moved, none invented)."""
    if raw.get("schema_version") == SCHEMA or not isinstance(raw, dict):
        return raw
    m = dict(raw)
    run = m.get("wall_seconds")
    if isinstance(run, int | float):
        m["wall_seconds"] = {"run": run, "total": m.pop("wall_seconds_total", run)}
    usage = m.get("usage")
    if isinstance(usage, dict) and "run" not in usage:
        m["usage"] = {"run": usage, "total": m.pop("usage_total", usage)}
    shard = m.get("shard") or (m.get("config") or {}).get("shard")
    if isinstance(shard, list | tuple) and len(shard) == 2:
        m["shard"] = {"index": shard[0], "of": shard[1]}
    m["schema_version"] = SCHEMA
    return m


def require_stage(directory: str | Path, *stages: str, command: str) -> dict[str, Any]:
    """The manifest of a directory that must hold the output of one of ``stages``; else a usage error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{command}: {directory} is not a directory")
    m = read(directory)
    if m is None:
        raise UsageError(f"{command}: {directory} holds no leancot stage output (no manifest.json)")
    if m.get("stage") not in stages:
        wanted = " or ".join(stages)
        raise UsageError(f"{command}: {directory} is a {m.get('stage')} output, not a {wanted} output")
    return m


def reject_reasons(rejects: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many of ``rejects`` (rows of a ``rejects.jsonl``) each reason has: the one count of them that the
    stages' manifests, ``leancot stats``, the report and the lab read."""
    return dict(Counter(str(r.get("reason", "unknown")) for r in rejects))


def _has_records(out_dir: Path) -> bool:
    return any((out_dir / name).exists() and (out_dir / name).stat().st_size > 0 for name in RECORD_FILES)


KeptWork = Callable[[Path], bool]  # whether a directory holds work worth resuming besides records (checkpoints)


def check_resumable(
    out_dir: str | Path, fp: str, *, overwrite: bool = False, outputs: tuple[str, ...] = (), kept_work: KeptWork | None = None
) -> str:
    """Decide what to do with an output directory: 'fresh', 'resume' or 'skip'.

    A previous run that wrote nothing worth keeping (no record and no ``kept_work``, or it
    ended ``failed``: every row rejected) is started over, whatever its config was."""
    out_dir = Path(out_dir)
    old = read(out_dir)
    if overwrite:
        clear(out_dir, outputs)
        return "fresh"
    kept = _has_records(out_dir) or (kept_work is not None and kept_work(out_dir))
    if old is None:
        return "resume" if kept else "fresh"
    if old.get("status") == "failed" or (old.get("status") != "complete" and not kept):
        clear(out_dir, outputs)
        return "fresh"
    if old.get("fingerprint") != fp:
        raise UsageError(f"{out_dir} holds output of another config or input; use --overwrite or another --out")
    return "skip" if old.get("status") == "complete" else "resume"


def clear(out_dir: Path, outputs: tuple[str, ...] = ()) -> None:
    """Remove what a stage writes (and nothing else) from ``out_dir``."""
    for name in (*RECORD_FILES, MANIFEST, *outputs):
        p = out_dir / name
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


class Manifest:
    """Collects a stage's metadata while it runs and writes it on start and at the end."""

    def __init__(self, out_dir: str | Path, stage: str, config: dict[str, Any], inputs: dict[str, str], seed: int | None = None):
        self.path = Path(out_dir) / MANIFEST
        self.started = time.time()
        self.prior_seconds = 0.0  # the earlier runs' time, when this one resumes them
        self.prior_usage: UsageFigures | None = None  # what the earlier runs spent, when this one resumes them
        self.enabled = True  # off on the non-zero ranks of a distributed run
        shard = config.get("shard")
        self.data: dict[str, Any] = {
            "schema_version": SCHEMA,
            "stage": stage,
            "status": "running",
            "fingerprint": fingerprint(stage, config, inputs),
            "config": config,
            "inputs": inputs,
            "seed": seed,
            "versions": package_versions(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "shard": {"index": shard[0], "of": shard[1]} if shard else None,
        }

    @property
    def fingerprint(self) -> str:
        return self.data["fingerprint"]

    def write(
        self, status: str = "running", *, usage: dict[str, Any] | None = None, usage_total: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """Write the manifest; ``usage`` is what this run spent, ``usage_total`` what the request cache holds
        (default: the earlier runs' total plus this run's)."""
        self.data.update(fields, status=status)
        run = round(time.time() - self.started, 3)
        self.data["wall_seconds"] = {"run": run, "total": round(self.prior_seconds + run, 3)}
        if usage is not None:
            now = UsageFigures.model_validate(usage)
            total = UsageFigures.model_validate(usage_total) if usage_total is not None else (self.prior_usage or UsageFigures()).plus(now)
            self.data["usage"] = {"run": now.model_dump(), "total": total.model_dump()}
        if status != "running":
            self.data["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if self.enabled:
            write_json_atomic(self.path, ManifestData.model_validate(self.data).model_dump(mode="json"))


# --------------------------------------------------------------------------- the lock


_HELD: set[int] = set()  # descriptors of the locks this process holds


def _drop_inherited_locks() -> None:
    """In a forked child (a pool worker): close the inherited lock descriptors, so that the lock
    dies with the run's own process even if a worker outlives it. Only closed, never unlocked:
    an unlock would release the parent's lock too."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


class DirLock:
    """An exclusive ``flock`` on the output directory itself, held for a whole run."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.fd: int | None = None

    def acquire(self) -> DirLock:
        self.fd = os.open(self.dir, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise UsageError(
                f"{self.dir} is in use by another leancot run (pid {self._holder()}); wait for it or use another --out"
            ) from None
        _HELD.add(self.fd)
        (self.dir / PID_FILE).write_text(f"{os.getpid()}\n")
        return self

    def _holder(self) -> str:
        try:
            return (self.dir / PID_FILE).read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            (self.dir / PID_FILE).unlink(missing_ok=True)
            _HELD.discard(self.fd)
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def _is_main_process() -> bool:
    """False on the non-zero ranks of a torchrun / accelerate launch: rank 0 owns the directory."""
    return os.environ.get("RANK", "0") in ("", "0")


# --------------------------------------------------------------------------- the lifecycle


class StageRun:
    """One run of a stage over its output directory (made by ``stage_run``)."""

    def __init__(
        self,
        out_dir: Path,
        stage: str,
        config: dict[str, Any],
        inputs: dict[str, str],
        *,
        seed: int | None,
        overwrite: bool,
        allow_empty: bool,
        skip_complete: bool | Callable[[Path], bool],
        outputs: tuple[str, ...],
        kept_work: KeptWork | None = None,
    ):
        self.dir, self.stage, self.allow_empty, self.outputs = out_dir, stage, allow_empty, outputs
        self.kept_work = kept_work or (lambda d: False)
        self.main = _is_main_process()
        self.manifest = Manifest(out_dir, stage, config, inputs, seed=seed)
        self.manifest.enabled = self.main
        self.previous = read(out_dir) or {}
        state = (
            check_resumable(out_dir, self.manifest.fingerprint, overwrite=overwrite, outputs=outputs, kept_work=self.kept_work)
            if self.main
            else "resume"
        )
        if state == "fresh":
            self.previous = {}
        done = skip_complete(out_dir) if callable(skip_complete) else skip_complete
        self.state = "resume" if state == "skip" and not done else state
        if self.state == "resume":
            self.manifest.prior_seconds = float((self.previous.get("wall_seconds") or {}).get("total") or 0.0)
            total = (self.previous.get("usage") or {}).get("total")
            self.manifest.prior_usage = UsageFigures.model_validate(total) if total else None
        self.had_records = self.state == "resume" and (_has_records(out_dir) or self.kept_work(out_dir))  # an earlier run's work
        self.total: int | None = None  # input items, when the stage knows them (for the interrupt message)
        self._out: StageOutput | None = None

    @property
    def skipped(self) -> bool:
        return self.state == "skip"

    def output(self, key: str = "id") -> StageOutput:
        """The resumable records / rejects writer of this run."""
        self._out = StageOutput(self.dir, key=key)
        if self._out.resumed:
            log.info("%s: resuming, %d items already done", self.stage, self._out.resumed)
        return self._out

    def done(self) -> int:
        return 0 if self._out is None else len(self._out.record_ids) + len(self._out.reject_ids)

    def wrote_anything(self) -> bool:
        return self.had_records or self.done() > 0 or self.kept_work(self.dir)

    def complete(self, counts: dict[str, int], *, status: str = "complete", **fields: Any) -> None:
        """Finish: the exit-code rules, then the manifest. ``counts`` has input, records, rejects."""
        if counts.get("input", 0) == 0 and not self.allow_empty:
            raise UsageError(f"{self.stage}: input has no rows (pass --allow-empty if that is expected)")
        if counts.get("input", 0) > 0 and counts.get("records", 0) == 0 and status == "complete":
            reasons = fields.get("reject_reasons") or {}
            self.manifest.write("failed", counts=counts, **fields)
            listed = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "see rejects.jsonl"
            raise StageFailed(f"{self.stage}: 0 records from {counts['input']} input rows; rejects: {listed}")
        self.manifest.write(status, counts=counts, **fields)

    def interrupted_message(self) -> str:
        total = f" of {self.total}" if self.total is not None else ""
        return f"{self.stage}: interrupted at {self.done()}{total}; re-run the same command to resume"


@contextlib.contextmanager
def stage_run(
    out_dir: str | Path,
    stage: str,
    config: dict[str, Any],
    inputs: dict[str, str],
    *,
    seed: int | None = None,
    overwrite: bool = False,
    allow_empty: bool = False,
    skip_complete: bool | Callable[[Path], bool] = True,
    outputs: tuple[str, ...] = (),
    kept_work: KeptWork | None = None,
) -> Iterator[StageRun]:
    """Run a stage over ``out_dir``: lock, fingerprint, skip / resume / fresh, signals, clean failure.

    ``skip_complete``: whether a complete run with the same fingerprint is skipped (or a check
    of the directory, e.g. that the trained model is still there); ``outputs``: what the stage
    writes besides records, rejects and the manifest (removed by --overwrite or a failed run);
    ``kept_work``: whether the directory holds resumable work besides records (checkpoints)."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = DirLock(out_dir).acquire() if _is_main_process() else None
    run: StageRun | None = None
    try:
        run = StageRun(
            out_dir,
            stage,
            config,
            inputs,
            seed=seed,
            overwrite=overwrite,
            allow_empty=allow_empty,
            skip_complete=skip_complete,
            outputs=outputs,
            kept_work=kept_work,
        )
        if run.skipped:
            log.info("%s: %s is up to date, skipping", stage, out_dir)
        else:
            run.manifest.write("running", **_carried(run.previous))
        with _signals_as_interrupts():
            yield run
    except KeyboardInterrupt as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else 130
        if run is not None and run.wrote_anything():
            run.manifest.write("interrupted")
            raise Interrupted(run.interrupted_message(), code) from None
        if run is not None and run.main:
            _discard(out_dir, run, created)
        raise Interrupted(f"{stage}: interrupted before any record was written", code) from None
    except StageFailed:
        raise  # the manifest already says "failed": the next run starts over
    except BaseException:
        if run is not None and not run.wrote_anything() and run.main:
            _discard(out_dir, run, created)
        elif run is not None:
            run.manifest.write("error")
        raise
    finally:
        if lock is not None:
            lock.release()
    if created and run is not None and run.main and not any(out_dir.iterdir()):
        out_dir.rmdir()


def _carried(previous: dict[str, Any]) -> dict[str, Any]:
    """Fields a resumed run keeps from its manifest until it writes its own (usage so far, timings)."""
    return {k: previous[k] for k in ("usage_total", "timings") if k in previous}


def _discard(out_dir: Path, run: StageRun, created: bool) -> None:
    """Leave the directory as if the failed run had not run."""
    clear(out_dir, run.outputs)
    (out_dir / PID_FILE).unlink(missing_ok=True)
    if created and out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM ends a run like Ctrl-C does (cleanly, resumably), with exit code 143."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(128 + signum)

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
