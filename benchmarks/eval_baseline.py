"""SmolLM2-135M-Instruct's own GSM8K accuracy and tokens: the honest baseline a student is measured against.

The first 100 GSM8K test problems, greedy, the zero-shot R1 prompt, max_new_tokens 512 (the
model's answers are short; a longer budget mostly buys longer loops), the hf backend on CPU.
Runs ``leancot eval`` itself, so it resumes if interrupted. The same as:

    leancot eval --model smollm2-135m --benchmarks gsm8k --limit 100 --max-new-tokens 512 \\
        --batch-size 16 --threads 1 --out runs/eval_baseline

    python benchmarks/eval_baseline.py [--out runs/eval_baseline] [--limit 100] [--max-new-tokens 512]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/eval_baseline"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    config = EvalConfig(model="smollm2-135m", benchmarks=["gsm8k"], limit=args.limit, max_new_tokens=args.max_new_tokens,
                        batch_size=args.batch_size, threads=args.threads, out=args.out)  # fmt: skip
    out = run(config)
    s = json.loads((out / "summary.json").read_text())["benchmarks"]["gsm8k"]
    print(
        f"SmolLM2-135M-Instruct on the first {s['problems']} GSM8K test problems (greedy, R1 prompt, max_new_tokens={args.max_new_tokens}, hf, CPU)"
    )
    print(f"accuracy          : {s['accuracy']:.1%} ({round(s['accuracy'] * s['records'])}/{s['records']})")
    print(f"mean tokens       : {s['mean_tokens']:.1f} (median {s['median_tokens']})")
    correct = f"{s['mean_tokens_correct']:.1f}" if s["mean_tokens_correct"] is not None else "-"
    print(f"mean tokens, right: {correct}")
    print(f"truncation rate   : {s['truncation_rate']:.1%} (cut off at {args.max_new_tokens} tokens, graded wrong)")
    print(f"no answer found   : {s['no_answer_rate']:.1%}")
    print(f"generation        : {s['generated_tokens']} tokens in {s['wall_s']:.0f} s = {s['tokens_per_s']} tokens/s")


if __name__ == "__main__":
    main()
