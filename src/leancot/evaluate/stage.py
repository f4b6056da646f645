"""The ``eval`` stage: a model's accuracy and token usage on math benchmarks.

``run(EvalConfig(...))`` loads each benchmark, renders the zero-shot R1 prompt with the
model's chat template, generates with the chosen backend, grades every output and counts
its tokens with the evaluated model's tokenizer, then writes::

(``--protocol`` picks another preset of prompt, template, decoding, budget, stop strings and
answer format: ``leancot.evaluate.protocols``; explicit flags override it.)


    OUT/records.jsonl   one EvalRecord per (benchmark, problem, sample), appended as batches finish;
                        each holds its question, so ``leancot prune --input OUT/records.jsonl`` reads
                        the samples as traces (``--split train --n 8``: on-policy training data)
    OUT/rejects.jsonl   requests the API refused outright (e.g. prompt too long), with the reason
    OUT/summary.json    per benchmark: accuracy, pass@k/mean@k, tokens, truncation, time, tokens/s
    OUT/manifest.json   the config, versions, and generation time per benchmark

A re-run over the same directory generates only the (benchmark, problem, sample) triples
not yet written, so it can resume a killed run, add benchmarks, a larger ``limit`` or more
samples; settings that change outputs (model, decoding, prompt) must match, else it refuses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from leancot import data, grading, manifest, stages
from leancot.errors import UsageError
from leancot.evaluate import protocols
from leancot.evaluate.backends import Backend, BackendOptions, Generation, Prompt, Sampling, backend_class, default_backend, load_backend
from leancot.evaluate.budget import budget_of
from leancot.evaluate.config import EvalConfig
from leancot.evaluate.counting import token_counts
from leancot.evaluate.metrics import summarize_benchmark
from leancot.evaluate.prompts import build_prompt
from leancot.evaluate.render import messages_for
from leancot.io import StageOutput, read_jsonl, write_json_atomic
from leancot.progress import progress_bar
from leancot.schema import EvalRecord, Problem, sample_id

log = logging.getLogger(__name__)


def run(config: EvalConfig) -> Path:
    """Evaluate ``config.model`` on ``config.benchmarks`` into ``config.out``; returns the dir.

    Never skipped: a re-run generates only the (benchmark, problem, sample) triples not yet
    written, so more benchmarks, a larger limit or more samples extend the same directory."""
    suites = {_bench_name(b): data.load(b, split=config.split, limit=config.limit, **config.field_kwargs()) for b in config.benchmarks}
    if config.shard:
        suites = {name: probs[config.shard[0] :: config.shard[1]] for name, probs in suites.items()}
    config = config.model_copy(update={"backend": config.backend or default_backend()})
    backend_class(config.backend)  # an unknown backend or a missing extra fails before anything is written
    _check_model(config)
    if config.backend == "openai" and config.tokenizer is None:
        log.warning("eval: counting tokens with the built-in tokenizer; pass --tokenizer with the served model's for exact counts")
    with manifest.stage_run(config.out, "eval", config.fingerprint_config(), {"model": config.model}, overwrite=config.overwrite,
                            allow_empty=config.allow_empty, skip_complete=False) as stage:  # fmt: skip
        timings = stage.previous.get("timings", {})
        with stage.output(key="problem_id") as out:
            done = finished_keys(config.out)
            todo = {name: [(p, s) for p in probs for s in range(config.n) if sample_id(name, p.id, s) not in done]
                    for name, probs in suites.items()}  # fmt: skip
            stage.total = sum(len(probs) for probs in suites.values()) * config.n
            if any(todo.values()):
                _generate_all(config, todo, out, stage.manifest, timings)
        summary = write_summary(config, suites, timings)
        stage.complete(_counts(config.out), timings=timings, summary=summary)
    return config.out


def _counts(out_dir: Path) -> dict[str, int]:
    records = sum(1 for _ in _jsonl_lines(out_dir / "records.jsonl"))
    rejects = sum(1 for _ in _jsonl_lines(out_dir / "rejects.jsonl"))
    return {"input": records + rejects, "records": records, "rejects": rejects}


def _jsonl_lines(path: Path):
    if path.exists():
        with open(path, encoding="utf-8") as f:
            yield from (line for line in f if line.strip())


def _bench_name(name: str) -> str:
    bench = data.find_benchmark(name)
    return bench.name if bench else Path(name).stem


def _check_model(config: EvalConfig) -> None:
    """Fail on a model that does not exist before anything is written (an API model is a name)."""
    if config.backend != "openai":
        from leancot import models

        models.resolve(config.model)


def finished_keys(out_dir: Path) -> set[str]:
    """``benchmark/problem/sample`` of every record and reject already in ``out_dir``."""
    keys = set()
    if (out_dir / "records.jsonl").exists():
        keys |= {sample_id(r["benchmark"], r["problem_id"], r["sample"]) for r in read_jsonl(out_dir / "records.jsonl")}
    if (out_dir / "rejects.jsonl").exists():
        keys |= {r["id"] for r in read_jsonl(out_dir / "rejects.jsonl")}
    return keys


def _generate_all(
    config: EvalConfig,
    todo: dict[str, list[tuple[Problem, int]]],
    out: StageOutput,
    man: manifest.Manifest,
    timings: dict[str, dict[str, float]],
) -> None:
    backend = load_backend(config.backend, _backend_options(config))
    try:
        with progress_bar("eval") as bar:
            for name, items in todo.items():
                if not items:
                    continue
                task = bar.add_task(f"{name} ({config.backend})", total=len(items))
                before = dict(timings.get(name, {"wall_s": 0.0, "generated_tokens": 0}))  # earlier runs over this dir

                def progress(k: int, wall: float, generated: int, name=name, before=before, task=task) -> None:
                    bar.advance(task, k)
                    timings[name] = {"wall_s": before["wall_s"] + wall, "generated_tokens": before["generated_tokens"] + generated}
                    man.write("running", timings=timings)

                budget = config.max_new_tokens_by_benchmark.get(name, config.max_new_tokens)
                sampling = Sampling(max_new_tokens=budget, temperature=config.temperature, top_p=config.top_p)
                _generate_benchmark(config, backend, sampling, name, items, out, progress)
    finally:
        backend.close()


def _generate_benchmark(
    config: EvalConfig, backend: Backend, sampling: Sampling, name: str, items: list[tuple[Problem, int]], out: StageOutput, progress
) -> None:
    """Generate one benchmark's pending samples, writing each batch's records as it finishes."""
    prompts = [_prepare(backend, config, build_prompt(p.question, name, config.prompt), _sample_seed(config.seed, name, p.id, s))
               for p, s in items]  # fmt: skip
    tokenizer = config.tokenizer or (None if config.backend == "openai" else str(_model_path(config.model)))
    started, generated = time.perf_counter(), 0
    for batch in backend.generate(prompts, sampling):
        results = [(items[i], prompts[i], g) for i, g in batch if g.error is None]
        results = [(item, prompt, _stopped(g, config.stop)) for item, prompt, g in results]
        for rec in make_records(name, results, tokenizer, answer_format=config.answer_format):
            out.add(rec)
        for i, g in batch:
            if g.error is not None:  # the backend refused this one prompt: a counted reject, not a crash
                reason, _, detail = g.error.partition(": ")
                out.reject(sample_id(name, items[i][0].id, items[i][1]), reason, detail)
        generated += sum(g.completion_tokens or 0 for _, _, g in results)
        progress(len(batch), time.perf_counter() - started, generated)


def _prepare(backend: Backend, config: EvalConfig, user: str, seed: int) -> Prompt:
    """The backend's prompt: the chat template's rendering, or (chat_template false) the text as is."""
    messages = messages_for(user, config.system_prompt)
    if config.chat_template or config.backend == "openai":  # an API always applies its own template
        return backend.prepare(messages, seed=seed)
    text = (config.system_prompt + "\n\n" if config.system_prompt else "") + user
    return Prompt(messages=messages, text=text, seed=seed)


def _stopped(gen: Generation, stop: list[str]) -> Generation:
    """The generation cut at the first stop string outside the reasoning (its tokens then re-counted from the text)."""
    text, cut = protocols.cut_at_stop(gen.text, stop)
    if not cut:
        return gen
    return Generation(text=text, finish_reason="stop", completion_tokens=None, error=gen.error)


def make_records(
    benchmark: str, results: list[tuple[tuple[Problem, int], Prompt, Generation]], tokenizer: str | None, answer_format: str = "any"
) -> list[EvalRecord]:
    """Grade a batch of outputs; their tokens are those the backend generated (see ``evaluate.counting``)."""
    outputs = [prompt.think_prefix + gen.text for _, prompt, gen in results]
    counts = token_counts(outputs, [gen for _, _, gen in results], tokenizer)
    records = []
    for ((problem, sample), _, gen), output, (reasoning, answer_n, total) in zip(results, outputs, counts):
        truncated = gen.finish_reason == "length"
        answer = protocols.strict_answer(output) if answer_format == "the-answer-is" else grading.extract_answer(output)
        records.append(EvalRecord(
            benchmark=benchmark, problem_id=problem.id, sample=sample, question=problem.question, output=output, answer=answer, gold=problem.gold_answer,
            correct=not truncated and grading.is_equivalent(answer, problem.gold_answer),
            reasoning_tokens=reasoning, answer_tokens=answer_n, total_tokens=total,
            finish_reason=gen.finish_reason, truncated=truncated,
        ))  # fmt: skip
    return records


def _sample_seed(seed: int, benchmark: str, problem_id: str, sample: int) -> int:
    """A seed per (problem, sample), stable across runs and batchings (31 bits for every backend)."""
    digest = hashlib.sha256(f"{seed}/{benchmark}/{problem_id}/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _model_path(model: str) -> Path | str:
    from leancot import models

    return models.resolve(model)


def _backend_options(config: EvalConfig) -> BackendOptions:
    model = config.model if config.backend == "openai" else str(_model_path(config.model))
    return BackendOptions(
        model=model, batch_size=config.batch_size, threads=config.threads, dtype=config.dtype,
        tensor_parallel_size=config.tensor_parallel_size,
        data_parallel_size=config.data_parallel_size, base_url=config.base_url, api_key_env=config.api_key_env,
        concurrency=config.concurrency, max_retries=config.max_retries, seed=config.seed,
    )  # fmt: skip


def write_summary(config: EvalConfig, suites: dict[str, list[Problem]], timings: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``summary.json``: per benchmark, over every record in the dir (this run's and earlier ones)."""
    path = config.out / "records.jsonl"
    by_bench: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in read_jsonl(path) if path.exists() else []:
        by_bench[r["benchmark"]].append(r)
    summary = {
        "model": config.model,
        "backend": config.backend,
        "protocol": config.protocol,
        "decoding": {
            "max_new_tokens": config.max_new_tokens,
            "max_new_tokens_by_benchmark": config.max_new_tokens_by_benchmark,
            "n": config.n,
            "temperature": config.temperature,
            "top_p": config.top_p,
        },
        "prompt": {
            "chat_template": config.chat_template,
            "prompt": config.prompt,
            "system_prompt": config.system_prompt,
            "stop": config.stop,
            "answer_format": config.answer_format,
        },
        "setup": run_setup(config),
        "benchmarks": {
            name: summarize_benchmark(rs, timings.get(name), budget_of(config.model_dump(), name)) for name, rs in sorted(by_bench.items())
        },  # fmt: skip
    }
    write_json_atomic(config.out / "summary.json", summary)
    return summary["benchmarks"]


