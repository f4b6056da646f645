"""``leancot lab``: a miniature of both papers on a CPU, end to end with the real stages.

``run(LabConfig(...))``:

1. draws training and held-out arithmetic word problems (``leancot.lab.problems``);
2. has the verbose teacher write an R1-style trace for every training problem (``teacher.py``);
3. prunes the traces with the real offline DRP pruner (``leancot.prune.stage``), and trains the
   students' tokenizer, a small BPE with digits kept apart, on the training prompts and traces
   (``tokenizer.py``);
4. trains three students from scratch with the real trainer (``leancot.train.stage``), on the
   same verified problems: (a) ``verbose`` traces, (b) ``pruned`` traces, (c) ``lsp``: verbose
   traces truncated to the first half of their reasoning (lead-span ``lsp-cot`` at 0.5: a student
   trained from scratch has no other way to learn to close ``</think>`` and answer);
5. evaluates each with the real evaluator (``leancot.evaluate.run``, hf backend, greedy) on the
   held-out problems, written as a problem file; seeds run side by side in ``workers`` processes;
6. writes ``lab_summary.json`` (every figure, per seed and pooled, with 95% intervals, and the
   paper targets) and ``lab_table.md``.

Every stage keeps its own manifest, so a re-run over the same ``out`` skips what is done.
The training prompt is the evaluator's prompt (``leancot.evaluate.prompts.build_prompt``) so the
student sees at test time exactly the user message it was trained on.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leancot import manifest
from leancot.errors import UsageError
from leancot.io import read_jsonl, write_json_atomic, write_jsonl_atomic, write_text_atomic
from leancot.lab import stats
from leancot.lab.problems import generate
from leancot.lab.teacher import write_trace
from leancot.lab.tokenizer import train_tokenizer

log = logging.getLogger(__name__)

#: Presets of ``--size``; a field given explicitly in the config wins over its preset.
SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_problems": 300, "test_problems": 100, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
    "full": {"train_problems": 1000, "test_problems": 200, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
}
#: The three students: which reasoning they are trained on, and the length policy.
ARMS: dict[str, dict[str, Any]] = {
    "verbose": {"data": "verbose", "policy": "lsp", "lsp": 1.0},
    "pruned": {"data": "pruned", "policy": "lsp", "lsp": 1.0},
    "lsp": {"data": "verbose", "policy": "lsp-cot", "lsp": 0.5},
}


class LabConfig(BaseModel):
    """Settings of ``leancot lab``; ``None`` takes the value of the ``size`` preset."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(Path("lab"), description="Output directory (problems, traces, prune, data, seed*/<student>/{train,eval}, lab_summary.json).")
    size: Literal["small", "full"] = Field("full", description="Preset: small (a few minutes, used by `leancot demo`) or full (the targets).")
    seeds: list[int] = Field([0, 1], description="Seeds of the students (weights, data order); the problems are fixed by data_seed.")
    data_seed: int = Field(0, description="Seed of the problems and of the teacher's phrasing.")
    train_problems: int | None = Field(None, ge=1, description="Training problems (before pruning rejects).")
    test_problems: int | None = Field(None, ge=1, description="Held-out problems for evaluation.")
    layers: int | None = Field(None, ge=1, description="Student depth (a Llama with the lab's own BPE vocabulary).")
    hidden: int | None = Field(None, ge=8, description="Student width.")
    epochs: float | None = Field(None, gt=0, description="Training epochs (the same for every student, as in DRP).")
    batch_size: int | None = Field(None, ge=1, description="Sequences per optimizer step.")
    vocab_size: int | None = Field(None, ge=300, description="Most tokens of the students' BPE (trained on the teacher's traces).")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate (from scratch: high, with warm-up and cosine decay).")
    warmup: float = Field(0.05, ge=0, description="Warm-up: a fraction of the steps if < 1, else steps.")
    lsp: float = Field(0.5, gt=0, le=1, description="Lead-span proportion of the reasoning kept for the lsp student.")
    max_new_tokens: int | None = Field(None, ge=8, description="Generation budget (default: the longest verbose trace + 64).")
    eval_batch_size: int = Field(64, ge=1, description="Prompts per generate batch.")
    workers: int = Field(2, ge=1, description="Seeds trained at once, each in its own process (2 suits 2 cores; 1: one after another).")
    threads: int | None = Field(1, ge=1, description="Torch threads for training and evaluation (1 is fastest on busy shared cores; None: torch's choice).")
    overwrite: bool = Field(False, description="Redo every stage instead of resuming.")

    @field_validator("seeds", mode="before")
    @classmethod
    def _split_seeds(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = [int(s) for s in v.split(",") if s.strip()]
            except ValueError:
                raise UsageError(f"--seeds takes comma-separated integers, got {v!r}") from None
        if not v:
            raise UsageError("--seeds needs at least one seed")
        return v

    def resolved(self) -> dict[str, Any]:
        """Every setting with the size preset filled in."""
        values = self.model_dump(mode="json")
        for key, preset in SIZES[self.size].items():
            if values[key] is None:
                values[key] = preset
        return values


def run(config: LabConfig) -> Path:
    """Run the whole lab into ``config.out``; returns the path of ``lab_summary.json``."""
    import torch

    settings = config.resolved()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    man = manifest.Manifest(out, "lab", settings, {})
    man.write("running")
    started = time.perf_counter()
    old_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)  # the trainer and the hf backend run in this process
    try:
        phases: dict[str, float] = {}
        tick = time.perf_counter()
        test_file, data = prepare_data(config, settings)
        phases["data_s"] = time.perf_counter() - tick
        results = run_seeds(config, settings, data, test_file)
    finally:
        torch.set_num_threads(old_threads)
    summary = summarise(settings, data, results, phases, time.perf_counter() - started)
    write_json_atomic(out / "lab_summary.json", summary)
    write_text_atomic(out / "lab_table.md", stats.table(summary))
    man.write("complete", wall_seconds=round(summary["wall_seconds"], 1), targets=summary["targets"])
    return out / "lab_summary.json"


