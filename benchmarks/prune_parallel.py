"""Parallel pruning: traces/s with 1 and N worker processes in one go, identical bytes, memory.

    python benchmarks/prune_parallel.py [--traces 2000] [--workers 2] [--memory-traces 10000]

Builds an input of real R1-Distill traces cut to about 2,000 tokens each (the 40 bundled
traces, repeated with new ids), runs ``leancot prune`` on it as a user would (a subprocess)
with ``--workers 1`` and ``--workers N`` back to back, and prints wall time, traces/s, the
ratio, and whether the records are byte-identical. Then a ``--memory-traces`` run (one worker)
samples the resident memory of the process tree: the peak while the pruning loop runs, and
the peak of the whole command (the summary and the stats table at the end included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from leancot import data, grading

CHARS_PER_TOKEN = 3.6  # about what the SmolLM2 tokenizer gives on these traces


def build_input(path: Path, n: int) -> Path:
    base = []
    for r in data.load_traces():
        reasoning, final, _ = grading.split_think(r["completion"])
        cut = reasoning[: int(2000 * CHARS_PER_TOKEN)]
        cut = cut[: cut.rfind("\n") + 1] or cut
        base.append({"question": r["problem"], "completion": f"<think>\n{cut}\n</think>\n{final}", "gold_answer": r["gt_answer"]})
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(dict(base[i % len(base)], id=f"t{i}")) + "\n")
    return path


def lines(path: Path) -> int:
    return sum(1 for _ in open(path, "rb")) if path.exists() else 0


def run_prune(inp: Path, out: Path, workers: int, total: int) -> dict[str, float]:
    """One ``leancot prune`` run; wall time, and the resident memory of its process tree."""
    cmd = [sys.executable, "-m", "leancot.cli", "prune", str(inp), "--out", str(out), "--workers", str(workers), "--allow-incorrect"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "LEANCOT_NO_PROGRESS": "1"})
    root = psutil.Process(proc.pid)
    loop_peak = peak = 0.0
    loop_done_at = None
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
        except psutil.Error:
            rss = 0.0
        peak = max(peak, rss)
        if loop_done_at is None:
            if lines(out / "records.jsonl") + lines(out / "rejects.jsonl") >= total:
                loop_done_at = time.perf_counter() - start
            else:
                loop_peak = max(loop_peak, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"leancot prune exited {proc.returncode}")
    return {"wall": wall, "loop_s": loop_done_at or wall, "loop_peak_mib": loop_peak, "peak_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-traces", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inp = build_input(tmp / "in.jsonl", args.traces)
        one = run_prune(inp, tmp / "w1", 1, args.traces)
        many = run_prune(inp, tmp / f"w{args.workers}", args.workers, args.traces)
        same = all((tmp / "w1" / f).read_bytes() == (tmp / f"w{args.workers}" / f).read_bytes() for f in ("records.jsonl", "rejects.jsonl"))
        print(f"{args.traces} traces of ~2,000 tokens")
        print(f"--workers 1: {one['wall']:.1f} s, {args.traces / one['wall']:.1f} traces/s")
        print(f"--workers {args.workers}: {many['wall']:.1f} s, {args.traces / many['wall']:.1f} traces/s")
        print(f"speed-up {one['wall'] / many['wall']:.2f}x (target >= 1.8x on 2 cores); records byte-identical: {same}")
        big = build_input(tmp / "big.jsonl", args.memory_traces)
        mem = run_prune(big, tmp / "big", 1, args.memory_traces)
        print(
            f"{args.memory_traces} traces, --workers 1: loop done at {mem['loop_s']:.1f} s of {mem['wall']:.1f} s; "
            f"peak RSS during the loop {mem['loop_peak_mib']:.0f} MiB, whole command {mem['peak_mib']:.0f} MiB "
            f"= {mem['peak_mib'] / max(mem['loop_peak_mib'], 1):.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
