"""Are the pruned paths complete derivations? Per pruner, on the hand-annotated trap set and the real traces.

    PYTHONPATH=src python benchmarks/path_faithfulness.py [--pruners heuristic,first-answer,perplexity] [--show N]

**Trap set** (``leancot.data.traps``: GSM8K-style verbose traces written for this check, each with the
computations a faithful path needs annotated by hand, their dependencies and what the trace
retracts). Each pruner runs through the real prune stage (verification and repair included). A
path is *complete* when every required computation is in it, each after the ones it uses, and no
retracted computation is. This is judged from the annotations alone, never by leancot's own
derivation check, so it measures that check too. Printed per pruner:

- complete paths among the records (target >= 95% for heuristic and first-answer);
- token reduction over the records (target: heuristic >= 60%);
- correct traces kept as verified records (target: first-answer >= 95%);
- verified records that fail the annotation check (target: 0);
- the same completeness for the pruner's raw output before the stage's check and repair
  (``unchecked``): what the check catches.

**Real traces** (the 20 correct R1-Distill traces on MATH level 5, not annotated by us): records,
token reduction, answers kept, paths repaired, and, as an independent view, how many of the
computations on the real annotator's dependency chain of the answer (the trace's ``chunks``:
``depends_on`` from the chunk that emits the final answer) the path keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from leancot import data
from leancot.io import read_jsonl, write_jsonl_atomic
from leancot.prune.annotations import complete
from leancot.prune.arithmetic import computations


def annotated_complete(path: str, trap: dict[str, Any]) -> tuple[bool, str]:
    return complete(path, trap["required"], trap.get("retracted", []))


def _run(rows: list[dict[str, Any]], method: str, tmp: Path, **settings: Any) -> tuple[list[dict], list[dict]]:
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run

    src = tmp / "input.jsonl"
    if not src.exists():
        write_jsonl_atomic(src, rows)
    out = run(PruneConfig(input=src, out=tmp / method, method=method, **settings))
    rejects = read_jsonl(out / "rejects.jsonl") if (out / "rejects.jsonl").exists() else []
    return read_jsonl(out / "records.jsonl"), rejects


def _raw_paths(rows: list[dict[str, Any]], method: str, scorer: str) -> dict[str, str]:
    """The pruner's own paths, before the stage's check and repair (the ``heuristic-unchecked`` view)."""
    from leancot.prune.config import PruneConfig
    from leancot.prune.registry import make

    options = {"perplexity": {"scorer": scorer}} if method == "perplexity" else {}
    pruner = make(method, PruneConfig.model_validate({"input": __file__, "out": "unused", "method": method, "workers": 1, **options}))
    out = {}
    for row in rows:
        trace = data.bundled_trace({**row, "problem": row["question"], "is_correct": True, "gt_answer": row["answer"]})
        try:
            out[row["id"]] = asyncio.run(pruner.prune(trace)).pruned
        except Exception as e:  # noqa: BLE001 - a reject is no path
            out[row["id"]] = f"<{type(e).__name__}>"
    return out


def traps_table(pruners: list[str], scorer: str, show: int, name: str = "main") -> None:
    from leancot.data.traps import load_traps

    traps = load_traps(name)
    correct = [t for t in traps if t["correct"]]
    rows = [{"id": t["id"], "question": t["question"], "completion": t["completion"], "answer": t["gold_answer"]} for t in traps]
    by_id = {t["id"]: t for t in traps}
    print(f"\n## Trap set {name!r}: {len(traps)} GSM8K-style traces ({len(correct)} correct)\n")
    print("| pruner | records | complete paths | token reduction | correct traces kept | verified but incomplete | unchecked: complete |")
    print("|---|---|---|---|---|---|---|")
    for method in pruners:
        settings = {"perplexity": {"scorer": scorer}} if method == "perplexity" else {}
        with tempfile.TemporaryDirectory() as tmp:
            records, rejects = _run(rows, method, Path(tmp), workers=1, **settings)
        records = [r for r in records if by_id[r["id"]]["correct"]]
        judged = {r["id"]: annotated_complete(r["pruned"], by_id[r["id"]]) for r in records}
        complete = sum(ok for ok, _ in judged.values())
        before, after = sum(r["tokens_before"] for r in records), sum(r["tokens_after"] for r in records)
        kept = sum(r["verified"] for r in records)
        bad = [r["id"] for r in records if r["verified"] and not judged[r["id"]][0]]
        raw: dict[str, str] = {}
        if method != "perplexity":  # a second pass of a 135M scorer over every trace: too slow to be worth it here
            raw = _raw_paths([row for row in rows if by_id[row["id"]]["correct"]], method, scorer)
        raw_ok = sum(annotated_complete(p, by_id[i])[0] for i, p in raw.items())
        print(f"| {method} | {len(records)} | {complete}/{len(records)} ({complete / max(len(records), 1):.1%}) | "
              f"{1 - after / max(before, 1):.1%} ({before:,} -> {after:,}) | {kept}/{len(correct)} ({kept / len(correct):.1%}) | "
              f"{len(bad)} | " + (f"{raw_ok}/{len(raw)} ({raw_ok / len(raw):.1%}) |" if raw else "– |"))  # fmt: skip
        for i, (ok, why) in [(i, j) for i, j in judged.items() if not j[0]][:show]:
            print(f"    incomplete {i}: {why}")
        reasons: dict[str, int] = {}
        for r in rejects:
            if by_id[r["id"]]["correct"]:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        if reasons:
            print(f"    rejects of correct traces: {reasons}")
        for r in [r for r in rejects if by_id[r["id"]]["correct"]][:show]:
            print(f"    reject {r['id']}: {r['detail'][:160]}")


def _annotator_chain(row: dict[str, Any]) -> list[str]:
    """The computations of the chunks the real annotator says the final answer depends on (transitively)."""
    chunks = row["chunks"]
    final = next((i for i, c in enumerate(chunks) if "final_answer_emission" in c["function_tags"]), len(chunks) - 1)
    seen, stack = set(), [final]
    while stack:
        i = stack.pop()
        if i in seen or not 0 <= i < len(chunks):
            continue
        seen.add(i)
        stack.extend(int(d) for d in chunks[i]["depends_on"] if str(d).isdigit())
    return [chunks[i]["text"] for i in sorted(seen) if "active_computation" in chunks[i]["function_tags"]]


def real_table(pruners: list[str], scorer: str) -> None:
    rows = [r for r in read_jsonl(data.traces_path()) if r["is_correct"]]
    by_id = {r["id"]: r for r in rows}
    print(f"\n## Real traces: {len(rows)} correct R1-Distill traces (MATH level 5)\n")
    print("| pruner | records | token reduction | answers kept | repaired | annotator's chain computations kept |")
    print("|---|---|---|---|---|---|")
    for method in pruners:
        settings = {"perplexity": {"scorer": scorer}} if method == "perplexity" else {}
        with tempfile.TemporaryDirectory() as tmp:
            records, _ = _run(rows, method, Path(tmp), workers=1, **settings)
        before, after = sum(r["tokens_before"] for r in records), sum(r["tokens_after"] for r in records)
        kept = sum(r["verified"] for r in records)
        want = have = 0
        for r in records:
            keys = {c.key for c in computations(r["pruned"])}
            for text in _annotator_chain(by_id[r["id"]]):
                for c in computations(text):
                    want += 1
                    have += c.key in keys
        print(f"| {method} | {len(records)} | {1 - after / max(before, 1):.1%} ({before:,} -> {after:,}) | {kept}/{len(rows)} | "
              f"{sum(bool(r.get('restored')) for r in records)} | {have}/{want} ({have / max(want, 1):.1%}) |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pruners", default="heuristic,first-answer", help="comma-separated offline pruners")
    ap.add_argument("--scorer", default="smollm2-135m", help="the perplexity pruner's scorer")
    ap.add_argument("--show", type=int, default=3, help="incomplete paths and rejects to list per pruner")
    ap.add_argument("--sets", default="traps,heldout,heldout2,real", help="traps (the main trap set), heldout, heldout2, real")
    args = ap.parse_args()
    pruners = [p for p in args.pruners.split(",") if p]
    for name, key in (("main", "traps"), ("heldout", "heldout"), ("heldout2", "heldout2")):
        if key in args.sets.split(","):
            traps_table(pruners, args.scorer, args.show, name)
    if "real" in args.sets:
        real_table(pruners, args.scorer)


if __name__ == "__main__":
    main()
