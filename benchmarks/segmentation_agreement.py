"""Our step decomposition and pruning vs the annotator's chunks of the 40 real traces.

    PYTHONPATH=src python benchmarks/segmentation_agreement.py

Prints, over all 40 traces (pooled):
- boundary precision/recall/F1 of our *steps* and of our *sentence units* against the
  annotator's sentence chunks (non-space character offsets, tolerance 3);
- label agreement (accuracy, Cohen's kappa) of our step skills mapped onto their 8 tags
  (``leancot.prune.agreement.SKILL_TO_TAG``), and of our labeller run on each chunk's own text;
- how the pruner's keep/delete lines up with their dependency graph and importance scores.
"""

from __future__ import annotations

import math
from collections import Counter

from prune_quality import load

from leancot.prune.agreement import SKILL_TO_TAG, boundary_scores, cohen_kappa, compare
from leancot.prune.heuristic import prune_trace
from leancot.prune.segment import units
from leancot.prune.skills import label


def main() -> None:
    rows = load()
    step_b = Counter()
    sent_b = Counter()
    label_rows, imp = [], []
    chunk_ours, chunk_theirs = [], []
    confusion: Counter = Counter()
    for r in rows:
        steps, _ = prune_trace(r["reasoning"], r["answer"], r["problem"])
        res = compare(steps, r["chunks"])
        for k in ("ours", "theirs", "matched"):
            step_b[k] += res["boundaries"][k]
        # sentence units against chunks: the same scoring, one unit per "step"
        text = r["reasoning"]
        nonspace_before = [0] * (len(text) + 1)
        for i, ch in enumerate(text):
            nonspace_before[i + 1] = nonspace_before[i] + (not ch.isspace())
        offsets = [nonspace_before[s] for s, _, _ in units(text)][1:]
        chunk_offsets, acc = [], 0
        for c in r["chunks"]:
            chunk_offsets.append(acc)
            acc += len("".join(c["text"].split()))
        sb = boundary_scores(offsets, chunk_offsets[1:])
        for k in ("ours", "theirs", "matched"):
            sent_b[k] += sb[k]
        label_rows.append(res["labels"])
        confusion.update(res["labels"]["confusion"])
        imp.append(res["importance"])
        n = max(len(r["reasoning"]), 1)
        for c in r["chunks"]:
            if c.get("function_tags"):
                start = r["reasoning"].find(c["text"][:40])
                chunk_ours.append(SKILL_TO_TAG[label(c["text"], position=max(start, 0) / n, question=r["problem"])])
                chunk_theirs.append(c["function_tags"][0])

    def prf(b: Counter) -> str:
        p, rec = b["matched"] / b["ours"], b["matched"] / b["theirs"]
        return f"precision {p:.1%}  recall {rec:.1%}  F1 {2 * p * rec / (p + rec):.1%}  (ours {b['ours']}, theirs {b['theirs']})"

    print(f"{len(rows)} traces, {sum(len(r['chunks']) for r in rows)} annotator chunks")
    print(f"\nBoundaries, steps vs chunks (tolerance 3 chars): {prf(step_b)}")
    print(f"Boundaries, sentence units vs chunks:           {prf(sent_b)}")
    total = sum(x["n"] for x in label_rows)
    acc = sum(x["accuracy"] * x["n"] for x in label_rows) / total
    print(
        f"\nLabels, step skill -> tag, per chunk: accuracy {acc:.1%} over {total} chunks "
        f"(mean per-trace kappa {sum(x['kappa'] for x in label_rows) / len(label_rows):.3f})"
    )
    ok = sum(a == b for a, b in zip(chunk_ours, chunk_theirs))
    print(
        f"Labels, our labeller on each chunk's text:  accuracy {ok / len(chunk_ours):.1%}, "
        f"kappa {cohen_kappa(chunk_ours, chunk_theirs):.3f} over {len(chunk_ours)} chunks"
    )
    print("\nConfusion (theirs -> ours, step labels), largest cells:")
    for (theirs, ours), n in confusion.most_common(12):
        print(f"  {theirs:<24} -> {ours:<24} {n:>5}")
    print("\nPruner vs annotator importance (chunk kept = > half its characters in non-deleted steps)")
    for key, nkey in (("kept_all", None), ("kept_depended_on", "n_depended_on"), ("kept_answer_closure", "n_answer_closure")):
        vals = [(d[key], d[nkey] if nkey else 1) for d in imp if not math.isnan(d[key])]
        mean = sum(v * n for v, n in vals) / sum(n for _, n in vals)
        print(f"  {key:<22} {mean:.1%}" + (f"  ({sum(n for _, n in vals)} chunks)" if nkey else ""))
    kept = [d["mean_cf_importance_kept"] for d in imp if not math.isnan(d["mean_cf_importance_kept"])]
    dele = [d["mean_cf_importance_deleted"] for d in imp if not math.isnan(d["mean_cf_importance_deleted"])]
    print(
        f"  mean counterfactual importance: kept chunks {sum(kept) / len(kept):+.4f}, "
        f"deleted chunks {sum(dele) / len(dele):+.4f} (mean of per-trace means)"
    )


if __name__ == "__main__":
    main()
