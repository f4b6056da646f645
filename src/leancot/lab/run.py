"""``leancot lab``: a miniature of both papers on a CPU, end to end with the real stages.

``run(LabConfig(...))``:

1. draws training and held-out arithmetic word problems (``leancot.lab.problems``):
   a share of them is drawn so that a computed value is also a number of the question (two
   quantities with one value, an answer equal to a given: ``TeacherStyle``'s shares);
2. has the verbose teacher write an R1-style trace for every training problem, with the
   situations that mislead a pruner (a slip corrected, a misreading discussed and dropped, a
   misreading computed on and taken back), and its annotation: the computations a faithful path
   needs and those it must not keep (``teacher.py``);
3. prunes the traces with the real pruners its arms name (``leancot.prune.stage``, one run per
   ``--method``, ``heuristic-unchecked`` with ``--no-derivation-check``; the offline DRP pruner
   when no arm names a checked one), counts each pruner's complete paths by the annotations
   (``leancot.prune.annotations.complete``), and trains the students' tokenizer, a small BPE
   with digits kept apart, on the training prompts and traces (``tokenizer.py``);
4. trains one student per arm (``arms.py``) from scratch with the real trainer
   (``leancot.train.stage``), all on the same problems (those every checked pruner verified). The
   default arms are today's three: (a) ``verbose`` traces, (b) ``pruned`` traces (the heuristic
   pruner), (c) ``lsp``: verbose traces truncated to the first half of their reasoning
   (lead-span ``lsp-cot`` at 0.5: a student trained from scratch has no other way to learn to
   close ``</think>`` and answer); ``--arms verbose,heuristic,first-answer,lsp:0.5,lsp-cot:0.5``
   compares any of them. ``--student smollm2-135m`` (or a model dir) fine-tunes that pretrained
   model with LoRA instead (merged for the evaluator), in its own vocabulary, sized by
   ``PRETRAINED_SIZES`` (``benchmarks/lab_pretrained.py``): the papers' students are pretrained;
5. evaluates each with the real evaluator (``leancot.evaluate.stage``, hf backend, greedy) on the
   held-out problems, written as a problem file; seeds run side by side in ``workers`` processes;
6. writes ``lab_summary.json`` (every figure, per seed and pooled, with 95% intervals, each arm's
   paired difference against ``verbose``, each pruner arm's share of complete paths, and the
   paper targets), ``lab_table.md`` and
   ``lab_arms.png`` (accuracy against output tokens, and the paired differences).

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
from leancot.lab.arms import DEFAULT_ARMS, Arm, checked, data_name, prune_dirname, prune_method, pruners_of, resolve_arms, training_sets
from leancot.lab.problems import LabProblem, generate
from leancot.lab.teacher import TeacherStyle, write_annotated
from leancot.lab.tokenizer import train_tokenizer

log = logging.getLogger(__name__)

#: Presets of ``--size``; a field given explicitly in the config wins over its preset.
SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_problems": 300, "test_problems": 100, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
    "full": {"train_problems": 1000, "test_problems": 200, "layers": 2, "hidden": 128, "epochs": 5.0, "batch_size": 4, "vocab_size": 1024},
}
#: Presets of a pretrained ``--student`` (LoRA fine-tuning instead of training from scratch), sized
#: for SmolLM2-135M on 2 CPU cores (``benchmarks/lab_pretrained.py``); ``size`` picks one as above.
PRETRAINED_SIZES: dict[str, dict[str, Any]] = {
    "small": {"train_problems": 48, "test_problems": 40, "epochs": 1.0, "batch_size": 4, "lr": 1e-3, "max_length": 704},
    "full": {"train_problems": 240, "test_problems": 100, "epochs": 1.0, "batch_size": 4, "lr": 1e-3, "max_length": 704},
}
#: The default three students: which reasoning they are trained on, and the length policy
#: (``--arms`` chooses others: ``leancot.lab.arms``).
ARMS: dict[str, dict[str, Any]] = {
    "verbose": {"data": "verbose", "policy": "lsp", "lsp": 1.0},
    "pruned": {"data": "pruned", "policy": "lsp", "lsp": 1.0},
    "lsp": {"data": "verbose", "policy": "lsp-cot", "lsp": 0.5},
}


class LabConfig(BaseModel):
    """Settings of ``leancot lab``; ``None`` takes the value of the ``size`` preset."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(
        Path("lab"), description="Output directory (problems, traces, prune, data, seed*/<student>/{train,eval}, lab_summary.json)."
    )
    size: Literal["small", "full"] = Field(
        "full", description="Preset: small (a few minutes, used by `leancot demo`) or full (the targets)."
    )
    arms: list[str] = Field(
        list(DEFAULT_ARMS),
        description="Students to compare: verbose, a pruner (heuristic, first-answer, perplexity, ...; pruned = heuristic), lsp:X, lsp-cot:X (lsp = lsp-cot at --lsp).",
    )
    seeds: list[int] = Field([0, 1], description="Seeds of the students (weights, data order); the problems are fixed by data_seed.")
    data_seed: int = Field(0, description="Seed of the problems and of the teacher's phrasing.")
    train_problems: int | None = Field(None, ge=1, description="Training problems (before pruning rejects).")
    test_problems: int | None = Field(None, ge=1, description="Held-out problems for evaluation.")
    layers: int | None = Field(None, ge=1, description="Student depth (a Llama with the lab's own BPE vocabulary).")
    hidden: int | None = Field(None, ge=8, description="Student width.")
    epochs: float | None = Field(None, gt=0, description="Training epochs (the same for every student, as in DRP).")
    batch_size: int | None = Field(None, ge=1, description="Sequences per optimizer step.")
    vocab_size: int | None = Field(None, ge=300, description="Most tokens of the students' BPE (trained on the teacher's traces).")
    student: str | None = Field(
        None,
        description="A pretrained student to fine-tune with LoRA (e.g. smollm2-135m, or a model dir) instead of small ones trained from scratch; its tokenizer counts the tokens.",
    )
    max_length: int | None = Field(
        None, ge=16, description="Cut training sequences at this many tokens (default: none from scratch, the preset's with --student)."
    )
    lr: float | None = Field(
        None,
        gt=0,
        description="Peak learning rate (default 1e-3: from scratch with warm-up and cosine decay; LoRA on a pretrained student likewise).",
    )
    warmup: float = Field(0.05, ge=0, description="Warm-up: a fraction of the steps if < 1, else steps.")
    lsp: float = Field(0.5, gt=0, le=1, description="Lead-span proportion of the reasoning kept for the lsp student.")
    scorer: str | None = Field(
        None, description="Scorer model of the perplexity arm (default: --student, else a lab student trained on every verbose trace)."
    )
    max_new_tokens: int | None = Field(None, ge=8, description="Generation budget (default: the longest verbose trace + 64).")
    eval_batch_size: int = Field(64, ge=1, description="Prompts per generate batch.")
    workers: int = Field(2, ge=1, description="Seeds trained at once, each in its own process (2 suits 2 cores; 1: one after another).")
    threads: int | None = Field(
        1, ge=1, description="Torch threads for training and evaluation (1 is fastest on busy shared cores; None: torch's choice)."
    )
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

    @field_validator("arms", mode="before")
    @classmethod
    def _split_arms(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [a.strip() for a in v.split(",") if a.strip()]
        if not v:
            raise UsageError("--arms needs at least one arm")
        return v

    def resolved(self) -> dict[str, Any]:
        """Every setting with the size preset filled in."""
        values = self.model_dump(mode="json")
        presets = PRETRAINED_SIZES[self.size] if self.student else {**SIZES[self.size], "lr": 1e-3}
        for key, preset in presets.items():
            if values[key] is None:
                values[key] = preset
        if self.student:  # the pretrained student's own architecture and vocabulary
            for key in ("layers", "hidden", "vocab_size"):
                values[key] = None
        return values


def run(config: LabConfig) -> Path:
    """Run the whole lab into ``config.out``; returns the path of ``lab_summary.json``."""
    import torch

    settings = config.resolved()
    arms, skipped = resolve_arms(config.arms, lsp=config.lsp)
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
        test_file, data = prepare_data(config, settings, arms)
        phases["data_s"] = time.perf_counter() - tick
        results = run_seeds(config, settings, arms, data, test_file)
    finally:
        torch.set_num_threads(old_threads)
    summary = summarise(settings, arms, data, results, phases, time.perf_counter() - started, skipped=skipped)
    write_json_atomic(out / "lab_summary.json", summary)
    write_text_atomic(out / "lab_table.md", stats.table(summary))
    from leancot.lab.plot import arms_plot

    if arms_plot(summary, out / "lab_arms.png"):
        summary["plot"] = str(out / "lab_arms.png")
        write_json_atomic(out / "lab_summary.json", summary)
    man.write("complete", wall_seconds=round(summary["wall_seconds"], 1), targets=summary["targets"])
    return out / "lab_summary.json"


# --------------------------------------------------------------------------- data


def prepare_data(config: LabConfig, settings: dict[str, Any], arms: list[Arm] | None = None) -> tuple[Path, dict[str, Any]]:
    """Problems -> teacher traces -> real pruning (each pruner the arms name) -> training files.

    Every arm trains on the same problems: those every checked pruner verified (an unchecked arm
    also on those only the derivation check rejected: ``leancot.lab.arms``). Returns (held-out
    problem file, info)."""
    from leancot.evaluate.prompts import build_prompt

    arms = arms if arms is not None else resolve_arms(list(ARMS), lsp=config.lsp)[0]
    out = config.out
    train, test = draw_problems(settings)
    test_file = out / "problems" / "test.jsonl"
    write_jsonl_atomic(out / "problems" / "train.jsonl", [p.record() for p in train])
    write_jsonl_atomic(test_file, [p.record() for p in test])
    traces = [_trace_row(p, config.data_seed) for p in train]
    write_jsonl_atomic(out / "teacher" / "traces.jsonl", traces)
    if config.student:  # a pretrained student counts (and is trained) in its own vocabulary
        tokenizer = Path(pretrained_student(config))
    else:
        tokenizer = train_tokenizer([build_prompt(p.question, "lab") for p in train] + [t["completion"] for t in traces],
                                    out / "tokenizer", settings["vocab_size"])  # fmt: skip
    methods = pruners_of(arms)
    scorer = train_scorer(config, settings, traces) if "perplexity" in methods and not (config.scorer or config.student) else None
    pruned = {m: prune_traces(config, m, tokenizer, scorer=scorer) for m in methods}  # run -> {id: verified record}
    common, ids = training_sets(traces, pruned, {m: out / prune_dirname(m) for m in methods})
    if not common:
        dirs = ", ".join(str(out / prune_dirname(m) / "rejects.jsonl") for m in methods)
        raise UsageError(f"no teacher trace of the {len(traces)} was verified by every pruner ({', '.join(methods)}); see {dirs}")
    first = pruned[methods[0]]
    files = {"verbose": out / "data" / "verbose.jsonl", **{m: out / "data" / f"{data_name(m)}.jsonl" for m in methods}}
    for name, source, field, rows_of in (("verbose", first, "original", common), *((m, pruned[m], "pruned", ids[m]) for m in methods)):
        rows = [{"id": i, "question": build_prompt(source[i]["question"], "lab"), "reasoning": source[i][field], "answer": source[i]["answer"]}
                for i in rows_of]  # fmt: skip
        write_jsonl_atomic(files[name], rows)
    longest = max(_count(t["completion"], tokenizer) for t in traces)
    main = "heuristic" if "heuristic" in pruned else methods[0]
    notes = {t["id"]: t["annotation"] for t in traces}
    info = {
        "train_problems": len(train), "test_problems": len(test), "trained_on": len(common),
        "prune_rejects": len(traces) - len(common), "longest_trace_tokens": longest,
        "max_new_tokens": settings["max_new_tokens"] or longest + 64,
        "teacher_reasoning_tokens": _mean_tokens(first, common, "tokens_before"),
        "pruned_reasoning_tokens": _mean_tokens(pruned[main], common, "tokens_after"),
        "teacher_situations": stats.situations([t["annotation"] for t in traces]),
        "pruners": {m: {"dir": str(out / prune_dirname(m)), "derivation_check": checked(m), "verified": len(pruned[m]),
                        "rejects": _reject_reasons(out / prune_dirname(m)), "trained_on": len(ids[m]),
                        "reasoning_tokens": _mean_tokens(pruned[m], common, "tokens_after"),
                        "complete_paths": stats.complete_paths(pruned[m], ids[m], notes),
                        "complete_paths_verified": stats.complete_paths(pruned[m], list(pruned[m]), notes)} for m in methods},
        "files": {k: str(v) for k, v in files.items()},
    }  # fmt: skip
    log.info("lab: %d teacher traces, %d verified by every checked pruner (%s); reasoning %.0f -> %s tokens", len(traces), len(common),
             ", ".join(methods), info["teacher_reasoning_tokens"],
             ", ".join(f"{m} {p['reasoning_tokens']:.0f}" for m, p in info["pruners"].items()))  # fmt: skip
    return test_file, info


#: The teacher's situations, and the share of problems drawn holding a coincidence (``problems.generate``).
STYLE = TeacherStyle()


def draw_problems(settings: dict[str, Any]) -> tuple[list[LabProblem], list[LabProblem]]:
    """The lab's training and held-out problems for ``settings`` (``LabConfig.resolved()``, or a summary's):
    disjoint by question, a share of each holding a coincidence (``STYLE``)."""
    shares = {"shared_value": STYLE.p_shared_value, "answer_equals_given": STYLE.p_answer_equals_given}
    seed = settings["data_seed"]
    train = generate(settings["train_problems"], seed, prefix="train", **shares)
    test = generate(settings["test_problems"], seed + 10_000, prefix="test", exclude={p.question for p in train}, **shares)
    return train, test


def _trace_row(problem: LabProblem, seed: int) -> dict[str, Any]:
    """A teacher trace as the prune stage reads it, with its annotation (``teacher.Annotation``)."""
    completion, annotation = write_annotated(problem, seed, STYLE)
    return {"id": problem.id, "question": problem.question, "completion": completion, "answer": str(problem.answer),
            "template": problem.template, "annotation": annotation}  # fmt: skip


def prune_traces(config: LabConfig, method: str, tokenizer: Path, *, scorer: Path | None = None) -> dict[str, dict[str, Any]]:
    """Prune the teacher's traces with ``method`` (the real stage); its verified records by id.

    ``method`` is a pruning run of ``leancot.lab.arms``: a pruner, or one with ``-unchecked`` (its
    paths before the derivation check and repair). The perplexity pruner scores with ``--scorer``,
    else the student itself (SPIRIT): the pretrained ``--student``, or ``scorer`` (``train_scorer``'s
    model) for students from scratch."""
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run as prune

    chosen = config.scorer or config.student or (str(scorer) if scorer else None)
    pruner = prune_method(method)
    extra = {"perplexity": {"scorer": chosen}} if pruner == "perplexity" and chosen else {}
    out = config.out
    prune_dir = prune(PruneConfig(input=out / "teacher" / "traces.jsonl", out=out / prune_dirname(method), method=pruner,
                                  derivation_check=checked(method), tokenizer=str(tokenizer), overwrite=config.overwrite,
                                  **extra))  # fmt: skip
    records = {r["id"]: r for r in read_jsonl(prune_dir / "records.jsonl") if r["verified"]}
    if not records:
        raise UsageError(f"the {method} pruner verified none of the teacher traces; see {prune_dir / 'rejects.jsonl'}")
    return records


def train_scorer(config: LabConfig, settings: dict[str, Any], traces: list[dict[str, Any]]) -> Path:
    """The perplexity pruner's scorer for students trained from scratch: the first seed's student
    trained on every verbose trace, as the verbose arm is (a random student would score nothing).

    It reads the lab's BPE and scores the 1000 traces of the full lab in about a minute on a CPU;
    SmolLM2-135M takes about a minute per real trace (``--scorer`` chooses it anyway)."""
    from leancot.data.formats import split_reasoning
    from leancot.evaluate.prompts import build_prompt

    data = config.out / "scorer" / "verbose.jsonl"
    rows = [{"id": t["id"], "question": build_prompt(t["question"], "lab"), "reasoning": split_reasoning(t["completion"]).reasoning,
             "answer": t["answer"]} for t in traces]  # fmt: skip
    write_jsonl_atomic(data, rows)
    return train_student(config, settings, config.seeds[0], data, config.out / "scorer" / "train") / "model"


def train_student(config: LabConfig, settings: dict[str, Any], seed: int, data: Path, out: Path, *, policy: str = "lsp",
                  lsp: float = 1.0) -> Path:  # fmt: skip
    """One student of ``seed`` trained on ``data`` by the real trainer: every arm's (and the scorer's) settings but the length policy."""
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run as train

    return train(TrainConfig(
        input=data, out=out, reasoning_field="reasoning", policy=policy, lsp=lsp, student=str(student_init(config, settings, seed)),
        lora=bool(config.student), lr=settings["lr"], warmup=config.warmup, max_length=settings["max_length"], epochs=settings["epochs"],
        batch_size=settings["batch_size"], save_steps=100_000, seed=seed, overwrite=config.overwrite,
    ))  # fmt: skip


def _mean_tokens(records: dict[str, dict[str, Any]], ids: list[str], key: str) -> float:
    return sum(records[i][key] for i in ids) / len(ids)


def _reject_reasons(prune_dir: Path) -> dict[str, int]:
    path = prune_dir / "rejects.jsonl"
    reasons: dict[str, int] = {}
    for r in read_jsonl(path) if path.exists() else []:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return reasons


def _count(text: str, tokenizer: Path) -> int:
    from leancot.tokens import count_tokens

    return count_tokens(text, str(tokenizer))


def pretrained_student(config: LabConfig) -> Path:
    """The directory of ``--student`` (a built-in model is fetched and converted on first use)."""
    from leancot.models import resolve

    path = resolve(config.student or "")
    if not isinstance(path, Path):
        raise UsageError(
            f"--student {config.student!r}: a hub model cannot be fetched here; give a built-in name or a local model directory"
        )
    return path


def student_init(config: LabConfig, settings: dict[str, Any], seed: int) -> Path:
    """The initial student of ``seed``: the pretrained ``--student``, else a random one in the lab's
    BPE vocabulary, built once and shared by the arms."""
    from leancot.tiny import make_tiny_model

    if config.student:
        return pretrained_student(config)
    target = config.out / "students" / f"init-{settings['layers']}x{settings['hidden']}-seed{seed}"
    if not (target / "config.json").exists():
        heads = 4 if settings["hidden"] % 4 == 0 else 1
        make_tiny_model(target, vocab_from=config.out / "tokenizer", n_layer=settings["layers"], hidden=settings["hidden"],
                        heads=heads, seed=seed)  # fmt: skip
    return target


# --------------------------------------------------------------------------- students


def run_seeds(
    config: LabConfig, settings: dict[str, Any], arms: list[Arm], data: dict[str, Any], test_file: Path
) -> dict[int, dict[str, Any]]:
    """Every seed's students; with ``workers`` > 1, seeds run side by side in processes.

    A seed's students run one after another in one process, so every arm's training time is
    measured under the same load (both processes run the same arm at about the same time).
    """
    for seed in config.seeds:
        student_init(config, settings, seed)
    workers = min(config.workers, len(config.seeds))
    if workers == 1:
        return {seed: seed_students(config, settings, seed, arms, data, test_file) for seed in config.seeds}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from leancot.progress import progress_bar

    results: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet_worker) as pool:
        futures = {pool.submit(seed_students, config, settings, seed, arms, data, test_file): seed for seed in config.seeds}
        with progress_bar() as bar:
            task = bar.add_task(f"lab: {len(futures)} seeds x {len(arms)} students, {workers} at a time", total=len(futures))
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


