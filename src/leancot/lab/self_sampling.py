"""The self-sampling arms' training data: the verbose student's own shortest correct answers.

On-Policy SFT (arXiv 2602.13407) samples k answers from the model itself on the training problems,
keeps the shortest correct one and fine-tunes on it; STOP/ECN (2605.13165) also cuts it at its
first answer. In the lab both are ordinary stage runs under ``seed<N>/<arm>/``:

1. ``seed<N>/verbose/samples-<k>/``: the eval stage samples the ``verbose`` student ``k`` times per
   training problem (``--n k --temperature LabConfig.self_temperature``), every sample a graded
   record; the self-sampling arms with the same ``k`` share them;
2. ``prune/``: the prune stage keeps each problem's shortest correct sample
   (``--method shortest-correct``, ``--then first-answer`` for ``self-first-answer``), verified
   like every pruner's path; a problem with no correct sample is a reject;
3. ``data.jsonl``: those paths in the lab's training format, which the verbose student is then
   trained on further (``driver.train_and_eval``). Where no sample of any problem is correct there
   is nothing to train on: the arm's student is the verbose student as it is (``trained_on`` 0).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import StageFailed
from leancot.io import read_jsonl, write_jsonl_atomic
from leancot.lab.arms import Arm
from leancot.lab.config import LabConfig

log = logging.getLogger(__name__)


def verbose_model(config: LabConfig, seed: int) -> Path:
    """The ``verbose`` student of ``seed``: where every self-sampling arm starts."""
    return config.out / f"seed{seed}" / "verbose" / "train" / "model"


def self_training_data(config: LabConfig, seed: int, arm: Arm, data: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The training file of the self-sampling ``arm`` of ``seed``, and what it took (samples, their
    accuracy, problems kept, seconds)."""
    from leancot.evaluate.config import EvalConfig
    from leancot.evaluate.prompts import build_prompt
    from leancot.lab.steps import run_stage
    from leancot.prune.config import PruneConfig

    base = config.out / f"seed{seed}" / arm.dirname
    samples = run_stage("eval", EvalConfig(
        model=str(verbose_model(config, seed)), benchmarks=[data["trained_problems"]], backend="hf",
        out=config.out / f"seed{seed}" / "verbose" / f"samples-{arm.samples}", n=arm.samples, temperature=config.self_temperature,
        seed=seed, max_new_tokens=data["max_new_tokens"], batch_size=config.sample_batch_size, threads=config.threads,
        overwrite=config.overwrite,
    ), f"sample the verbose student {arm.samples}x (seed {seed})")  # fmt: skip
    # the sampling's time over every run of it: each self-sampling arm needs all of it, though two arms
    # with the same k share one run (and a resumed lab does not sample again)
    sample_seconds = float((manifest.read(samples) or {}).get("wall_seconds", {}).get("total") or 0.0)
    options = {"shortest_correct": {"then": arm.then}} if arm.then else {}
    try:
        prune_dir = run_stage("prune", PruneConfig(
            input=samples / "records.jsonl", out=base / "prune", method="shortest-correct", tokenizer=data["tokenizer"],
            overwrite=config.overwrite, **options,
        ), f"shortest correct {arm.name} (seed {seed})")  # fmt: skip
        kept = [r for r in read_jsonl(prune_dir / "records.jsonl") if r["verified"]]
    except StageFailed as e:  # no sample of any problem was correct: nothing to train on
        log.warning("lab: %s (seed %d) has no training data: %s", arm.name, seed, e)
        kept = []
    rows = [{"id": r["id"], "question": build_prompt(r["question"], "lab"), "reasoning": r["pruned"], "answer": r["answer"]} for r in kept]
    path = base / "data.jsonl"
    write_jsonl_atomic(path, rows)
    graded = read_jsonl(samples / "records.jsonl")
    info = {"samples": len(graded), "sample_accuracy": sum(bool(r["correct"]) for r in graded) / len(graded) if graded else 0.0,
            "trained_on": len(rows), "sample_seconds": sample_seconds,
            "reasoning_tokens": sum(r["tokens_after"] for r in kept) / len(kept) if kept else 0.0}  # fmt: skip
    return path, info
