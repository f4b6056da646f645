"""``--method first-answer`` on the 20 correct real R1-Distill traces: tokens, answers, where the cut falls.

    PYTHONPATH=src python benchmarks/first_answer.py

Runs the prune stage (``leancot.prune.stage``: verification and the self-containedness step
included) with ``--method first-answer`` and, for comparison, ``heuristic``, and prints per
method the token totals, the answers kept (verified records with the trace's answer), and the
distribution of the cut (share of the reasoning's characters up to the end of the step that
first derives the answer).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from leancot import data
from leancot.io import read_jsonl, write_jsonl_atomic


def main() -> None:
    from leancot.prune.config import PruneConfig
    from leancot.prune.first_answer import answer_position
    from leancot.prune.stage import run

    rows = [r for r in read_jsonl(data.traces_path()) if r["is_correct"]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "correct.jsonl"
        write_jsonl_atomic(path, rows)
        for method in ("first-answer", "heuristic"):
            out = run(PruneConfig(input=path, out=Path(tmp) / method, method=method))
            records = read_jsonl(out / "records.jsonl")
            rejects = read_jsonl(out / "rejects.jsonl") if (out / "rejects.jsonl").exists() else []
            before, after = sum(r["tokens_before"] for r in records), sum(r["tokens_after"] for r in records)
            print(
                f"{method}: {len(rows)} traces -> {len(records)} records ({sum(r['verified'] for r in records)} verified, "
                f"{len(rejects)} rejects); tokens {before:,} -> {after:,} ({1 - after / before:.1%} fewer); "
                f"answers kept {sum(r['verified'] for r in records)}/{len(rows)}; "
                f"self-containedness repaired {sum(bool(r.get('restored')) for r in records)}"
            )
            if method == "first-answer":
                cuts = sorted(r.get("cut_at") or answer_position(r["original"], r["answer"], r["question"]) for r in records)
                print(
                    f"  cut at median {statistics.median(cuts):.1%} of the reasoning (quartiles {cuts[len(cuts) // 4]:.1%}-"
                    f"{cuts[3 * len(cuts) // 4]:.1%}, range {cuts[0]:.1%}-{cuts[-1]:.1%}); per trace: " + " ".join(f"{c:.0%}" for c in cuts)
                )


if __name__ == "__main__":
    main()
