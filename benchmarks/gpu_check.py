"""The in-process figures of ``benchmarks/gpu_check.sh``, and the step that joins them into one JSON.

    python benchmarks/gpu_check.py figures --size full|dry --work DIR   # writes DIR/figures.json
    python benchmarks/gpu_check.py collect --work DIR --out FILE         # + the FSDP launch and the lab

full: a Qwen2.5-1.5B-shaped model (random weights, built from a config), 4,096 tokens, bf16, on CUDA;
KD at vocabulary 151,936 and 4,096 positions. dry: tiny shapes, on CPU in seconds (the test).

- ``sft``: LoRA (bf16 weights, r 16, all linear layers) and full fine-tuning (fp32 weights, bf16
  autocast: what ``leancot train --full`` does on a GPU): tokens/s and model FLOPs utilisation,
  FLOPs counted as in ``leancot.train.compute`` (6 x parameters x tokens; attention not counted).
- ``lsp``: LoRA step time and peak CUDA memory of one sequence cut by lead-span truncation at 0.5
  (``build_example``) against the whole sequence (1.0), in the same process.
- ``kd``: peak extra CUDA memory of forward + backward, ``distill_loss`` (chunked) against
  ``naive_distill_loss``, fp32 logits, forward KL, kd ratio 0.5; loss and gradient differences.

Memory figures are None on CPU (no allocator to reset); the dry size only checks that every step runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

SIZES: dict[str, dict[str, Any]] = {
    "full": {"model": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
                       "num_key_value_heads": 2, "vocab_size": 151936}, "tokens": 4096, "kd_vocab": 151936, "kd_positions": 4096,
             "warmup": 2, "steps": 5},
    "dry": {"model": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                      "num_key_value_heads": 2, "vocab_size": 512}, "tokens": 128, "kd_vocab": 512, "kd_positions": 64,
            "warmup": 1, "steps": 2},
}  # fmt: skip
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12}  # dense bf16 tensor-core peak, per GPU
TARGETS = {"lsp_step_time_ratio": 0.55, "lsp_peak_memory_ratio": 0.65, "kd_peak_memory_ratio": 0.25, "kd_max_abs_diff": 1e-5}
CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")


def _sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def _free() -> None:
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_flops() -> float | None:
    name = torch.cuda.get_device_name() if CUDA else ""
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def qwen_shaped(size: str, *, lora: bool) -> torch.nn.Module:
    """A Qwen2 causal LM with random weights: bf16 with LoRA adapters, or fp32 for full fine-tuning."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SIZES[size]["model"], tie_word_embeddings=True, max_position_embeddings=32768, rope_theta=1e6)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16 if lora else torch.float32)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    return model.train()