# --------------------------------------------------------------------------- data


def prepare_data(config: LabConfig, settings: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Problems -> teacher traces -> real pruning -> training files; returns (held-out file, info)."""
    from leancot.evaluate.prompts import build_prompt
    from leancot.prune.stage import PruneConfig, run as prune

    out = config.out
    train = generate(settings["train_problems"], config.data_seed, prefix="train")
    test = generate(settings["test_problems"], config.data_seed + 10_000, prefix="test", exclude={p.question for p in train})
    test_file = out / "problems" / "test.jsonl"
    write_jsonl_atomic(out / "problems" / "train.jsonl", [p.record() for p in train])
    write_jsonl_atomic(test_file, [p.record() for p in test])
    traces = [{"id": p.id, "question": p.question, "completion": write_trace(p, config.data_seed), "answer": str(p.answer),
               "template": p.template} for p in train]  # fmt: skip
    write_jsonl_atomic(out / "teacher" / "traces.jsonl", traces)
    tokenizer = train_tokenizer([build_prompt(p.question, "lab") for p in train] + [t["completion"] for t in traces],
                                out / "tokenizer", settings["vocab_size"])  # fmt: skip
    prune_dir = prune(PruneConfig(input=out / "teacher" / "traces.jsonl", out=out / "prune", tokenizer=str(tokenizer),
                                  overwrite=config.overwrite))  # fmt: skip
    records = [r for r in read_jsonl(prune_dir / "records.jsonl") if r["verified"]]
    if not records:
        raise UsageError(f"the pruner verified none of the {len(traces)} teacher traces; see {prune_dir / 'rejects.jsonl'}")
    for name, field in (("verbose", "original"), ("pruned", "pruned")):
        rows = [{"id": r["id"], "question": build_prompt(r["question"], "lab"), "reasoning": r[field], "answer": r["answer"]} for r in records]
        write_jsonl_atomic(out / "data" / f"{name}.jsonl", rows)
    longest = max(_count(t["completion"], tokenizer) for t in traces)
    info = {
        "train_problems": len(train), "test_problems": len(test), "trained_on": len(records),
        "prune_rejects": len(traces) - len(records), "longest_trace_tokens": longest,
        "max_new_tokens": settings["max_new_tokens"] or longest + 64,
        "teacher_reasoning_tokens": sum(r["tokens_before"] for r in records) / len(records),
        "pruned_reasoning_tokens": sum(r["tokens_after"] for r in records) / len(records),
        "files": {"verbose": str(out / "data" / "verbose.jsonl"), "pruned": str(out / "data" / "pruned.jsonl")},
    }  # fmt: skip
    log.info("lab: %d teacher traces, %d verified by the pruner; reasoning %.0f -> %.0f tokens", len(traces), len(records),
             info["teacher_reasoning_tokens"], info["pruned_reasoning_tokens"])  # fmt: skip
    return test_file, info


def _count(text: str, tokenizer: Path) -> int:
    from leancot.tokens import count_tokens

    return count_tokens(text, str(tokenizer))


def student_init(config: LabConfig, settings: dict[str, Any], seed: int) -> Path:
    """The random initial student of ``seed`` (the lab's BPE vocabulary), built once and shared by the arms."""
    from leancot.tiny import make_tiny_model

    target = config.out / "students" / f"init-{settings['layers']}x{settings['hidden']}-seed{seed}"
    if not (target / "config.json").exists():
        heads = 4 if settings["hidden"] % 4 == 0 else 1
        make_tiny_model(target, vocab_from=config.out / "tokenizer", n_layer=settings["layers"], hidden=settings["hidden"],
                        heads=heads, seed=seed)  # fmt: skip
    return target


# --------------------------------------------------------------------------- students


def run_seeds(config: LabConfig, settings: dict[str, Any], data: dict[str, Any], test_file: Path) -> dict[int, dict[str, Any]]:
    """Every seed's three students; with ``workers`` > 1, seeds run side by side in processes.

    A seed's students run one after another in one process, so every arm's training time is
    measured under the same load (both processes run the same arm at about the same time).
    """
    for seed in config.seeds:
        student_init(config, settings, seed)
    workers = min(config.workers, len(config.seeds))
    if workers == 1:
        return {seed: seed_students(config, settings, seed, data, test_file) for seed in config.seeds}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from leancot.progress import progress_bar

    results: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet_worker) as pool:
        futures = {pool.submit(seed_students, config, settings, seed, data, test_file): seed for seed in config.seeds}
        with progress_bar() as bar:
            task = bar.add_task(f"lab: {len(futures)} seeds x {len(ARMS)} students, {workers} at a time", total=len(futures))
            for future in as_completed(futures):
                seed = futures[future]
                results[seed] = future.result()
                bar.advance(task)
                for arm, r in results[seed].items():  # the workers' own log lines go nowhere
                    _log_arm(seed, arm, r["figures"])
    return {seed: results[seed] for seed in config.seeds}


def _quiet_worker() -> None:
    """A worker process draws no progress bars: two processes' bars would garble one terminal."""
    import os

    os.environ["TQDM_DISABLE"] = "1"
    os.environ["LEANCOT_NO_PROGRESS"] = "1"


def seed_students(config: LabConfig, settings: dict[str, Any], seed: int, data: dict[str, Any], test_file: Path) -> dict[str, Any]:
    """Train and evaluate the three students of ``seed``, one after another, in this process."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    return {arm: train_and_eval(config, settings, seed, arm, data, test_file) for arm in ARMS}


def train_and_eval(config: LabConfig, settings: dict[str, Any], seed: int, arm: str, data: dict[str, Any], test_file: Path) -> dict[str, Any]:
    """Train student ``arm`` of ``seed`` and evaluate it; returns its figures and eval records."""
    from leancot.evaluate.run import EvalConfig, run as evaluate
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run as train

    spec = ARMS[arm]
    base = config.out / f"seed{seed}" / arm
    tick = time.perf_counter()
    train_dir = train(TrainConfig(
        input=Path(data["files"][spec["data"]]), out=base / "train", reasoning_field="reasoning",
        policy=spec["policy"], lsp=config.lsp if spec["policy"] == "lsp-cot" else spec["lsp"],
        student=str(student_init(config, settings, seed)), lora=False, lr=config.lr, warmup=config.warmup,
        epochs=settings["epochs"], batch_size=settings["batch_size"], save_steps=100_000, seed=seed, overwrite=config.overwrite,
    ))  # fmt: skip
    train_wall = time.perf_counter() - tick
    tick = time.perf_counter()
    eval_dir = evaluate(EvalConfig(
        model=str(train_dir / "model"), benchmarks=[str(test_file)], out=base / "eval", backend="hf",
        max_new_tokens=data["max_new_tokens"], batch_size=config.eval_batch_size, threads=config.threads, overwrite=config.overwrite,
    ))  # fmt: skip
    records = read_jsonl(eval_dir / "records.jsonl")
    metrics = (manifest.read(train_dir) or {}).get("metrics", {})
    figures = stats.arm_figures(records)
    figures.update(train_seconds=float(metrics.get("wall_seconds", train_wall)), train_tokens=int(metrics.get("trained_tokens", 0)),
                   train_flops=float(metrics.get("flops", 0.0)), stage_wall_seconds=train_wall, eval_seconds=time.perf_counter() - tick,
                   loss_last=metrics.get("loss_last"))  # fmt: skip
    _log_arm(seed, arm, figures)
    return {"figures": figures, "records": records}


def _log_arm(seed: int, arm: str, figures: dict[str, Any]) -> None:
    log.info("lab: seed %d %-7s accuracy %.1f%%, %.0f output tokens, trained %.0f s", seed, arm, 100 * figures["accuracy"],
             figures["mean_output_tokens"], figures["train_seconds"])  # fmt: skip


# --------------------------------------------------------------------------- summary


def summarise(settings: dict[str, Any], data: dict[str, Any], results: dict[int, dict[str, dict[str, Any]]],
              phases: dict[str, float], wall: float) -> dict[str, Any]:
    """Per-seed and pooled figures, paired comparisons and the paper targets."""
    seeds = sorted(results)
    per_seed = {str(s): {arm: r["figures"] for arm, r in results[s].items()} for s in seeds}
    pooled = {}
    for arm in ARMS:
        records = [rec for s in seeds for rec in results[s][arm]["records"]]
        f = stats.arm_figures(records)
        for key in ("train_seconds", "train_tokens", "train_flops", "eval_seconds"):
            f[key] = sum(results[s][arm]["figures"][key] for s in seeds) / len(seeds)
        f["accuracy_by_seed"] = [results[s][arm]["figures"]["accuracy"] for s in seeds]
        pooled[arm] = f
    # pairs keyed by (seed, problem) so that seeds pool into one paired bootstrap
    keyed = {arm: [{**rec, "problem_id": f"{s}/{rec['problem_id']}"} for s in seeds for rec in results[s][arm]["records"]] for arm in ARMS}
    pruned_vs = stats.compare_arms(keyed["verbose"], keyed["pruned"])
    lsp_vs = stats.compare_arms(keyed["verbose"], keyed["lsp"])
    time_ratio = pooled["lsp"]["train_seconds"] / pooled["verbose"]["train_seconds"]
    a, b, c = (pooled[k]["accuracy"] for k in ("verbose", "pruned", "lsp"))
    targets = {
        "pruned accuracy >= verbose": {"figure": f"{b:.1%} vs {a:.1%}", "target": ">=", "met": b >= a},
        "pruned output tokens <= 40% of verbose": {"figure": f"{pruned_vs['token_ratio']:.1%}", "target": "<= 40%", "met": pruned_vs["token_ratio"] <= 0.40},
        "lsp accuracy >= 90% of verbose": {"figure": f"{c / a:.1%}" if a else "n/a", "target": ">= 90%", "met": bool(a) and c / a >= 0.90},
        "lsp training time <= 55% of verbose": {"figure": f"{time_ratio:.1%}", "target": "<= 55%", "met": time_ratio <= 0.55},
    }  # fmt: skip
    return {"settings": settings, "seeds": seeds, "data": data, "arms": pooled, "per_seed": per_seed,
            "pruned_vs_verbose": pruned_vs, "lsp_vs_verbose": {**lsp_vs, "train_time_ratio": time_ratio},
            "targets": targets, "phases": phases, "wall_seconds": wall}  # fmt: skip
