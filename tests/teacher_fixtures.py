"""Shared helpers of the teacher tests: small synthetic traces (the loopback server is a conftest fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SECRET = "sk-test-DO-NOT-LEAK-4f2a9c"


def trace_row(i: int) -> dict:
    """A short R1-style trace whose answer is a + b, with hesitation to prune."""
    a, b = 10 + i, 3 + 2 * i
    return {
        "id": f"t{i}",
        "question": f"Tom has {a} apples and buys {b} more. How many apples does he have?",
        "completion": f"<think>\nOkay, so Tom has {a} apples. Hmm, let me think. He buys {b} more, so {a} + {b} = {a + b}.\n"
        f"Wait, let me double-check: {a} + {b} = {a + b}. Yes.\n</think>\nThe answer is \\boxed{{{a + b}}}.",
        "gold_answer": str(a + b),
    }


def write_traces(path: Path, n: int, extra: list[dict] | None = None) -> Path:
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps(trace_row(i)) + "\n")
        for row in extra or []:
            f.write(json.dumps(row) + "\n")
    return path


def by_id(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    out = {r["id"]: r for r in rows}
    assert len(out) == len(rows), "an id was written twice"
    return out


def kill_9_after(inp: Path, out: Path, base_url: str, *, records: int) -> None:
    """``prune --method llm`` in a subprocess (concurrency 2), killed with SIGKILL once it wrote ``records`` records."""
    code = (
        f"from leancot.prune.config import PruneConfig; from leancot.prune.stage import run; from leancot.prune.teacher.config import TeacherConfig; "
        f"run(PruneConfig(input={str(inp)!r}, out={str(out)!r}, method='llm', "
        f"teacher=TeacherConfig(model='gpt-4o-mini', base_url={base_url!r}, concurrency=2)))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not (out / "records.jsonl").exists() or len(by_id(out / "records.jsonl")) < records):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
