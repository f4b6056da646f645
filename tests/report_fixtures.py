"""Small run directories shaped like the prune, train and eval stages write them, for the report tests.

Written by hand from the record types (``leancot.schema``) and the stages' documented outputs,
so the report is tested without training or evaluating anything.
"""

from __future__ import annotations

import json
from pathlib import Path

EVIL = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">'


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")


def _write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _step(i, text, skill, action, rewritten=None):
    return {"index": i, "text": text, "skill": skill, "action": action, "rewritten": rewritten}


def prune_records() -> list[dict]:
    """Three pruned traces: apples (keeps a 'pelican' step), trains, and one holding a script tag."""
    apples = [
        _step(0, "Okay, so Tom has 3 apples and buys 4 more.", "restatement", "delete"),
        _step(1, "Hmm, let me think about the pelican in the orchard.", "hesitation", "delete"),
        _step(2, "So 3 + 4 = 7 apples in total, I think.", "computation", "compress", "3 + 4 = 7."),
        _step(3, "Wait, let me double-check: 3 + 4 = 7. Yes.", "verification", "delete"),
        _step(4, "The answer is 7.", "final_answer", "keep"),
    ]
    trains = [
        _step(0, "A train goes 60 km/h for 2 hours.", "problem_setup", "keep"),
        _step(1, "Distance is speed times time.", "fact_retrieval", "merge", "Distance = 60 * 2 = 120 km."),
        _step(2, "60 * 2 = 120.", "computation", "merge", ""),
        _step(3, "Let me verify: 120 / 2 = 60. Correct.", "verification", "delete"),
    ]
    evil = [
        _step(0, f"The user wrote {EVIL} in the problem.", "restatement", "delete"),
        _step(1, "So 2 + 2 = 4.", "computation", "keep"),
    ]
    rows = []
    for rid, q, steps, ans in (("apples-1", "Tom has 3 apples and buys 4 more. How many?", apples, "7"),
                               ("trains-2", "A train goes 60 km/h for 2 hours. How far?", trains, "120"),
                               ("evil-3", f"What is 2 + 2? {EVIL}", evil, "4")):  # fmt: skip
        original = "\n".join(s["text"] for s in steps)
        kept = [s["text"] if s["rewritten"] is None else s["rewritten"] for s in steps if s["action"] != "delete"]
        pruned = "\n".join(k for k in kept if k) + f"\nThe answer is \\boxed{{{ans}}}"
        rows.append({"id": rid, "question": q, "gold_answer": ans, "original": original, "pruned": pruned, "steps": steps,
                     "answer": ans, "tokens_before": 10 * len(steps), "tokens_after": 4 * len(kept), "verified": True, "method": "heuristic"})  # fmt: skip
    return rows


def make_prune(d: Path, *, manifest: bool = True) -> Path:
    records = prune_records()
    _write_jsonl(d / "records.jsonl", records)
    _write_jsonl(d / "rejects.jsonl", [{"id": "bad-9", "reason": "incorrect_trace", "detail": "7 != 8"}])
    if manifest:
        _write(d / "manifest.json", {"stage": "prune", "status": "complete", "config": {"tokenizer": "smollm2-135m"}, "wall_seconds": 1.5,
                                     "counts": {"input": 4, "records": 3, "rejects": 1}})  # fmt: skip
    return d


def make_train(d: Path, *, lsp: float, wall: float, loss: list[float] | None = None, manifest: bool = True) -> Path:
    loss = loss if loss is not None else [2.0, 1.5, 1.2, 1.0]
    (d / "model").mkdir(parents=True, exist_ok=True)
    _write(d / "metrics.json", {
        "sequences": 100, "trained_tokens": int(50_000 * lsp), "loss_tokens": int(40_000 * lsp), "student_params": 135_000_000,
        "trainable_params": 4_000_000, "teacher_params": 0, "flops": 6 * 135e6 * 50_000 * lsp, "wall_seconds": wall,
        "tokens_per_second": 50_000 * lsp / wall, "peak_memory_bytes": 3 * 2**30, "peak_memory_source": "ru_maxrss",
        "optimizer_steps": len(loss), "loss_first": loss[0] if loss else None, "loss_last": loss[-1] if loss else None,
        "loss_curve": [{"step": i + 1, "loss": v} for i, v in enumerate(loss)], "extra": {"device": "cpu"},
    })  # fmt: skip
    if manifest:
        _write(d / "manifest.json", {"stage": "train", "status": "complete", "wall_seconds": wall + 3,
                                     "config": {"student": "smollm2-135m", "policy": "lsp", "lsp": lsp}})  # fmt: skip
    return d


def make_eval(d: Path, *, model: str, accuracy: float, mean_tokens: float, benchmark: str = "gsm8k", summary: bool = True) -> Path:
    n = 10
    records = [{"benchmark": benchmark, "problem_id": f"p{i}", "sample": 0, "output": f"<think>{EVIL}</think> 4", "answer": "4", "gold": "4",
                "correct": i < round(accuracy * n), "reasoning_tokens": int(mean_tokens) - 5, "answer_tokens": 5,
                "total_tokens": int(mean_tokens), "finish_reason": "stop"} for i in range(n)]  # fmt: skip
    _write_jsonl(d / "records.jsonl", records)
    _write(d / "manifest.json", {"stage": "eval", "status": "complete", "config": {"model": model}, "wall_seconds": 12.0})
    if summary:
        _write(d / "summary.json", {"model": model, "benchmarks": {benchmark: {
            "problems": n, "records": n, "samples_per_problem": 1, "accuracy": accuracy, "truncation_rate": 0.0, "no_answer_rate": 0.0,
            "mean_tokens": mean_tokens, "median_tokens": mean_tokens, "mean_reasoning_tokens": mean_tokens - 5, "wall_s": 12.0,
            "generated_tokens": int(n * mean_tokens), "tokens_per_s": n * mean_tokens / 12.0}}})  # fmt: skip
    return d


def make_sweep(root: Path) -> list[Path]:
    """A prune run and an LSP sweep: for each lsp, a train run and the eval run of its model (linked by path)."""
    make_prune(root / "prune")
    dirs = [root / "prune"]
    for lsp, wall, acc, tokens in ((0.25, 30.0, 0.5, 300.0), (0.5, 55.0, 0.7, 420.0), (1.0, 100.0, 0.8, 800.0)):
        run = root / f"lsp{lsp:g}"
        make_train(run / "train", lsp=lsp, wall=wall)
        make_eval(run / "eval", model=str(run / "train" / "model"), accuracy=acc, mean_tokens=tokens)
        dirs.append(run)
    return dirs
