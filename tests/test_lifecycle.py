"""The one stage lifecycle (``leancot.manifest.stage_run``), rule by rule, as a user meets it.

Two runs on one directory, a failed run then the corrected one, Ctrl-C and SIGTERM, the exit
codes, and commands given a directory of the wrong stage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from leancot import data
from leancot.cli import app
from leancot.errors import StageFailed, UsageError
from leancot.io import read_jsonl
from leancot.manifest import stage_run
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run

runner = CliRunner()
GOOD = {
    "id": "t1",
    "question": "Tom has 3 apples and buys 4 more. How many apples?",
    "completion": "<think>\nTom has 3 apples. He buys 4 more, so 3 + 4 = 7.\n</think>\nThe answer is \\boxed{7}.",
    "gold_answer": "7",
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def many_traces(path: Path, copies: int) -> Path:
    return write_jsonl(path, [dict(r, id=f"{r['id']}/{k}") for k in range(copies) for r in data.load_traces()])


def start_prune(inp: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "leancot.cli", "prune", str(inp), "--out", str(out)]
    # A shell's background job inherits SIGINT ignored (and Python then keeps ignoring it), so a
    # suite started with `make test &` would see Ctrl-C do nothing: give the child the default.
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate(), "timed out"


def lines(path: Path) -> int:
    return sum(1 for line in open(path) if line.strip()) if path.exists() else 0


# --------------------------------------------------------------------------- one directory, two runs


def test_a_second_run_on_a_directory_in_use_exits_2_naming_it_and_the_holder(tmp_path):
    inp, out = many_traces(tmp_path / "in.jsonl", 6), tmp_path / "out"
    first = start_prune(inp, out)
    wait_for(lambda: lines(out / "records.jsonl") + lines(out / "rejects.jsonl") > 5)
    second = runner.invoke(app, ["prune", str(inp), "--out", str(out)])
    assert first.wait(timeout=300) == 0
    assert second.exit_code == 2
    assert str(out) in second.output and f"pid {first.pid}" in second.output
    got = read_jsonl(out / "records.jsonl") + read_jsonl(out / "rejects.jsonl")
    assert len(got) == len({r["id"] for r in got}) == 240  # every row once: the second run wrote nothing
    assert json.loads((out / "manifest.json").read_text())["counts"]["input"] == 240


def test_a_lock_dies_with_its_process(tmp_path):
    """kill -9 releases the lock: the next run resumes instead of waiting on a stale lock."""
    inp, out = many_traces(tmp_path / "in.jsonl", 4), tmp_path / "out"
    first = start_prune(inp, out)
    wait_for(lambda: lines(out / "records.jsonl") > 3)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    run(PruneConfig(input=inp, out=out))
    assert lines(out / "records.jsonl") + lines(out / "rejects.jsonl") == 160


def test_two_evals_into_one_directory_cannot_interleave(tmp_path):
    with stage_run(tmp_path / "ev", "eval", {}, {}) as held:
        assert not held.skipped
        with pytest.raises(UsageError, match=r"in use by another leancot run \(pid \d+\)"):
            with stage_run(tmp_path / "ev", "eval", {}, {}):
                pass


class Item(BaseModel):
    id: str


def test_a_resumed_run_adds_its_time_to_the_runs_before_it(tmp_path):
    def one_record(key: str, pause: float) -> None:
        with stage_run(tmp_path / "ev", "eval", {}, {}, skip_complete=False) as run:
            out = run.output()
            time.sleep(pause)
            out.add(Item(id=key))
            out.close()
            run.complete({"input": 2, "records": run.done(), "rejects": 0})

    one_record("a", 0.3)
    first = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    one_record("b", 0.0)  # a resume: this run's own time is short, the total is not
    second = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert first["wall_seconds"]["total"] == first["wall_seconds"]["run"] >= 0.3
    assert second["wall_seconds"]["run"] < 0.3 <= first["wall_seconds"]["run"] <= second["wall_seconds"]["total"]


def test_usage_is_this_runs_and_every_runs_and_an_old_manifest_is_read_in_the_one_schema(tmp_path):
    from leancot import manifest

    def spend(key: str, cost: float) -> dict:
        with stage_run(tmp_path / "gen", "generate", {}, {}, skip_complete=False) as run:
            out = run.output()
            out.add(Item(id=key))
            out.close()
            run.complete({"input": 3, "records": run.done(), "rejects": 0}, status="incomplete", usage={"calls": 1, "cost_usd": cost})
        return manifest.read(tmp_path / "gen")

    spend("a", 0.25)
    resumed = spend("b", 0.5)  # a resumed run: what it spent, and what the whole run spent
    assert resumed["usage"]["run"]["cost_usd"] == 0.5 and resumed["usage"]["total"] == {
        **resumed["usage"]["total"],
        "calls": 2,
        "cost_usd": 0.75,
    }
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"stage": "eval", "status": "complete", "fingerprint": "f", "config": {"shard": [1, 4]},
                                                   "wall_seconds": 2.0, "wall_seconds_total": 5.0, "usage": {"calls": 3}, "usage_total": {"calls": 7}}))  # fmt: skip
    m = manifest.read(old)
    assert (m["wall_seconds"], m["shard"]) == ({"run": 2.0, "total": 5.0}, {"index": 1, "of": 4})
    assert (m["usage"]["run"]["calls"], m["usage"]["total"]["calls"]) == (3, 7)
    (old / "manifest.json").write_text(json.dumps({"stage": "eval", "wall_seconds": "two"}))  # a figure that is no figure
    with pytest.raises(UsageError, match="re-run the stage with --overwrite"):
        manifest.read(old)


# --------------------------------------------------------------------------- failures


def test_a_usage_error_leaves_the_directory_as_if_it_had_not_run(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"q": GOOD["question"], "completion": GOOD["completion"]}])
    out = tmp_path / "out"
    bad = runner.invoke(app, ["prune", str(inp), "--out", str(out)])
    assert bad.exit_code == 2 and "no question field" in bad.output
    assert not out.exists()
    fixed = runner.invoke(app, ["prune", str(inp), "--out", str(out), "--question-field", "q"])
    assert fixed.exit_code == 0, fixed.output
    assert lines(out / "records.jsonl") == 1


def test_a_run_that_wrote_nothing_in_an_existing_directory_removes_only_its_own_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    inp = write_jsonl(tmp_path / "in.jsonl", [{"q": "x", "completion": "y"}])
    assert runner.invoke(app, ["prune", str(inp), "--out", str(out)]).exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_every_row_rejected_is_exit_1_with_the_reasons_counted(tmp_path):
    wrong = dict(GOOD, gold_answer="8")
    inp = write_jsonl(tmp_path / "in.jsonl", [wrong, dict(wrong, id="t2"), dict(GOOD, id="t3", completion="")])
    result = runner.invoke(app, ["prune", str(inp), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert "0 records from 3 input rows" in last and "incorrect_trace 2" in last and "missing_completion 1" in last
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"


def test_a_failed_run_is_started_over_by_the_next_one(tmp_path):
    wrong = write_jsonl(tmp_path / "in.jsonl", [dict(GOOD, gold_answer="8")])
    with pytest.raises(StageFailed):
        run(PruneConfig(input=wrong, out=tmp_path / "out"))
    run(PruneConfig(input=wrong, out=tmp_path / "out", require_correct=False, on_fail="keep"))  # another config: fine, nothing was kept
    assert lines(tmp_path / "out" / "records.jsonl") == 1 and lines(tmp_path / "out" / "rejects.jsonl") == 0


def test_an_empty_input_is_exit_2_unless_allowed(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    refused = runner.invoke(app, ["prune", str(empty), "--out", str(tmp_path / "a")])
    assert refused.exit_code == 2 and "input has no rows" in refused.output
    allowed = runner.invoke(app, ["prune", str(empty), "--out", str(tmp_path / "b"), "--allow-empty"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["status"] == "complete"


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_says_how_far_it_got_and_how_to_resume(tmp_path, sig, code):
    inp, out = many_traces(tmp_path / "in.jsonl", 5), tmp_path / "out"
    proc = start_prune(inp, out)
    wait_for(lambda: lines(out / "records.jsonl") > 5)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code
    message = stderr.strip().splitlines()[-1]
    assert "interrupted at" in message and "of 200" in message and "re-run the same command to resume" in message
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    run(PruneConfig(input=inp, out=out))
    got = read_jsonl(out / "records.jsonl") + read_jsonl(out / "rejects.jsonl")
    assert len(got) == len({r["id"] for r in got}) == 200


# --------------------------------------------------------------------------- the wrong directory


@pytest.fixture
def prune_dir(tmp_path):
    return run(PruneConfig(input=write_jsonl(tmp_path / "in.jsonl", [GOOD]), out=tmp_path / "pruned"))


def test_compare_on_a_prune_directory_is_one_line_exit_2(prune_dir):
    result = runner.invoke(app, ["compare", str(prune_dir), str(prune_dir)])
    assert result.exit_code == 2 and "is a prune output, not an eval output" in result.output
    assert "Traceback" not in result.output


def test_stats_on_an_eval_directory_is_one_line_exit_2(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "manifest.json").write_text(json.dumps({"stage": "eval"}))
    (ev / "records.jsonl").write_text(json.dumps({"benchmark": "gsm8k", "problem_id": "1"}) + "\n")
    result = runner.invoke(app, ["stats", str(ev)])
    assert result.exit_code == 2 and "is a eval output, not a prune output" in result.output.replace("an eval", "a eval")


def test_report_on_an_empty_directory_is_one_line_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 2 and "no run found" in result.output and "Traceback" not in result.output