def time_steps(model: torch.nn.Module, ids: list[int], labels: list[int], size: str) -> tuple[float, int | None]:
    """Seconds per optimizer step (after warm-up) and peak CUDA memory of one (1, len(ids)) sequence."""
    from leancot.train.losses import distill_loss

    x = torch.tensor([ids], device=DEVICE)
    y = torch.tensor([labels], device=DEVICE)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    autocast = torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=CUDA)

    def step() -> None:
        with autocast:
            loss = distill_loss(model(input_ids=x).logits, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(SIZES[size]["warmup"]):
        step()
    _sync()
    if CUDA:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(SIZES[size]["steps"]):
        step()
    _sync()
    seconds = (time.perf_counter() - t0) / SIZES[size]["steps"]
    return seconds, int(torch.cuda.max_memory_allocated()) if CUDA else None


def sft(size: str) -> dict[str, Any]:
    tokens = SIZES[size]["tokens"]
    ids = torch.randint(0, SIZES[size]["model"]["vocab_size"], (tokens,)).tolist()
    out: dict[str, Any] = {"tokens": tokens}
    for mode in ("lora", "full"):
        model = qwen_shaped(size, lora=mode == "lora")
        params = sum(p.numel() for p in model.parameters())
        seconds, peak = time_steps(model, ids, ids, size)
        flops_per_s = 6 * params * tokens / seconds
        peak_flops = _peak_flops()
        out[mode] = {"params": params, "step_seconds": round(seconds, 4), "tokens_per_second": round(tokens / seconds, 1),
                     "mfu": round(flops_per_s / peak_flops, 4) if peak_flops else None, "peak_memory_bytes": peak}  # fmt: skip
        del model
        _free()
    return out


def lsp(size: str) -> dict[str, Any]:
    from leancot.train.data import build_example

    tokens, vocab = SIZES[size]["tokens"], SIZES[size]["model"]["vocab_size"]
    ids = torch.randint(0, vocab, (tokens,)).tolist()
    edge = max(2, tokens // 64)  # prompt and answer: 64 tokens each at full size
    prompt, cot, answer = ids[:edge], ids[edge : tokens - edge], ids[tokens - edge :]
    model = qwen_shaped(size, lora=True)
    out: dict[str, Any] = {}
    for share in (1.0, 0.5):
        ex = build_example(prompt, cot, answer, policy="lsp", lsp=share)
        assert ex is not None
        seconds, peak = time_steps(model, ex[0], ex[1], size)
        out[f"lsp_{share}"] = {"tokens": len(ex[0]), "step_seconds": round(seconds, 4), "peak_memory_bytes": peak}
    a, b = out["lsp_0.5"], out["lsp_1.0"]
    out["step_time_ratio"] = round(a["step_seconds"] / b["step_seconds"], 3)
    out["peak_memory_ratio"] = round(a["peak_memory_bytes"] / b["peak_memory_bytes"], 3) if CUDA else None
    del model
    _free()
    return out


def _loss_memory(
    fn: Callable[..., torch.Tensor], s: torch.Tensor, t: torch.Tensor, y: torch.Tensor
) -> tuple[float, torch.Tensor, int | None]:
    """Loss, gradient and peak extra CUDA memory of forward + backward of ``fn`` on fresh leaves."""
    leaf = s.detach().clone().requires_grad_()
    _free()
    base = torch.cuda.memory_allocated() if CUDA else 0
    loss = fn(leaf, y, t, kd="forward_kl", kd_ratio=0.5)
    loss.backward()
    _sync()
    peak = int(torch.cuda.max_memory_allocated() - base) if CUDA else None
    return float(loss.detach()), leaf.grad, peak


def kd(size: str) -> dict[str, Any]:
    from leancot.train.losses import IGNORE_INDEX, distill_loss, naive_distill_loss

    vocab, positions = SIZES[size]["kd_vocab"], SIZES[size]["kd_positions"]
    torch.manual_seed(0)
    s = torch.randn(1, positions, vocab, device=DEVICE)
    t = torch.randn(1, positions, vocab, device=DEVICE)
    y = torch.randint(0, vocab, (1, positions), device=DEVICE)
    y[:, : min(64, positions // 4)] = IGNORE_INDEX
    naive_loss, naive_grad, naive_peak = _loss_memory(naive_distill_loss, s, t, y)
    naive_grad = naive_grad.cpu()
    chunked_loss, chunked_grad, chunked_peak = _loss_memory(distill_loss, s, t, y)
    diff = max(abs(chunked_loss - naive_loss), float((chunked_grad.cpu() - naive_grad).abs().max()))
    return {"vocab": vocab, "positions": positions, "naive_peak_bytes": naive_peak, "chunked_peak_bytes": chunked_peak,
            "peak_memory_ratio": round(chunked_peak / naive_peak, 3) if CUDA else None, "loss": chunked_loss, "max_abs_diff": diff}  # fmt: skip


def fsdp_inputs(work: Path) -> None:
    """A byte-tokenizer tiny student and 16 records for the FSDP launch (no hub, no tokenizer fetch)."""
    from leancot.tiny import make_tiny_model

    make_tiny_model(work / "fsdp_student", vocab_from=None, n_layer=2, hidden=64)
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}.", "answer": str(2 * i)} for i in range(16)]
    (work / "fsdp_data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def figures(size: str, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    device = {"device": torch.cuda.get_device_name() if CUDA else "cpu", "torch": torch.__version__, "size": size}
    result = {"device": device, "sft": sft(size), "lsp": lsp(size), "kd": kd(size)}
    fsdp_inputs(work)
    (work / "figures.json").write_text(json.dumps(result, indent=2))


def _step(work: Path, name: str) -> dict[str, Any]:
    """rc and seconds the shell script recorded for a launched step (``NAME.rc``, ``NAME.seconds``)."""

    def read(ext: str) -> str | None:
        path = work / f"{name}.{ext}"
        return path.read_text().strip() if path.exists() else None

    rc, seconds = read("rc"), read("seconds")
    return {"rc": int(rc) if rc is not None else None, "seconds": int(seconds) if seconds is not None else None}


def collect(work: Path, out: Path) -> None:
    result = json.loads((work / "figures.json").read_text())
    fsdp = _step(work, "fsdp")
    metrics = work / "fsdp" / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        fsdp |= {k: m.get(k) for k in ("optimizer_steps", "loss_first", "loss_last", "tokens_per_second")} | {"extra": m.get("extra")}
    lab = _step(work, "lab")
    summary = work / "lab" / "lab_summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        lab |= {"wall_seconds": s.get("wall_seconds"), "targets": s.get("targets")}
    result |= {"fsdp": fsdp, "lab": lab}
    figures_met = {
        "lsp_step_time_ratio": result["lsp"]["step_time_ratio"], "lsp_peak_memory_ratio": result["lsp"]["peak_memory_ratio"],
        "kd_peak_memory_ratio": result["kd"]["peak_memory_ratio"], "kd_max_abs_diff": result["kd"]["max_abs_diff"],
    }  # fmt: skip
    result["targets"] = {
        k: {"value": v, "target": f"<= {TARGETS[k]}", "met": None if v is None else v <= TARGETS[k]} for k, v in figures_met.items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("figures", "collect"))
    ap.add_argument("--size", choices=tuple(SIZES), default="full")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.step == "figures":
        figures(args.size, args.work)
    else:
        collect(args.work, args.out or args.work / "gpu_check.json")


if __name__ == "__main__":
    main()
