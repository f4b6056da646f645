"""The lab's summary: per-seed and pooled figures of every arm, paired comparisons, the papers' targets."""

from __future__ import annotations

from typing import Any

from leancot.lab import stats
from leancot.lab.arms import Arm, checked, prune_method


def summarise(
    settings: dict[str, Any],
    arms: list[Arm],
    data: dict[str, Any],
    results: dict[int, dict[str, dict[str, Any]]],
    phases: dict[str, float],
    wall: float,
    *,
    skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per-seed and pooled figures, each arm's paired comparison with verbose, and the paper targets.

    The baseline is ``verbose`` when it is among the arms (else the first arm; no targets then)."""
    seeds = sorted(results)
    names = [a.name for a in arms]
    per_seed = {str(s): {arm: r["figures"] for arm, r in results[s].items()} for s in seeds}
    pooled = {}
    for arm in names:
        records = [rec for s in seeds for rec in results[s][arm]["records"]]
        f = stats.arm_figures(records)
        for key in ("train_seconds", "train_tokens", "train_flops", "eval_seconds"):
            f[key] = sum(results[s][arm]["figures"][key] for s in seeds) / len(seeds)
        f["accuracy_by_seed"] = [results[s][arm]["figures"]["accuracy"] for s in seeds]
        pooled[arm] = f
    for arm in arms:  # what each trained on: its problems and, for a pruner's arm, the share of its paths that are complete
        run = data.get("pruners", {}).get(arm.data) if arm.kind == "pruner" else None
        pooled[arm.name]["trained_on"] = run["trained_on"] if run else data["trained_on"]
        pooled[arm.name]["complete_paths"] = run["complete_paths"] if run else None
    # pairs keyed by (seed, problem) so that seeds pool into one paired bootstrap
    keyed = {arm: [{**rec, "problem_id": f"{s}/{rec['problem_id']}"} for s in seeds for rec in results[s][arm]["records"]] for arm in names}
    baseline = "verbose" if "verbose" in names else names[0]
    base = pooled[baseline]
    vs = {}
    for arm in names:
        if arm != baseline:
            vs[arm] = {**stats.compare_arms(keyed[baseline], keyed[arm]),
                       "train_time_ratio": pooled[arm]["train_seconds"] / base["train_seconds"] if base["train_seconds"] else None,
                       "train_token_ratio": pooled[arm]["train_tokens"] / base["train_tokens"] if base["train_tokens"] else None}  # fmt: skip
    # an unchecked arm against its checked twin (heuristic-unchecked against heuristic), paired the same way
    twins = {a.name: t.name for a in arms if a.kind == "pruner" and not checked(a.data)
             for t in arms if t.kind == "pruner" and t.data == prune_method(a.data)}  # fmt: skip
    vs_checked = {arm: {"checked": twin, **stats.compare_arms(keyed[twin], keyed[arm])} for arm, twin in twins.items()}
    summary = {"settings": settings, "seeds": seeds, "data": data, "arms": pooled, "per_seed": per_seed, "baseline": baseline,
               "vs_baseline": vs, "vs_checked": vs_checked, "targets": targets(arms, pooled, vs) if baseline == "verbose" else {},
               "skipped_arms": skipped or {}, "phases": phases, "wall_seconds": wall}  # fmt: skip
    if baseline == "verbose":  # the names of the default arms' comparisons, as before there were others
        for legacy in ("pruned", "lsp"):
            if legacy in vs:
                summary[f"{legacy}_vs_verbose"] = vs[legacy]
    return summary


def targets(arms: list[Arm], pooled: dict[str, dict[str, Any]], vs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The papers' targets, per arm: a pruned arm (DRP) is as accurate as verbose with <= 40% of its
    output tokens; a lead-span arm at 0.5 (Essence) keeps >= 90% of verbose's accuracy at <= 55% of its training time."""
    a = pooled["verbose"]["accuracy"]
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        c, acc = vs.get(arm.name), pooled[arm.name]["accuracy"]
        if c is None:
            continue
        if arm.kind == "pruner" and checked(arm.data):  # an unchecked arm is an ablation, not a method with targets
            tokens = c["token_ratio"]
            out[f"{arm.name} accuracy >= verbose"] = {"figure": f"{acc:.1%} vs {a:.1%}", "target": ">=", "met": acc >= a}
            out[f"{arm.name} output tokens <= 40% of verbose"] = {"figure": "n/a" if tokens is None else f"{tokens:.1%}", "target": "<= 40%",
                                                                  "met": tokens is not None and tokens <= 0.40}  # fmt: skip
        elif arm.kind == "lsp" and arm.lsp == 0.5:
            time_ratio = c["train_time_ratio"]
            out[f"{arm.name} accuracy >= 90% of verbose"] = {
                "figure": f"{acc / a:.1%}" if a else "n/a",
                "target": ">= 90%",
                "met": bool(a) and acc / a >= 0.90,
            }
            out[f"{arm.name} training time <= 55% of verbose"] = {"figure": "n/a" if time_ratio is None else f"{time_ratio:.1%}", "target": "<= 55%",
                                                                  "met": time_ratio is not None and time_ratio <= 0.55}  # fmt: skip
    return out
