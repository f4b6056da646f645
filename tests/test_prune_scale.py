"""Pruning at scale: N processes give the same bytes as one; shards merge into one stage output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from leancot import data
from leancot.cli import app
from leancot.errors import UsageError
from leancot.io import read_jsonl
from leancot.merge import merge
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "traces.jsonl"
    rows = [dict(r, id=f"{r['id']}/{k}") for k in range(3) for r in data.load_traces()]  # 120 rows, half rejected
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_two_processes_write_the_same_bytes_as_one(traces, tmp_path):
    one = run(PruneConfig(input=traces, out=tmp_path / "one", workers=1))
    two = run(PruneConfig(input=traces, out=tmp_path / "two", workers=2))
    for name in ("records.jsonl", "rejects.jsonl"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (one, two))
    assert m1["fingerprint"] == m2["fingerprint"]  # --workers does not change the output


def test_a_killed_parallel_run_resumes_to_the_same_bytes(traces, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "leancot.cli", "prune", str(traces), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not (out / "records.jsonl").exists() or (out / "records.jsonl").stat().st_size < 30_000):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run(PruneConfig(input=traces, out=out, workers=2))
    whole = run(PruneConfig(input=traces, out=tmp_path / "whole", workers=1))
    for name in ("records.jsonl", "rejects.jsonl"):
        got = read_jsonl(out / name)
        assert len({r["id"] for r in got}) == len(got)
        assert sorted(got, key=lambda r: r["id"]) == sorted(read_jsonl(whole / name), key=lambda r: r["id"])


def test_shards_merge_into_what_one_run_makes(traces, tmp_path):
    whole = run(PruneConfig(input=traces, out=tmp_path / "whole", workers=1))
    shards = [run(PruneConfig(input=traces, out=tmp_path / f"s{i}", shard=f"{i}/3", workers=1)) for i in range(3)]
    result = CliRunner().invoke(app, ["merge", *map(str, shards), "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = tmp_path / "merged"
    for name in ("records.jsonl", "rejects.jsonl"):
        key = lambda r: r["id"]  # noqa: E731
        assert sorted(read_jsonl(merged / name), key=key) == sorted(read_jsonl(whole / name), key=key)
    m, w = (json.loads((d / "manifest.json").read_text()) for d in (merged, whole))
    assert m["counts"] == {k: w["counts"][k] for k in ("input", "records", "rejects")}
    assert m["tokens"]["before"] == w["tokens"]["before"] and m["reject_reasons"] == w["reject_reasons"]
    assert m["stage"] == "prune" and m["status"] == "complete"


def test_merge_refuses_a_missing_a_repeated_or_a_foreign_shard(traces, tmp_path):
    s0 = run(PruneConfig(input=traces, out=tmp_path / "s0", shard="0/2"))
    s1 = run(PruneConfig(input=traces, out=tmp_path / "s1", shard="1/2"))
    other = run(PruneConfig(input=traces, out=tmp_path / "other", shard="1/2", on_fail="keep"))
    with pytest.raises(UsageError, match="shards 1/2 are missing"):
        merge([s0], tmp_path / "m1")
    with pytest.raises(UsageError, match="given twice"):
        merge([s0, s1, s1], tmp_path / "m2")
    with pytest.raises(UsageError, match="not a shard of the same run"):
        merge([s0, other], tmp_path / "m3")
    with pytest.raises(UsageError, match="not a shard"):
        merge([run(PruneConfig(input=traces, out=tmp_path / "plain"))], tmp_path / "m4")


def test_a_bad_shard_is_one_line_exit_2(traces, tmp_path):
    for bad in ("3/3", "x/2", "2"):
        result = CliRunner().invoke(app, ["prune", str(traces), "--out", str(tmp_path / "o"), "--shard", bad])
        assert result.exit_code == 2 and "--shard" in result.output, bad


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc: Linux)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_parent_takes_its_workers_along_and_the_rerun_accounts_for_every_row(traces, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "leancot.cli", "prune", str(traces), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    deadline = time.time() + 120
    while time.time() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the run never started its workers"
    os.kill(proc.pid, signal.SIGKILL)  # the parent only, as a pre-empted job or a user's kill -9 does
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    try:
        assert not [w for w in workers if _alive(w)], "workers outlived their parent"
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if any(_alive(w) for w in workers) else None
    run(PruneConfig(input=traces, out=out, workers=2))
    rows = sum(1 for line in traces.read_text().splitlines() if line.strip())
    assert len(read_jsonl(out / "records.jsonl")) + len(read_jsonl(out / "rejects.jsonl")) == rows
