"""The CPU lab against the papers' targets: runs ``leancot lab`` and prints what it measured.

Targets (mirroring DRP and "Distilling the Essence"):

- (b) the student trained on pruned traces is at least as accurate as (a), the student trained on
  the verbose traces, with <= 40% of its output tokens;
- (c) the student trained on the first half of the verbose reasoning (lead-span, LSP 0.5) keeps
  >= 90% of (a)'s accuracy at <= 55% of its training time;
- the whole lab at --size full takes <= 15 minutes on 2 CPU cores (--size small: <= ~4 minutes).

What runs: ``leancot.lab.run`` end to end (problems, verbose teacher, the real DRP pruner, three
students trained from scratch by the real trainer, the real evaluator with greedy decoding on
held-out problems). Accuracy intervals are Wilson 95% over the held-out problems (pooled over the
seeds); the ratios come with paired bootstrap 95% intervals over the problems; training time is
the trainer's own wall clock inside ``train()``; a seed's three students are trained one after
the other in one process (seeds side by side in ``--workers`` processes, each running the same
arm at about the same time), so the time ratio is measured under the same machine load.

    python benchmarks/lab_targets.py [--size full] [--seeds 0,1] [--workers 2] [--out DIR]
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from leancot.lab.run import LabConfig, run

    out = args.out or Path(tempfile.mkdtemp(prefix="leancot-lab-"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    summary_path = run(LabConfig(out=out, size=args.size, seeds=args.seeds, workers=args.workers, threads=args.threads, overwrite=True))
    wall = time.perf_counter() - started
    report(json.loads(summary_path.read_text()), wall, load_before, os.getloadavg(), out)


def report(s: dict, wall: float, load_before: tuple, load_after: tuple, out: Path) -> None:
    st = s["settings"]
    print(f"leancot lab --size {st['size']}: seeds {s['seeds']}, data seed {st['data_seed']}, "
          f"student {st['layers']}x{st['hidden']}, BPE of {st['vocab_size']} max, {st['epochs']} epochs, batch {st['batch_size']}, lr {st['lr']}, "
          f"{os.cpu_count()} cores, {st['workers']} workers x {st['threads']} torch threads")
    d = s["data"]
    print(f"data: {d['train_problems']} training problems, {d['trained_on']} verified by the pruner ({d['prune_rejects']} rejected), "
          f"{d['test_problems']} held-out; teacher reasoning {d['teacher_reasoning_tokens']:.0f} -> pruned {d['pruned_reasoning_tokens']:.0f} tokens")
    print(f"{'student':8} {'accuracy [Wilson 95%]':28} {'by seed':14} {'output tok':>10} {'train s':>8} {'train tok':>10} {'eval s':>7}")
    for arm, f in s["arms"].items():
        lo, hi = f["accuracy_ci95"]
        seeds = " ".join(f"{a:.1%}" for a in f["accuracy_by_seed"])
        print(f"{arm:8} {f['accuracy']:6.1%} [{lo:.1%}, {hi:.1%}]{'':8} {seeds:14} {f['mean_output_tokens']:10.1f} "
              f"{f['train_seconds']:8.1f} {f['train_tokens']:10,.0f} {f['eval_seconds']:7.1f}")
    p, c = s["pruned_vs_verbose"], s["lsp_vs_verbose"]
    print(f"pruned vs verbose: accuracy {p['accuracy_diff']:+.1%} [paired bootstrap 95% {p['accuracy_diff_ci95'][0]:+.1%}, "
          f"{p['accuracy_diff_ci95'][1]:+.1%}], output tokens {p['token_ratio']:.1%} [{p['token_ratio_ci95'][0]:.1%}, {p['token_ratio_ci95'][1]:.1%}]")
    ratio = "n/a" if c["accuracy_ratio"] is None else f"{c['accuracy_ratio']:.1%} [{c['accuracy_ratio_ci95'][0]:.1%}, {c['accuracy_ratio_ci95'][1]:.1%}]"
    print(f"lsp vs verbose: accuracy kept {ratio}, training time {c['train_time_ratio']:.1%}, "
          f"training tokens {s['arms']['lsp']['train_tokens'] / s['arms']['verbose']['train_tokens']:.1%}")
    for name, t in s["targets"].items():
        print(f"target {name}: {t['figure']} ({t['target']}) -> {'met' if t['met'] else 'NOT met'}")
    budget = 15 * 60 if st["size"] == "full" else 4 * 60
    print(f"total lab time: {wall:.0f} s (target <= {budget} s) -> {'met' if wall <= budget else 'NOT met'}; "
          f"load average before/after {load_before[0]:.1f}/{load_after[0]:.1f} on {os.cpu_count()} cores (shared machine: times are pessimistic)")
    print(f"output: {out}")


if __name__ == "__main__":
    main()
