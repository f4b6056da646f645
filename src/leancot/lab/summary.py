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
        if arm.kind == "self":  # its own samples: each seed's student kept the problems it answered correctly
            by_seed = [results[s][arm.name]["figures"] for s in seeds]
            pooled[arm.name].update(trained_on=sum(f["trained_on"] for f in by_seed) / len(seeds),
                                    sample_accuracy=sum(f["sample_accuracy"] for f in by_seed) / len(seeds))  # fmt: skip
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
    """The papers' targets, per arm (each paper's claim for its method):

    - a pruned arm (DRP): as accurate as verbose with <= 40% of its output tokens;
    - ``step-entropy`` (arXiv 2508.03346): within 2 points of verbose with <= 70% of its output tokens;
    - ``self-shortest`` (On-Policy SFT): as accurate as verbose with <= 50% of its output tokens;
    - a lead-span arm at 0.5 (Essence): >= 90% of verbose's accuracy at <= 55% of its training time."""
    a = pooled["verbose"]["accuracy"]
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        c, acc = vs.get(arm.name), pooled[arm.name]["accuracy"]
        if c is None:
            continue
        if arm.kind == "pruner" and arm.data == "step-entropy":
            out.update(_accuracy_and_tokens(arm.name, acc, a, c["token_ratio"], slack=0.02, tokens=0.70))
        elif arm.kind == "pruner" and checked(arm.data):  # an unchecked arm is an ablation, not a method with targets
            out.update(_accuracy_and_tokens(arm.name, acc, a, c["token_ratio"], slack=0.0, tokens=0.40))
        elif arm.kind == "self" and arm.then is None:
            out.update(_accuracy_and_tokens(arm.name, acc, a, c["token_ratio"], slack=0.0, tokens=0.50))
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


def _accuracy_and_tokens(
    name: str, acc: float, base: float, ratio: float | None, *, slack: float, tokens: float
) -> dict[str, dict[str, Any]]:
    """``name``'s accuracy against verbose's (at most ``slack`` below it) and its output tokens against a share of verbose's."""
    within = f"within {slack * 100:g} points of verbose" if slack else ">= verbose"
    return {
        f"{name} accuracy {within}": {"figure": f"{acc:.1%} vs {base:.1%}", "target": ">=" if not slack else f">= -{slack * 100:g} pt",
                                      "met": acc >= base - slack - 1e-12},
        f"{name} output tokens <= {tokens:.0%} of verbose": {"figure": "n/a" if ratio is None else f"{ratio:.1%}", "target": f"<= {tokens:.0%}",
                                                            "met": ratio is not None and ratio <= tokens},
    }  # fmt: skip
