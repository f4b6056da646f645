"""Agreement of our steps with an annotator's sentence chunks (the real traces' ``chunks``).

Positions are offsets in the trace's *non-space* characters, so our steps (stripped
slices) and the annotator's chunks (re-spaced sentences) share one coordinate system.

Label mapping, our skill -> the annotator's 8 function tags (thought-anchors taxonomy):

==================== ======================== =============================================
ours                 theirs                   why
==================== ======================== =============================================
problem_setup        problem_setup            same notion
restatement          problem_setup            they tag re-reading the problem as setup
planning             plan_generation          same notion
case_analysis        plan_generation          opening a case decides how to proceed
fact_retrieval       fact_retrieval           same notion
computation          active_computation       same notion
formula_application  active_computation       substituting into a formula is computing
verification         self_checking            same notion
self_correction      uncertainty_management   they tag backtracking/revising there
hesitation           uncertainty_management   doubt, "wait", "hmm"
result_consolidation result_consolidation     same notion
final_answer         final_answer_emission    same notion
==================== ======================== =============================================
"""

from __future__ import annotations

import bisect
import math
from collections import Counter

from leancot.schema import Step

SKILL_TO_TAG: dict[str, str] = {
    "problem_setup": "problem_setup",
    "restatement": "problem_setup",
    "planning": "plan_generation",
    "case_analysis": "plan_generation",
    "fact_retrieval": "fact_retrieval",
    "computation": "active_computation",
    "formula_application": "active_computation",
    "verification": "self_checking",
    "self_correction": "uncertainty_management",
    "hesitation": "uncertainty_management",
    "result_consolidation": "result_consolidation",
    "final_answer": "final_answer_emission",
}


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _spans(texts: list[str], stream: str) -> list[tuple[int, int] | None]:
    """Where each text lies in the non-space ``stream``, searched in order (None: not found)."""
    out: list[tuple[int, int] | None] = []
    pos = 0
    for t in texts:
        t = _squeeze(t)
        i = stream.find(t, pos) if t else -1
        if i < 0:
            out.append(None)
            continue
        out.append((i, i + len(t)))
        pos = i + len(t)
    return out


