"""The lab with a pretrained student: SmolLM2-135M fine-tuned with LoRA, against the papers' targets.

Targets (the papers' claims are about pretrained students, which the from-scratch lab is not):

- DRP: a pruned arm (the offline DRP pruner, ``heuristic``, or ``first-answer``) is at least as
  accurate as the verbose arm with <= 40% of its output tokens;
- Essence: the lead-span arm at 0.5 keeps >= 90% of verbose accuracy at <= 55% of its training time;
- the whole run takes <= 75 minutes on 2 CPU cores.

What runs: ``leancot lab --student smollm2-135m`` (``leancot.lab.stage``): the lab's problems and
verbose teacher, the real pruners, then one LoRA fine-tune of the built-in SmolLM2-135M-Instruct
per arm (r=16 on every linear layer, merged into the saved model) with the real trainer, and the
real evaluator (hf backend, greedy) on held-out problems. Sizing (``PRETRAINED_SIZES["full"]``):
240 training problems, 1 epoch, batch 4, lr 1e-3, sequences cut at 704 tokens (the longest
verbose example is ~670 of SmolLM2's tokens, so nothing verbose is cut), 100 held-out problems,
one seed: two seeds or more problems do not fit the 75 minutes on 2 cores, mostly because greedy
generation of ~500-token verbose answers dominates. The default arms are
``verbose,heuristic,first-answer,lsp-cot:0.5``: the lead-span arm cuts only the reasoning
(``lsp-cot``) because a pretrained instruct model that never sees ``</think>`` in training never
learns to close it (``lsp:0.5`` cuts the whole sequence, as the Essence code does: pass it in
``--arms`` to measure it).

    python benchmarks/lab_pretrained.py [--student smollm2-135m] [--size full] [--seeds 0] [--threads 2] [--arms ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_targets import report, stray_steps  # noqa: E402

BUDGET_S = 75 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--student", default="smollm2-135m", help="pretrained student: a built-in name or a model dir")
    parser.add_argument("--size", default="full", choices=["small", "full"])
    parser.add_argument("--seeds", default="0", help="comma-separated student seeds (LoRA init, data order)")
    parser.add_argument("--workers", type=int, default=1, help="seeds trained at once, one process each")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per worker")
    parser.add_argument("--arms", default="verbose,heuristic,first-answer,lsp-cot:0.5")
    parser.add_argument("--train-problems", type=int, default=None)
    parser.add_argument("--test-problems", type=int, default=None)
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--out", type=Path, default=None, help="lab output dir (default: a fresh temporary one)")
    parser.add_argument("--resume", action="store_true", help="keep what --out already holds (default: start over)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from leancot.lab.config import LabConfig
    from leancot.lab.stage import run

    out = args.out or Path(tempfile.mkdtemp(prefix="leancot-lab-pretrained-"))
    sizes = {
        k: v for k, v in (("train_problems", args.train_problems), ("test_problems", args.test_problems), ("epochs", args.epochs)) if v
    }
    load_before = os.getloadavg()
    started = time.perf_counter()
    summary_path = run(
        LabConfig(
            out=out,
            student=args.student,
            size=args.size,
            seeds=args.seeds,
            workers=args.workers,
            threads=args.threads,
            arms=args.arms,
            overwrite=not args.resume,
            **sizes,
        )  # fmt: skip
    )
    wall = time.perf_counter() - started
    summary = json.loads(summary_path.read_text())
    report(summary, wall, load_before, os.getloadavg(), out, budget=BUDGET_S)
    if args.resume:
        print("(--resume: the total time above is only what this run did; judge the 75-minute target on a fresh run)")
    dropped_operands(summary, out)
    stray_steps(summary, out)


def dropped_operands(summary: dict, out: Path) -> None:
    """Per arm: how many wrong answers never use one of the question's numbers in an equation
    of their reasoning (an operation dropped), the failure reading the outputs shows most."""
    import re

    from leancot.io import read_jsonl

    questions = {p["id"]: p["question"] for p in read_jsonl(out / "problems" / "test.jsonl")}
    equation = re.compile(r"[\d\s*+\-/×x]+=\s*\d+")
    for seed in summary["seeds"]:
        for arm in summary["arms"]:
            wrong = [r for r in read_jsonl(out / f"seed{seed}" / arm.replace(":", "-") / "eval" / "records.jsonl") if not r["correct"]]
            dropped = 0
            for r in wrong:
                used = set(re.findall(r"\d+", " ".join(equation.findall(r["output"].split("</think>")[0]))))
                dropped += bool(set(re.findall(r"\d+", questions[r["problem_id"]])) - used)
            print(f"seed {seed} {arm}: {len(wrong)} wrong answers, {dropped} of them leave a number of the question out of every equation")


if __name__ == "__main__":
    main()
