"""Lead-span truncation: time per optimizer step and peak step memory at LSP 0.5 vs LSP 1.0.

Targets: LSP 0.5 takes <= 0.55x the time per optimizer step and <= 0.65x the peak memory of LSP 1.0.

What runs: the bundled real R1 traces (``leancot.data.traces_path()``) rendered with the student's
chat template by ``leancot.train.data`` (prompt + <think> reasoning </think> + answer; the traces are
3-8k tokens, so each sequence is capped at ``--full-length`` tokens by keeping the first part of its
reasoning: that is the "full" sequence); ``build_example(policy="lsp", lsp=X)`` masks and truncates;
``PadToLongest`` batches. The step is what ``DistillTrainer`` does: forward, ``distill_loss``
(CE on cot+answer), backward, AdamW step, on SmolLM2-135M with only ``--layers`` of its layers
(LoRA r=16 on all linear layers), fp32 on CPU.

How it is measured: each LSP setting runs in a fresh subprocess, one after the other in this run.
There a warm-up step on a 16-token batch allocates the optimizer state; then the peak RSS
(``ru_maxrss``) is read, ``--steps`` steps run on the real batches, and the step memory is the peak
RSS afterwards minus that baseline (on a GPU: ``torch.cuda.max_memory_allocated`` minus the memory
allocated before the steps). Time per step is the median of the timed steps (``perf_counter``).

    python benchmarks/train_lsp.py [--layers 4] [--full-length 512] [--batch-size 2] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def batches(args: argparse.Namespace, lsp: float, tokenizer) -> list[dict]:
    from leancot.data import traces_path
    from leancot.io import iter_rows
    from leancot.train.data import PadToLongest, build_example, record_sections, tokenize_sections

    examples = []
    for row in iter_rows(traces_path()):
        d = row.data
        sec = record_sections({"id": d["id"], "question": d["problem"], "completion": d["completion"], "answer": d["gt_answer"]})
        if isinstance(sec, tuple):
            continue
        p, c, a = tokenize_sections(tokenizer, sec)
        if len(p) + len(a) >= args.full_length * 3 // 4:
            continue  # a long summary after </think> would leave too little reasoning
        c = c[: args.full_length - len(p) - len(a)]  # the "full" sequence: the first part of the reasoning
        ex = build_example(p, c, a, loss_on={"cot", "answer"}, policy="lsp", lsp=lsp)
        if ex is not None:
            examples.append({"input_ids": ex[0], "labels": ex[1]})
        if len(examples) == args.batch_size * args.steps:
            break
    collate = PadToLongest(tokenizer.pad_token_id or 0)
    return [collate(examples[i : i + args.batch_size]) for i in range(0, len(examples), args.batch_size)]


def child(args: argparse.Namespace) -> None:
    import torch

    from leancot.train.config import TrainConfig
    from leancot.train.losses import distill_loss
    from leancot.train.trainer import add_lora, load_model, load_tokenizer

    torch.manual_seed(0)
    spec = f"smollm2-135m:layers={args.layers}"
    tokenizer = load_tokenizer("smollm2-135m", None)
    data = batches(args, args.child, tokenizer)
    cfg = TrainConfig.model_construct(lora_r=16, lora_alpha=32, lora_dropout=0.0, lora_targets="all-linear")
    model = add_lora(load_model(spec, None), cfg)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(batch: dict) -> None:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        distill_loss(out.logits, batch["labels"]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()

    step({k: v[:1, :16] for k, v in data[0].items()})  # warm-up: optimizer state, kernels
    base = _peak(device, reset=True)
    times = []
    for b in data:
        t0 = time.perf_counter()
        step(b)
        times.append(time.perf_counter() - t0)
    tokens = sum(int(b["attention_mask"].sum()) for b in data)
    print(
        json.dumps(
            {
                "lsp": args.child,
                "steps": len(data),
                "step_s": statistics.median(times),
                "mem_bytes": _peak(device) - base,
                "tokens_per_step": tokens / len(data),
                "device": device,
            }
        )
    )


def _peak(device: str, reset: bool = False) -> int:
    import torch

    if device == "cuda":
        if reset:
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated()
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--full-length", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--child", type=float)
    args = ap.parse_args()
    if args.child is not None:
        child(args)
        return
    res = {}
    for lsp in (1.0, 0.5):
        cmd = [sys.executable, __file__, "--child", str(lsp), "--layers", str(args.layers), "--full-length", str(args.full_length),
               "--batch-size", str(args.batch_size), "--steps", str(args.steps)]  # fmt: skip
        res[lsp] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    full, half = res[1.0], res[0.5]
    t, m = half["step_s"] / full["step_s"], half["mem_bytes"] / full["mem_bytes"]
    print(f"SmolLM2-135M:layers={args.layers} + LoRA r=16, fp32, {full['device']}; real R1 traces capped at {args.full_length} tokens; "
          f"batch {args.batch_size}, up to {args.steps} timed steps per setting (as many as the traces fill), fresh process each")  # fmt: skip
    for lsp, r in res.items():
        print(
            f"  LSP {lsp:.1f}: {r['steps']} steps, {r['tokens_per_step']:7.0f} tokens/step, {r['step_s']:6.2f} s/step (median), peak step memory {r['mem_bytes'] / 2**20:7.0f} MiB"
        )
    mem_how = (
        "cuda max_memory_allocated above the pre-step allocation"
        if full["device"] == "cuda"
        else "ru_maxrss after the steps minus after a 16-token warm-up step"
    )
    print(f"  memory measured as: {mem_how}")
    print(f"  LSP 0.5 / 1.0: time per step {t:.3f} (target <= 0.55: {'PASS' if t <= 0.55 else 'FAIL'}), "
          f"peak memory {m:.3f} (target <= 0.65: {'PASS' if m <= 0.65 else 'FAIL'})")  # fmt: skip


if __name__ == "__main__":
    main()
