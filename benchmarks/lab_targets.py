"""The CPU lab against the papers' targets: runs ``leancot lab`` and prints what it measured.

Targets (mirroring DRP and "Distilling the Essence"):

- (b) the student trained on pruned traces is at least as accurate as (a), the student trained on
  the verbose traces, with <= 40% of its output tokens;
- (c) the student trained on the first half of the verbose reasoning (lead-span, LSP 0.5) keeps
  >= 90% of (a)'s accuracy at <= 55% of its training time;
- the whole lab at --size full takes <= 15 minutes on 2 CPU cores (--size small: <= ~4 minutes).

What runs: the lab stage (``leancot.lab.stage``) end to end (problems, verbose teacher, the real DRP pruner, three
students trained from scratch by the real trainer, the real evaluator with greedy decoding on
held-out problems). Accuracy intervals are Wilson 95% over the held-out problems (pooled over the
seeds); the ratios come with paired bootstrap 95% intervals over the problems; training time is
the trainer's own wall clock inside ``train()``; a seed's three students are trained one after
the other in one process (seeds side by side in ``--workers`` processes, each running the same
arm at about the same time), so the time ratio is measured under the same machine load.

``--arms`` compares other students on the same problems and seeds (``leancot lab --arms``), e.g.
``--arms verbose,heuristic,first-answer,perplexity,lsp:0.5,lsp-cot:0.5``; each arm is printed with
its paired difference against ``verbose``, and a pruner's arm with the share of its training paths
that are complete derivations by the teacher's annotations (``complete paths``).
``heuristic-unchecked`` is the ablation of the derivation check: the heuristic pruner's paths as it
made them, trained on the problems of the others plus those only the check rejected; each pruner's
rejects and incomplete paths are printed above the table.

    python benchmarks/lab_targets.py [--size full] [--seeds 0,1] [--workers 2] [--arms A,B,...] [--out DIR] [--resume]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="full", choices=["small", "full"])
    parser.add_argument("--seeds", default="0,1", help="comma-separated student seeds")
    parser.add_argument("--workers", type=int, default=2, help="seeds trained at once, one process each")
    parser.add_argument("--out", type=Path, default=None, help="lab output dir (default: a fresh temporary one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arms", default=None, help="comma-separated arms (default: verbose,pruned,lsp)")
    parser.add_argument("--resume", action="store_true", help="keep what --out already holds (default: start over)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from leancot.lab.config import LabConfig
    from leancot.lab.stage import run

    out = args.out or Path(tempfile.mkdtemp(prefix="leancot-lab-"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    arms = {"arms": args.arms} if args.arms else {}
    summary_path = run(
        LabConfig(out=out, size=args.size, seeds=args.seeds, workers=args.workers, threads=args.threads, overwrite=not args.resume, **arms)
    )
    wall = time.perf_counter() - started
    summary = json.loads(summary_path.read_text())
    report(summary, wall, load_before, os.getloadavg(), out)
    if args.resume:
        print("(--resume: the total time above is only what this run did; the stages it found done were skipped)")
    stray_steps(summary, out)


def report(s: dict, wall: float, load_before: tuple, load_after: tuple, out: Path, budget: float | None = None) -> None:
    from leancot.lab.stats import complete_cell

    st = s["settings"]
    if st.get("student"):
        student = f"student {st['student']} + LoRA, sequences cut at {st['max_length']} tokens"
    else:
        student = f"student {st['layers']}x{st['hidden']} from scratch, BPE of {st['vocab_size']} max"
    print(
        f"leancot lab --size {st['size']}: seeds {s['seeds']}, data seed {st['data_seed']}, {student}, "
        f"{st['epochs']} epochs, batch {st['batch_size']}, lr {st['lr']}, max new tokens {s['data']['max_new_tokens']}, "
        f"{os.cpu_count()} cores, {st['workers']} workers x {st['threads']} torch threads"
    )
    d = s["data"]
    pruned = ", ".join(f"{m} {p['reasoning_tokens']:.0f}" for m, p in d.get("pruners", {}).items())
    print(
        f"data: {d['train_problems']} training problems, {d['trained_on']} verified by every checked pruner ({d['prune_rejects']} rejected), "
        f"{d['test_problems']} held-out; teacher reasoning {d['teacher_reasoning_tokens']:.0f} tokens -> {pruned}"
    )
    if d.get("teacher_situations"):
        print("teacher traces holding each situation: " + ", ".join(f"{k} {v}" for k, v in d["teacher_situations"].items()))
    for m, p in d.get("pruners", {}).items():
        c, v = p["complete_paths"], p.get("complete_paths_verified", p["complete_paths"])
        print(
            f"pruner {m}{'' if p.get('derivation_check', True) else ' (no derivation check)'}: {p['verified']} verified, "
            f"rejects {p['rejects'] or '{}'}; complete paths {c['complete']}/{c['paths']} of those trained on, "
            f"{v['complete']}/{v['paths']} of all verified; incomplete: {v['incomplete'] or '{}'}"
        )
    base = s.get("baseline", "verbose")
    print(
        f"{'student':20} {'accuracy [Wilson 95%]':24} {'complete paths':16} {'by seed':14} {'output tok':>10} {'train s':>8} {'train tok':>10} "
        f"{'eval s':>7}  vs {base}: accuracy [paired bootstrap 95%], output tokens, training time"
    )
    for arm, f in s["arms"].items():
        lo, hi = f["accuracy_ci95"]
        seeds = " ".join(f"{a:.1%}" for a in f["accuracy_by_seed"])
        c = s.get("vs_baseline", {}).get(arm)
        vs = "" if c is None else (f"  {c['accuracy_diff']:+.1%} [{c['accuracy_diff_ci95'][0]:+.1%}, {c['accuracy_diff_ci95'][1]:+.1%}], "
                                   f"{c['token_ratio']:.1%} [{c['token_ratio_ci95'][0]:.1%}, {c['token_ratio_ci95'][1]:.1%}], "
                                   f"{c['train_time_ratio']:.1%}")  # fmt: skip
        acc = f"{f['accuracy']:6.1%} [{lo:.1%}, {hi:.1%}]"
        print(
            f"{arm:20} {acc:24} {complete_cell(f.get('complete_paths')):16} {seeds:14} {f['mean_output_tokens']:10.1f} "
            f"{f['train_seconds']:8.1f} {f['train_tokens']:10,.0f} {f['eval_seconds']:7.1f}{vs}"
        )
    for arm, c in s.get("vs_checked", {}).items():
        lo, hi = c["accuracy_diff_ci95"]
        print(
            f"{arm} vs {c['checked']} (the derivation check's ablation): accuracy {c['accuracy_diff']:+.1%} [paired bootstrap 95% "
            f"{lo:+.1%}, {hi:+.1%}] over {c['problems']} answers, output tokens {c['token_ratio']:.1%}"
        )
    for spec, why in s.get("skipped_arms", {}).items():
        print(f"arm {spec} skipped: {why}")
    for name, t in s["targets"].items():
        print(f"target {name}: {t['figure']} ({t['target']}) -> {'met' if t['met'] else 'NOT met'}")
    budget = budget or (15 * 60 if st["size"] == "full" else 4 * 60)
    print(
        f"total lab time: {wall:.0f} s (target <= {budget} s) -> {'met' if wall <= budget else 'NOT met'}; "
        f"load average before/after {load_before[0]:.1f}/{load_after[0]:.1f} on {os.cpu_count()} cores (shared machine: times are pessimistic)"
    )
    print(f"output: {out}")


def stray_steps(summary: dict, out: Path) -> None:
    """Per arm, over the seeds, the marks in a student's answers of what a misreading kept in its
    training paths would teach: answers that compute on a number from nowhere (neither the question's
    nor one computed before it in the answer), and answers with more computations than the problem
    has operations (a step the solution does not take: every answer of a verbose arm, which re-checks);
    and how many of each are wrong."""
    import re

    from leancot.io import read_jsonl
    from leancot.lab.driver import draw_problems

    problems = {p.id: p for p in draw_problems(summary["settings"])[1]}
    step = re.compile(r"(\d+) [-+*/] (\d+) = (\d+)")
    for arm in summary["arms"]:
        answers, stray, extra = 0, [0, 0], [0, 0]  # [answers, of them wrong]
        for seed in summary["seeds"]:
            for r in read_jsonl(out / f"seed{seed}" / arm.replace(":", "-") / "eval" / "records.jsonl"):
                problem = problems[r["problem_id"]]
                known = {int(t) for t in re.findall(r"\d+", problem.question)}
                steps = [tuple(map(int, m.groups())) for m in step.finditer(r["output"].split("</think>")[0])]
                from_nowhere = False
                for a, b, c in steps:
                    from_nowhere |= a not in known or b not in known
                    known.add(c)
                answers += 1
                for count, hit in ((stray, from_nowhere), (extra, len(steps) > len(problem.ops))):
                    count[0] += hit
                    count[1] += hit and not r["correct"]
        print(
            f"{arm}: of {answers} answers, {stray[0]} compute on a number from nowhere ({stray[1]} wrong), "
            f"{extra[0]} write more computations than the problem has operations ({extra[1]} wrong)"
        )


if __name__ == "__main__":
    main()
