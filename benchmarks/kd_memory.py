"""Peak extra memory and time of KD losses, forward + backward: leancot's against a textbook loss and TRL's.

Two families, each on the same random inputs (fp32, 1 sequence of --positions, the first 64 masked):

- on given logits (inputs: student logits with grad, teacher logits):
  textbook ``F.kl_div`` (+ CE), TRL's GKD loss (``GKDTrainer.generalized_jsd_loss``), leancot's
  chunked ``distill_loss``;
- from hidden states (inputs: student hidden states and lm_head weight, both with grad, teacher
  hidden states and lm_head weight): the same three after projecting both models' full logits, TRL's
  chunked path (``trl.trainer.distillation_trainer._chunked_divergence_loss``, the DistillationTrainer's
  loss, no full logits), and leancot's ``fused_distill_loss`` (no full logits).

The loss is ``(1 - r) CE + r T^2 D`` with D the forward KL (TRL's beta 0) and r = --kd-ratio, 1 by
default because TRL's chunked path computes the divergence alone (it would need full logits for CE).

How memory is measured: each variant runs in a fresh subprocess that builds and touches its inputs,
resets the kernel's peak-RSS mark (``/proc/self/clear_refs`` 5), runs forward + backward, and reads
``VmHWM``; the extra memory is the peak minus the RSS before the loss. It includes the gradients the
loss produces (of the logits, or of the hidden states and the weight), which every variant of a
family must produce alike. On CUDA: ``torch.cuda.max_memory_allocated`` around the same call. Time
is the wall time of forward + backward in that process. Then leancot's fused loss and the plain
loss on projected logits run here on the same inputs to compare values and gradients.

TRL (and Liger) are installed for this benchmark only: ``pip install trl``; rows show "n/a" without it.

    python benchmarks/kd_memory.py [--vocab 151936] [--positions 2048] [--hidden 896] [--teacher-hidden 896] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MIB = 2**20
LOGITS = ("textbook", "trl-gkd", "leancot-chunked")
HIDDEN = ("textbook+proj", "trl-gkd+proj", "leancot-chunked+proj", "trl-chunked", "leancot-fused")


def _inputs(args: argparse.Namespace, family: str, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    n, v = args.positions, args.vocab
    labels = torch.randint(0, v, (1, n), generator=g)
    labels[0, :64] = -100  # a masked prompt
    if family == "logits":
        s = torch.randn(1, n, v, generator=g).to(device).requires_grad_()
        return {"s": s, "t": torch.randn(1, n, v, generator=g).to(device), "labels": labels.to(device)}
    h = torch.randn(1, n, args.hidden, generator=g).to(device).requires_grad_()
    w = (torch.randn(v, args.hidden, generator=g) / args.hidden**0.5).to(device).requires_grad_()
    t_h = torch.randn(1, n, args.teacher_hidden, generator=g).to(device)
    t_w = (torch.randn(v, args.teacher_hidden, generator=g) / args.teacher_hidden**0.5).to(device)
    return {"h": h, "w": w, "t_h": t_h, "t_w": t_w, "labels": labels.to(device)}


def _textbook(s, t, labels, r, temp):  # noqa: ANN001
    """What a KD tutorial writes: F.kl_div on log-softmaxes of the loss-bearing positions, batchmean."""
    import torch.nn.functional as F

    shifted = F.pad(labels[:, 1:], (0, 1), value=-100)
    mask = shifted != -100
    s_m, t_m = s[mask], t[mask]
    kl = F.kl_div(F.log_softmax(s_m / temp, -1), F.log_softmax(t_m / temp, -1), log_target=True, reduction="batchmean")
    return (1 - r) * F.cross_entropy(s_m, shifted[mask]) + r * temp**2 * kl if r < 1 else temp**2 * kl


def _trl_gkd(s, t, labels, r, temp):  # noqa: ANN001
    import torch.nn.functional as F
    from trl.experimental.gkd.gkd_trainer import GKDTrainer

    shifted = F.pad(labels[:, 1:], (0, 1), value=-100)
    kd = GKDTrainer.generalized_jsd_loss(s, t, labels=shifted, beta=0.0, temperature=temp)
    return (1 - r) * F.cross_entropy(s.view(-1, s.shape[-1]), shifted.view(-1)) + r * temp**2 * kd if r < 1 else temp**2 * kd


def _trl_chunked(x, r, temp):  # noqa: ANN001
    import torch.nn.functional as F
    from trl.trainer.distillation_trainer import _chunked_divergence_loss

    assert r == 1.0, "TRL's chunked path computes the divergence only (run with --kd-ratio 1)"
    mask = F.pad(x["labels"][:, 1:], (0, 1), value=-100) != -100
    loss, _, _ = _chunked_divergence_loss(x["h"], x["t_h"], x["w"], x["t_w"], mask.long(), beta=0.0, temperature=temp)
    return temp**2 * loss


def _loss(variant: str, x: dict, r: float, temp: float):
    from leancot.train.fused_loss import fused_distill_loss
    from leancot.train.losses import distill_loss

    kw = {"kd": "forward_kl", "kd_ratio": r, "temperature": temp}
    if variant == "leancot-fused":
        return fused_distill_loss(x["h"], x["w"], x["labels"], x["t_h"], x["t_w"], **kw)
    if variant == "trl-chunked":
        return _trl_chunked(x, r, temp)
    if variant.endswith("+proj"):
        s, t = x["h"] @ x["w"].T, x["t_h"] @ x["t_w"].T
        variant = variant[: -len("+proj")]
    else:
        s, t = x["s"], x["t"]
    if variant == "textbook":
        return _textbook(s, t, x["labels"], r, temp)
    if variant == "trl-gkd":
        return _trl_gkd(s, t, x["labels"], r, temp)
    return distill_loss(s, x["labels"], t, **kw)


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def child(variant: str, args: argparse.Namespace) -> None:
    """Run in a subprocess: print the variant's peak extra bytes and seconds as JSON."""
    import torch

    if variant.startswith("trl"):
        os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
        import trl  # noqa: F401  (imported before the measurement: its import is not the loss's memory)
        import trl.experimental.gkd.gkd_trainer  # noqa: F401
        import trl.trainer.distillation_trainer  # noqa: F401
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = _inputs(args, "logits" if variant in LOGITS else "hidden", device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = _rss("VmRSS")
    t0 = time.perf_counter()
    _loss(variant, x, args.kd_ratio, args.temperature).backward()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else _rss("VmHWM")
    print(json.dumps({"variant": variant, "device": device, "extra_bytes": peak - before, "seconds": seconds}))


def measure(variant: str, args: argparse.Namespace) -> dict | None:
    cmd = [sys.executable, __file__, "--child", variant] + [f"--{k.replace('_', '-')}={v}" for k, v in _sizes(args).items()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if "No module named 'trl'" in proc.stderr:
            return None
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sizes(args: argparse.Namespace) -> dict:
    keys = ("vocab", "positions", "hidden", "teacher_hidden", "kd_ratio", "temperature")
    return {k: getattr(args, k) for k in keys}


def compare(args: argparse.Namespace) -> tuple[float, float, float]:
    """|loss fused - plain|, max |grad difference| w.r.t. the hidden states and w.r.t. the weight."""
    import torch

    x = _inputs(args, "hidden", "cpu")
    out = []
    for variant in ("leancot-fused", "leancot-chunked+proj"):
        loss = _loss(variant, x, args.kd_ratio, args.temperature)
        out.append((loss.item(), *torch.autograd.grad(loss, (x["h"], x["w"]))))
    (va, ha, wa), (vb, hb, wb) = out
    return abs(va - vb), (ha - hb).abs().max().item(), (wa - wb).abs().max().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--positions", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=896, help="student hidden size (Qwen2.5-0.5B: 896)")
    ap.add_argument("--teacher-hidden", type=int, default=896)
    ap.add_argument("--kd-ratio", type=float, default=1.0)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per variant (fresh process each); the table shows the fastest")
    ap.add_argument("--child", choices=LOGITS + HIDDEN)
    args = ap.parse_args()
    if args.child:
        child(args.child, args)
        return
    rows = {v: None for v in LOGITS + HIDDEN}
    for _ in range(args.repeat):  # interleaved, so a busy moment of the machine does not hit one variant only
        for v in rows:
            r = measure(v, args)
            rows[v] = r if rows[v] is None or r is None else min(rows[v], r, key=lambda x: x["seconds"])
    _print_table(rows, args)
    dv, dh, dw = compare(args)
    print(f"fused vs plain (projected logits + distill_loss): |loss diff| {dv:.2e}, max |grad diff| hidden {dh:.2e}, weight {dw:.2e}"
          f"  (target <= 1e-5: {'PASS' if max(dv, dh, dw) <= 1e-5 else 'FAIL'})")  # fmt: skip


def _print_table(rows: dict, args: argparse.Namespace) -> None:
    device = next(r["device"] for r in rows.values() if r)
    print(f"KD forward_kl, T={args.temperature}, kd_ratio={args.kd_ratio}: vocab {args.vocab:,} x {args.positions:,} positions, "
          f"hidden {args.hidden} (teacher {args.teacher_hidden}), fp32, {device}; extra memory = peak above the inputs, "
          f"forward + backward, fresh process each ({'cuda max_memory_allocated' if device == 'cuda' else 'VmHWM after clear_refs'})")  # fmt: skip
    print(f"{'inputs':<8} {'loss':<22} {'extra MiB':>10} {'seconds':>8} {'x textbook':>11} {'x trl-chunked':>14}")
    for family, names in (("logits", LOGITS), ("hidden", HIDDEN)):
        base = rows[names[0]]
        for name in names:
            r = rows[name]
            if r is None:
                print(f"{family:<8} {name:<22} {'n/a (trl not installed)':>34}")
                continue
            vs_t = r["extra_bytes"] / base["extra_bytes"]
            trl = rows.get("trl-chunked") if family == "hidden" else None
            vs_c = f"{r['extra_bytes'] / trl['extra_bytes']:.3f}" if trl else "-"
            print(f"{family:<8} {name:<22} {r['extra_bytes'] / MIB:>10,.0f} {r['seconds']:>8.2f} {vs_t:>11.3f} {vs_c:>14}")
    fused, trl = rows["leancot-fused"], rows.get("trl-chunked")
    if trl:
        ratio, speed = fused["extra_bytes"] / trl["extra_bytes"], fused["seconds"] / trl["seconds"]
        print(f"target, from hidden states: <= 0.25x TRL chunked memory: {ratio:.3f} {'PASS' if ratio <= 0.25 else 'FAIL'}; "
              f"no slower: {speed:.2f}x its time {'PASS' if speed <= 1.0 else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
