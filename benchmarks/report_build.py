"""How long ``leancot report`` takes and how large report.html gets, on the 40 bundled real R1 traces.

Prunes the bundled traces (``leancot prune``, resumable) into a temp dir, then builds the report
with the trace viewer holding 0 records and all of them, and prints the build time of each and
the bytes each viewer record adds to the file (what ``--max-records`` trades against).

    python benchmarks/report_build.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from leancot import data
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run as prune
from leancot.report.config import ReportConfig
from leancot.report.stage import run as report


def build(prune_dir: Path, out: Path, max_records: int, repeat: int) -> tuple[float, int]:
    """(best wall seconds of ``repeat`` builds, bytes of report.html)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        path = report(ReportConfig(runs=[prune_dir], out=out, max_records=max_records))
        best = min(best, time.perf_counter() - t0)
    return best, path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prune_dir = prune(PruneConfig(input=data.traces_path(), out=Path(tmp) / "prune"))
        n = int(json.loads((prune_dir / "manifest.json").read_text())["counts"]["records"])
        t_none, size_none = build(prune_dir, Path(tmp) / "r0", 0, args.repeat)
        t_all, size_all = build(prune_dir, Path(tmp) / "rall", n, args.repeat)
    print(f"pruned records: {n}")
    print(f"report without viewer records: {t_none:.2f} s, {size_none / 1024:.0f} KiB")
    print(f"report with all {n} records:   {t_all:.2f} s, {size_all / 1024:.0f} KiB")
    print(f"bytes per viewer record: {(size_all - size_none) / n / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
