"""Batched vs batch-size-1 generation with the hf eval backend, measured in the same run.

SmolLM2-135M-Instruct on CPU, the first 16 GSM8K test problems, greedy, the R1 prompt
through the model's chat template (exactly what ``leancot eval`` feeds it). Prints tokens/s
of each mode, their ratio (target: >= 3x), and which greedy outputs differ (target: <= 1 of 16),
with the first position where they part.

    python benchmarks/eval_batching.py [--problems 16] [--max-new-tokens 128] [--threads 1]

Why --threads 1 by default: on a machine whose cores are shared with other work, OpenMP's
spinning threads make 2 threads several times slower than 1 for this small model; both modes
run with the same setting, so the ratio is fair either way (the figure printed names it).
"""

from __future__ import annotations

import argparse
import time

from leancot import data, models
from leancot.evaluate.backends import BackendOptions, Sampling
from leancot.evaluate.backends.hf import HFBackend
from leancot.evaluate.prompts import build_prompt
from leancot.evaluate.render import messages_for


def timed(backend: HFBackend, prompts, sampling: Sampling, batch_size: int):
    backend.batch_size = batch_size
    started = time.perf_counter()
    results = {i: g for batch in backend.generate(prompts, sampling) for i, g in batch}
    wall = time.perf_counter() - started
    tokens = sum(g.completion_tokens for g in results.values())
    return [results[i] for i in range(len(prompts))], tokens, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    problems = data.load("gsm8k", limit=args.problems)
    backend = HFBackend(BackendOptions(model=str(models.resolve("smollm2-135m")), threads=args.threads))
    prompts = [backend.prepare(messages_for(build_prompt(p.question, "gsm8k"))) for p in problems]
    sampling = Sampling(max_new_tokens=args.max_new_tokens)

    batched, tok_b, wall_b = timed(backend, prompts, sampling, batch_size=len(prompts))
    single, tok_s, wall_s = timed(backend, prompts, sampling, batch_size=1)

    print(
        f"SmolLM2-135M, hf backend, CPU, {args.threads} thread(s), {len(prompts)} GSM8K problems, greedy, max_new_tokens={args.max_new_tokens}"
    )
    print(f"batch size 1 : {tok_s:5d} tokens in {wall_s:7.1f} s = {tok_s / wall_s:6.1f} tokens/s")
    print(f"batch size {len(prompts):<2}: {tok_b:5d} tokens in {wall_b:7.1f} s = {tok_b / wall_b:6.1f} tokens/s")
    ratio = (tok_b / wall_b) / (tok_s / wall_s)
    print(f"speed-up: {ratio:.2f}x (target >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
    same = sum(a.text == b.text for a, b in zip(batched, single))
    print(
        f"identical greedy outputs: {same}/{len(prompts)} (target >= {len(prompts) - 1}: {'met' if same >= len(prompts) - 1 else 'NOT met'})"
    )
    ids = lambda text: backend.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    for i, (a, b) in enumerate(zip(batched, single)):
        if a.text != b.text:
            x, y = ids(a.text), ids(b.text)
            k = next((j for j, (u, v) in enumerate(zip(x, y)) if u != v), min(len(x), len(y)))
            print(
                f"  {problems[i].id}: outputs part at generated token {k} "
                f"(batched {backend.tokenizer.decode(x[k : k + 3])!r} vs alone {backend.tokenizer.decode(y[k : k + 3])!r}); "
                "left padding changes the float summation order, which flips a near-tie between two tokens"
            )


if __name__ == "__main__":
    main()