def run_setup(config: EvalConfig) -> dict[str, Any]:
    """What else changes results: seed, dtype, batch size, parallelism, backend versions, hardware."""
    from leancot.evaluate.setup import hardware, versions

    return {"seed": config.seed, "dtype": config.dtype, "batch_size": config.batch_size,
            "tensor_parallel_size": config.tensor_parallel_size, "data_parallel_size": config.data_parallel_size,
            "versions": versions(config.backend), "hardware": hardware()}  # fmt: skip


def load_summary(out_dir: Path) -> dict[str, Any]:
    """The ``summary.json`` of an eval dir."""
    path = Path(out_dir) / "summary.json"
    if not path.exists():
        raise UsageError(f"{out_dir} has no summary.json: not an eval output directory")
    return json.loads(path.read_text(encoding="utf-8"))


def merged_summary(out: Path, config: dict[str, Any], timings: dict[str, Any]) -> dict[str, Any]:
    """``summary.json`` over the records of merged shards (per benchmark, as ``leancot eval`` writes it)."""
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            by_bench.setdefault(r["benchmark"], []).append(r)
    benchmarks = {name: summarize_benchmark(rs, timings.get(name), budget_of(config, name)) for name, rs in sorted(by_bench.items())}
    decoding = {k: config.get(k) for k in ("max_new_tokens", "max_new_tokens_by_benchmark", "temperature", "top_p")}
    write_json_atomic(
        out / "summary.json",
        {"model": config.get("model"), "backend": config.get("backend"), "decoding": decoding, "benchmarks": benchmarks, "merged": True},
    )
    return benchmarks


STAGE = stages.Stage(
    "eval",
    EvalConfig,
    run,
    command="leancot.evaluate.command:register",
    feeds=(stages.Feed("model", "train", "model"),),
    record_key=("benchmark", "problem_id", "sample"),
    shards=True,
    pipeline_keys=frozenset({"compare_to_base"}),
    evaluates=lambda c: [stages.Problems(b, c.split, None, c.field_kwargs()) for b in c.benchmarks],
    after_merge=lambda out, config, fields: {"summary": merged_summary(out, config, fields.get("timings", {}))},
)
