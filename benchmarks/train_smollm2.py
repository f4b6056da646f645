"""SmolLM2-135M LoRA SFT on the pruned real traces, on CPU: throughput, loss, merged model.

Targets: >= 100 trained tokens/s, the loss falls, and ``DIR/model`` (LoRA merged) loads with plain
``AutoModelForCausalLM`` and generates.

What runs: ``leancot prune`` on the bundled R1 traces (``leancot.data.traces_path()``; if the prune
stage cannot run, the raw traces' reasoning is the stand-in and the script says so), then
``leancot.train.stage.run`` with the built-in student, LoRA r=16 on all linear layers, loss on
cot+answer, sequences cut at ``--max-length`` tokens, ``--epochs`` over the first ``--limit`` records.
Throughput is ``metrics.json``'s ``tokens_per_second``: non-padding tokens fed to the model divided
by the Trainer's wall time (``perf_counter`` around training, checkpoint saves included).

    python benchmarks/train_smollm2.py [--out runs/bench-smollm2] [--limit 8] [--max-length 256] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path


def pruned_records(work: Path) -> tuple[Path, str]:
    from leancot.data import traces_path

    try:
        from leancot.prune.config import PruneConfig
        from leancot.prune.stage import run as prune

        out = prune(PruneConfig(input=traces_path(), out=work / "prune"))
        return out / "records.jsonl", "pruned by `leancot prune` (heuristic), verified records only"
    except ImportError as e:  # the prune stage is not there: train on the raw reasoning instead
        return traces_path(), f"STAND-IN: raw trace reasoning (prune stage unavailable: {e})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="Work dir (default: a temp dir, removed afterwards).")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="leancot-bench-"))
    try:
        report(work, args)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


def report(work: Path, args: argparse.Namespace) -> None:
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run

    data, source = pruned_records(work)
    config = TrainConfig(
        input=data, out=work / "train", student="smollm2-135m", lora=True, policy="cut", max_length=args.max_length,
        limit=args.limit, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup=0, save_steps=10_000, overwrite=True,
        reasoning_field="pruned" if data.name == "records.jsonl" else None,
    )  # fmt: skip
    out = run(config)
    m = json.loads((out / "metrics.json").read_text())
    curve = [c["loss"] for c in m["loss_curve"]]
    k = max(1, len(curve) // 4)
    first, last = sum(curve[:k]) / k, sum(curve[-k:]) / k
    print(f"SmolLM2-135M-Instruct LoRA r=16 (all linear), fp32, {m['extra']['device']}; data: {source}")
    print(f"  {m['sequences']} sequences ({args.limit} records x {args.epochs:g} epochs, cut at {args.max_length} tokens), "
          f"{m['trained_tokens']:,} tokens ({m['loss_tokens']:,} with loss), {m['optimizer_steps']} optimizer steps")  # fmt: skip
    print(
        f"  throughput {m['tokens_per_second']:.1f} tokens/s over {m['wall_seconds']:.1f} s (target >= 100: {'PASS' if m['tokens_per_second'] >= 100 else 'FAIL'})"
    )
    print(
        f"  loss: mean of first {k} steps {first:.3f} -> last {k} steps {last:.3f} ({'falls: PASS' if last < first else 'does not fall: FAIL'})"
    )
    print(f"  FLOPs {m['flops']:.3g}, peak memory {m['peak_memory_bytes'] / 2**30:.2f} GiB ({m['peak_memory_source']})")
    print("  merged model: " + generate(out / "model"))


def generate(model_dir: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert not any("lora" in n for n, _ in model.named_parameters()), "LoRA weights were not merged"
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 12 * 7?"}], add_generation_prompt=True, tokenize=False)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    gen = model.generate(ids, max_new_tokens=24, do_sample=False)
    text = tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True)
    return f"loads with AutoModelForCausalLM (no LoRA modules), generates {gen.shape[1] - ids.shape[1]} tokens: {text!r}"


if __name__ == "__main__":
    main()