def boundary_scores(ours: list[int], theirs: list[int], tolerance: int = 3) -> dict[str, float]:
    """Precision/recall/F1 of boundary offsets ``ours`` against ``theirs`` (one-to-one, within ``tolerance``)."""
    theirs = sorted(theirs)
    used = [False] * len(theirs)
    hits = 0
    for b in sorted(ours):
        k = bisect.bisect_left(theirs, b - tolerance)
        while k < len(theirs) and theirs[k] <= b + tolerance:
            if not used[k]:
                used[k] = True
                hits += 1
                break
            k += 1
    p = hits / len(ours) if ours else 0.0
    r = hits / len(theirs) if theirs else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "ours": len(ours),
        "theirs": len(theirs),
        "matched": hits,
    }


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two equally long label sequences (nan when undefined)."""
    n = len(a)
    if n == 0:
        return math.nan
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else math.nan


def compare(steps: list[Step], chunks: list[dict], tolerance: int = 3) -> dict:
    """Our steps vs the annotator's chunks of the same trace.

    Returns a dict with:

    - ``boundaries``: precision/recall/F1 of our step starts vs chunk starts (non-space
      character offsets, ``tolerance`` characters either way). Our steps group several
      sentences, so precision is the meaningful half: recall is bounded by how coarse steps are.
    - ``labels``: per chunk, our label (the skill covering most of the chunk, mapped by
      ``SKILL_TO_TAG``) vs its first function tag: ``accuracy`` and ``kappa``; plus
      ``accuracy_chars`` weighted by chunk length, and a ``confusion`` Counter of (theirs, ours).
    - ``importance``: which chunks our pruner keeps (more than half of the chunk's characters
      in steps whose action is not ``delete``): ``kept_all``; ``kept_depended_on`` (chunks a
      later chunk lists in ``depends_on``); ``kept_answer_closure`` (chunks in the dependency
      closure of the final_answer_emission chunks); ``mean_cf_importance_kept`` /
      ``_deleted`` (mean ``counterfactual_importance_accuracy`` of kept vs deleted chunks).
    """
    stream = _squeeze("".join(s.text for s in steps))
    step_spans = _spans([s.text for s in steps], stream)
    chunk_spans = _spans([c.get("text", "") for c in chunks], stream)
    ours = [sp[0] for sp in step_spans[1:] if sp]
    theirs = [sp[0] for sp in chunk_spans[1:] if sp]
    result = {
        "boundaries": boundary_scores(ours, theirs, tolerance),
        "chunks_found": sum(sp is not None for sp in chunk_spans),
        "chunks": len(chunks),
    }
    # per-character arrays of our skill and kept flag, by step
    starts = [sp[0] for sp in step_spans if sp]
    placed = [(sp, s) for sp, s in zip(step_spans, steps) if sp]
    ours_lab, theirs_lab, weights, kept = [], [], [], []
    for c, sp in zip(chunks, chunk_spans):
        if sp is None or not c.get("function_tags"):
            kept.append(None)
            continue
        cover: Counter[str] = Counter()
        kept_chars = 0
        k = max(0, bisect.bisect_right(starts, sp[0]) - 1)
        while k < len(placed) and placed[k][0][0] < sp[1]:
            (a, b), step = placed[k]
            overlap = min(b, sp[1]) - max(a, sp[0])
            if overlap > 0:
                cover[step.skill] += overlap
                kept_chars += overlap if step.action != "delete" else 0
            k += 1
        if not cover:
            kept.append(None)
            continue
        ours_lab.append(SKILL_TO_TAG.get(cover.most_common(1)[0][0], "other"))
        theirs_lab.append(c["function_tags"][0])
        weights.append(sp[1] - sp[0])
        kept.append(kept_chars * 2 > sp[1] - sp[0])
    agree = [x == y for x, y in zip(ours_lab, theirs_lab)]
    result["labels"] = {
        "accuracy": sum(agree) / len(agree) if agree else math.nan,
        "accuracy_chars": sum(w for w, ok in zip(weights, agree) if ok) / sum(weights) if weights else math.nan,
        "kappa": cohen_kappa(ours_lab, theirs_lab),
        "n": len(agree),
        "confusion": Counter(zip(theirs_lab, ours_lab)),
    }
    result["importance"] = _importance(chunks, kept)
    return result


def _importance(chunks: list[dict], kept: list[bool | None]) -> dict:
    """How the pruner's keep/delete lines up with the annotator's dependency graph and scores."""
    depended = {d for c in chunks for d in c.get("depends_on") or [] if isinstance(d, int) or str(d).isdigit()}
    depended = {int(d) for d in depended}
    closure: set[int] = set()
    stack = [i for i, c in enumerate(chunks) if "final_answer_emission" in (c.get("function_tags") or [])]
    while stack:
        i = stack.pop()
        if i in closure or not 0 <= i < len(chunks):
            continue
        closure.add(i)
        stack.extend(int(d) for d in chunks[i].get("depends_on") or [] if str(d).isdigit())

    def frac(idx) -> float:
        vals = [kept[i] for i in idx if 0 <= i < len(kept) and kept[i] is not None]
        return sum(vals) / len(vals) if vals else math.nan

    def mean_cf(flag: bool) -> float:
        vals = [c.get("counterfactual_importance_accuracy") for c, k in zip(chunks, kept) if k is flag]
        vals = [v for v in vals if isinstance(v, (int, float))]
        return sum(vals) / len(vals) if vals else math.nan

    return {
        "kept_all": frac(range(len(chunks))),
        "kept_depended_on": frac(depended),
        "n_depended_on": len(depended),
        "kept_answer_closure": frac(closure),
        "n_answer_closure": len(closure),
        "mean_cf_importance_kept": mean_cf(True),
        "mean_cf_importance_deleted": mean_cf(False),
    }