def seed_students(
    config: LabConfig, settings: dict[str, Any], seed: int, arms: list[Arm], data: dict[str, Any], test_file: Path
) -> dict[str, Any]:
    """Train and evaluate every arm's student of ``seed``, one after another, in this process."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    return {arm.name: train_and_eval(config, settings, seed, arm, data, test_file) for arm in arms}


def train_and_eval(
    config: LabConfig, settings: dict[str, Any], seed: int, arm: Arm, data: dict[str, Any], test_file: Path
) -> dict[str, Any]:
    """Train the student of ``arm`` and ``seed`` and evaluate it; returns its figures and eval records."""
    from leancot.evaluate.config import EvalConfig
    from leancot.evaluate.stage import run as evaluate

    base = config.out / f"seed{seed}" / arm.dirname
    tick = time.perf_counter()
    train_dir = train_student(config, settings, seed, Path(data["files"][arm.data]), base / "train", policy=arm.policy, lsp=arm.lsp)
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
                   train_flops=float(metrics.get("flops", 0.0)), stage_wall_seconds=train_wall,
                   eval_seconds=_stage_seconds(eval_dir, time.perf_counter() - tick),
                   loss_last=metrics.get("loss_last"))  # fmt: skip
    _log_arm(seed, arm.name, figures)
    return {"figures": figures, "records": records}


def _stage_seconds(stage_dir: Path, fallback: float) -> float:
    """A stage's time over every run of it (a resumed eval that had nothing left to do took ~0 s now)."""
    m = manifest.read(stage_dir) or {}
    return float((m.get("wall_seconds") or {}).get("total") or fallback)


def _log_arm(seed: int, arm: str, figures: dict[str, Any]) -> None:
    log.info("lab: seed %d %-12s accuracy %.1f%%, %.0f output tokens, trained %.0f s", seed, arm, 100 * figures["accuracy"],
             figures["mean_output_tokens"], figures["train_seconds"])  # fmt: skip


# --------------------------------------------------------------------------- summary


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
