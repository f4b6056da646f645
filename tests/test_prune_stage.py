"""The prune stage end to end: every input accounted for, resume without loss or duplicates."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from leancot import data
from leancot.errors import StageFailed, UsageError
from leancot.io import read_jsonl
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run

GOOD = {
    "id": "t1",
    "question": "Tom has 3 apples and buys 4 more. How many apples?",
    "completion": "<think>\nOkay, so Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7.\n"
    "Wait, let me double-check: 3 + 4 = 7. Yes.\n</think>\nThe answer is \\boxed{7}.",
    "gold_answer": "7",
}


def write_jsonl(path, rows):
    with open(path, "wb") as f:
        for row in rows:
            f.write(row if isinstance(row, bytes) else json.dumps(row).encode())
            f.write(b"\n")
    return path


def ids(path):
    return [r["id"] for r in read_jsonl(path)]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prune")
    return run(PruneConfig(input=data.traces_path(), out=out))


def test_real_traces_are_all_accounted_for(real_run):
    records, rejects = read_jsonl(real_run / "records.jsonl"), read_jsonl(real_run / "rejects.jsonl")
    assert len(records) + len(rejects) == 40
    # the 20 traces whose own answer is wrong are not distilled
    assert sum(r["reason"] == "incorrect_trace" for r in rejects) == 20
    assert all(r["verified"] and r["tokens_after"] < r["tokens_before"] for r in records)
    assert all(r["pruned"].rstrip().endswith("}") and "The answer is \\boxed{" in r["pruned"] for r in records)
    manifest = json.loads((real_run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["input"] == 40
    # every record is a complete derivation, and the manifest and stats count them
    assert all(r["derivation"]["complete"] for r in records)
    assert manifest["counts"]["complete_derivations"] == 20
    from leancot.prune.stats import load_stats

    stats = load_stats(real_run)
    assert (stats.complete, stats.unchecked) == (20, 0) and stats.repaired == sum(bool(r.get("restored")) for r in records)


def test_a_complete_run_is_skipped_and_another_config_is_refused(real_run):
    before = (real_run / "records.jsonl").read_bytes()
    run(PruneConfig(input=data.traces_path(), out=real_run))
    assert (real_run / "records.jsonl").read_bytes() == before
    with pytest.raises(UsageError, match="another config"):
        run(PruneConfig(input=data.traces_path(), out=real_run, on_fail="keep"))


def test_bad_rows_become_rejects_with_reasons(tmp_path):
    rows = [
        GOOD,
        b"{broken json",
        b'{"id": "latin1", "question": "\xe9t\xe9"}',
        {"id": "no-completion", "question": "q"},
        {"id": "empty", "question": "q", "completion": "   "},
        {"id": "no-answer", "question": "q", "completion": "<think>so 3 + 4 = 7</think> I am not sure."},
        {"id": "cut-off", "question": "q", "completion": "<think>so 3 + 4 = 7 and then"},
        {"id": "wrong", "question": "q", "completion": GOOD["completion"], "gold_answer": "8"},
        GOOD,  # the same id twice
        b'{"id": "huge", "question": "' + b"x" * 40_000 + b'"}',
    ]
    out = run(PruneConfig(input=write_jsonl(tmp_path / "in.jsonl", rows), out=tmp_path / "out", max_line_bytes=32_000))
    reasons = {r["id"]: r["reason"] for r in read_jsonl(out / "rejects.jsonl")}
    assert ids(out / "records.jsonl") == ["t1"]
    assert reasons == {
        "line-2": "malformed_json",
        "line-3": "not_utf8",
        "no-completion": "missing_completion",
        "empty": "empty_trace",
        "no-answer": "no_final_answer",
        "cut-off": "no_final_answer",
        "wrong": "incorrect_trace",
        "t1#line-9": "duplicate_id",
        "line-10": "line_too_long",
    }


def test_on_fail_keep_passes_a_failing_trace_through(tmp_path, monkeypatch):
    import leancot.prune.heuristic as heuristic

    monkeypatch.setattr(heuristic, "prune_trace", lambda r, a, q: ([], "So the answer is \\boxed{8}."))
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD])
    with pytest.raises(StageFailed, match="answer_mismatch 1"):  # every row rejected: not a success
        run(PruneConfig(input=path, out=tmp_path / "rej"))
    assert read_jsonl(tmp_path / "rej" / "rejects.jsonl")[0]["reason"] == "answer_mismatch"
    kept = run(PruneConfig(input=path, out=tmp_path / "keep", on_fail="keep"))
    (record,) = read_jsonl(kept / "records.jsonl")
    assert record["verified"] is False and record["pruned"] == record["original"]


def test_without_the_derivation_check_a_path_keeps_what_the_pruner_made(tmp_path, monkeypatch):
    """--no-derivation-check (an ablation): the check is recorded, but neither repairs nor rejects."""
    from leancot.prune import registry
    from leancot.prune.base import Pruned

    src = write_jsonl(tmp_path / "in.jsonl", [GOOD])

    async def gap(self, trace):  # a path that uses 7 with no computation of it
        return Pruned([], "The total is 7.\nThe answer is \\boxed{7}", "heuristic")

    trace = dict(GOOD, completion=GOOD["completion"].replace("so 3 + 4 = 7.", "so 3 + 4 = 7. Then 7 + 0 = 7."))
    src = write_jsonl(tmp_path / "in.jsonl", [trace])
    monkeypatch.setattr(registry.HeuristicPruner, "prune", gap)
    checked = read_jsonl(run(PruneConfig(input=src, out=tmp_path / "checked")) / "records.jsonl")[0]
    unchecked = read_jsonl(run(PruneConfig(input=src, out=tmp_path / "raw", derivation_check=False)) / "records.jsonl")[0]
    assert checked["verified"] and checked["restored"] and "3 + 4 = 7" in checked["pruned"]
    assert unchecked["verified"] and "restored" not in unchecked and "3 + 4 = 7" not in unchecked["pruned"]
    assert unchecked["derivation"]["complete"] is False


def test_a_killed_run_resumes_to_the_same_records(tmp_path):
    """kill -9 in the middle, run again: the same records as an uninterrupted run, none twice."""
    rows = [dict(r, id=f"{r['id']}/{k}") for k in range(8) for r in data.load_traces()]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    cmd = [sys.executable, "-m", "leancot.cli", "prune", str(path), "--out", str(tmp_path / "killed")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = tmp_path / "killed" / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or records.stat().st_size < 20_000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert records.exists(), "the run did not start writing in time"
    resumed = run(PruneConfig(input=path, out=tmp_path / "killed"))
    whole = run(PruneConfig(input=path, out=tmp_path / "whole"))
    for name in ("records.jsonl", "rejects.jsonl"):
        got = read_jsonl(resumed / name)
        assert len({r["id"] for r in got}) == len(got)  # nothing written twice
        assert sorted(got, key=lambda r: r["id"]) == sorted(read_jsonl(whole / name), key=lambda r: r["id"])
