"""The lab's driver: a miniature of both papers on a CPU, end to end with the real stages.

The lab stage (``leancot.lab.stage.run``) runs, over ``LabConfig.out``:

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

Every pruning run and every arm's training and evaluation is an ordinary stage run through the
step runner of ``leancot run`` (``leancot.pipeline.run_step``): its own directory, lock,
fingerprint, manifest and resume, so a re-run over the same ``out`` skips what is done.
The training prompt is the evaluator's prompt (``leancot.evaluate.prompts.build_prompt``) so the
student sees at test time exactly the user message it was trained on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import UsageError
from leancot.io import read_jsonl, write_jsonl_atomic
from leancot.lab import stats
from leancot.lab.arms import Arm, checked, data_name, prune_dirname, prune_method, pruners_of, resolve_arms, training_sets
from leancot.lab.config import ARMS, LabConfig
from leancot.lab.problems import LabProblem, generate
from leancot.lab.steps import run_stage
from leancot.lab.teacher import TeacherStyle, write_annotated
from leancot.lab.tokenizer import train_tokenizer

log = logging.getLogger(__name__)

#: The pruners that score with a language model, and the PruneConfig field of their options: in the lab
#: the scorer is ``--scorer``, else the student itself (``train_scorer``).
SCORING_PRUNERS = {"perplexity": "perplexity", "step-entropy": "step_entropy"}


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Torch's threads set to ``n`` for the stages run in this process (``None``: torch's choice), then restored."""
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


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
    scoring = any(prune_method(m) in SCORING_PRUNERS for m in methods)
    scorer = train_scorer(config, settings, traces) if scoring and not (config.scorer or config.student) else None
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
    trained_problems = out / "problems" / "trained.jsonl"  # what every arm trains on: the self-sampling arms sample these
    chosen = set(common)
    write_jsonl_atomic(trained_problems, [p.record() for p in train if p.id in chosen])
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
        "files": {k: str(v) for k, v in files.items()}, "trained_problems": str(trained_problems), "tokenizer": str(tokenizer),
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
    paths before the derivation check and repair). The perplexity and step-entropy pruners score with ``--scorer``,
    else the student itself (SPIRIT): the pretrained ``--student``, or ``scorer`` (``train_scorer``'s
    model) for students from scratch."""
    from leancot.prune.config import PruneConfig

    chosen = config.scorer or config.student or (str(scorer) if scorer else None)
    pruner = prune_method(method)
    extra = {SCORING_PRUNERS[pruner]: {"scorer": chosen}} if pruner in SCORING_PRUNERS and chosen else {}
    out = config.out
    prune_dir = run_stage("prune", PruneConfig(input=out / "teacher" / "traces.jsonl", out=out / prune_dirname(method), method=pruner,
                                               derivation_check=checked(method), tokenizer=str(tokenizer), overwrite=config.overwrite,
                                               **extra), f"prune ({method})")  # fmt: skip
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


def train_student(config: LabConfig, settings: dict[str, Any], seed: int, data: Path | list[str], out: Path, *, policy: str = "lsp",
                  lsp: float = 1.0, student: Path | None = None) -> Path:  # fmt: skip
    """One student of ``seed`` trained on ``data`` (a file, or a mixture ``["file:weight", ...]``) by the real
    trainer: every arm's (and the scorer's) settings but the length policy, from ``student`` (default: the
    seed's initial student)."""
    from leancot.train.config import TrainConfig

    return run_stage("train", TrainConfig(
        input=data, out=out, reasoning_field="reasoning", policy=policy, lsp=lsp, student=str(student or student_init(config, settings, seed)),
        lora=bool(config.student), lr=settings["lr"], warmup=config.warmup, max_length=settings["max_length"], epochs=settings["epochs"],
        batch_size=settings["batch_size"], save_steps=100_000, seed=seed, overwrite=config.overwrite,
    ), f"train {out.parent.name} (seed {seed})")  # fmt: skip


def _mean_tokens(records: dict[str, dict[str, Any]], ids: list[str], key: str) -> float:
    return sum(records[i][key] for i in ids) / len(ids)


def _reject_reasons(prune_dir: Path) -> dict[str, int]:
    path = prune_dir / "rejects.jsonl"
    return manifest.reject_reasons(read_jsonl(path) if path.exists() else [])


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
    from leancot.processes import worker_initializer

    initializer, initargs = worker_initializer(_quiet_worker)  # a seed's process dies with the lab, kill -9 included
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:  # fmt: skip
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
    """Train and evaluate every arm's student of ``seed``, one after another, in this process (the
    self-sampling arms last: they start from the verbose student)."""
    ordered = [a for a in arms if a.kind != "self"] + [a for a in arms if a.kind == "self"]
    with threads(config.threads):
        results = {arm.name: train_and_eval(config, settings, seed, arm, data, test_file) for arm in ordered}
    return {arm.name: results[arm.name] for arm in arms}


def train_and_eval(
    config: LabConfig, settings: dict[str, Any], seed: int, arm: Arm, data: dict[str, Any], test_file: Path
) -> dict[str, Any]:
    """Train the student of ``arm`` and ``seed`` and evaluate it; returns its figures and eval records."""
    from leancot.evaluate.config import EvalConfig
    from leancot.lab.self_sampling import self_training_data, verbose_model

    base = config.out / f"seed{seed}" / arm.dirname
    inputs, start, extra = training_input(arm, data), None, {}
    if arm.kind == "self":
        inputs, extra = self_training_data(config, seed, arm, data)
        start = verbose_model(config, seed)
    tick = time.perf_counter()
    untrained = arm.kind == "self" and not extra["trained_on"]
    if untrained:  # fine-tuned on nothing: the student it starts from
        train_dir = verbose_model(config, seed).parent
    else:
        train_dir = train_student(config, settings, seed, inputs, base / "train", policy=arm.policy, lsp=arm.lsp, student=start)
    train_wall = time.perf_counter() - tick
    tick = time.perf_counter()
    eval_dir = run_stage("eval", EvalConfig(
        model=str(train_dir / "model"), benchmarks=[str(test_file)], out=base / "eval", backend="hf",
        max_new_tokens=data["max_new_tokens"], batch_size=config.eval_batch_size, threads=config.threads, overwrite=config.overwrite,
    ), f"eval {arm.name} (seed {seed})")  # fmt: skip
    records = read_jsonl(eval_dir / "records.jsonl")
    metrics = {"wall_seconds": 0.0} if untrained else (manifest.read(train_dir) or {}).get("metrics", {})
    figures = stats.arm_figures(records)
    # a self-sampling arm's training time counts its sampling too (not the verbose student's it starts from)
    figures.update(train_seconds=float(metrics.get("wall_seconds", train_wall)) + extra.get("sample_seconds", 0.0), train_tokens=int(metrics.get("trained_tokens", 0)),
                   train_flops=float(metrics.get("flops", 0.0)), stage_wall_seconds=train_wall,
                   eval_seconds=_stage_seconds(eval_dir, time.perf_counter() - tick),
                   loss_last=metrics.get("loss_last"), **extra)  # fmt: skip
    _log_arm(seed, arm.name, figures)
    return {"figures": figures, "records": records}


def training_input(arm: Arm, data: dict[str, Any]) -> Path | list[str]:
    """What ``arm`` trains on: its data file, or for a mixture the pruner's paths and the verbose traces with their weights."""
    files = data["files"]
    if arm.kind == "mix":
        assert arm.weight is not None
        return [f"{files[arm.data]}:{arm.weight:g}", f"{files['verbose']}:{1 - arm.weight:g}"]
    return Path(files["verbose" if arm.kind == "self" else arm.data])


def _stage_seconds(stage_dir: Path, fallback: float) -> float:
    """A stage's time over every run of it (a resumed eval that had nothing left to do took ~0 s now)."""
    m = manifest.read(stage_dir) or {}
    return float((m.get("wall_seconds") or {}).get("total") or fallback)


def _log_arm(seed: int, arm: str, figures: dict[str, Any]) -> None:
    log.info("lab: seed %d %-12s accuracy %.1f%%, %.0f output tokens, trained %.0f s", seed, arm, 100 * figures["accuracy"],
             figures["mean_output_tokens"], figures["train_seconds"])  # fmt: skip
