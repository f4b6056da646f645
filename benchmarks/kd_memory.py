"""Peak memory of the chunked KD loss vs the naive one, at vocabulary 49,152 and 2,048 positions.

Target: chunked peak <= 0.25x naive, and the two losses (and gradients) equal within 1e-5.

How it is measured: each loss runs forward + backward in a fresh subprocess. The subprocess first
allocates and touches its inputs (student logits with grad, teacher logits, labels: fp32), reads its
peak RSS (``ru_maxrss``), runs the loss, and reads the peak again; the difference is the loss's peak
extra memory (its temporaries plus the gradient of the logits, which both versions must produce).
On a GPU the same is done with ``torch.cuda.max_memory_allocated``. Then both losses run in this
process on the same inputs to compare values and gradients.

    python benchmarks/kd_memory.py [--vocab 49152] [--positions 2048] [--kd forward_kl]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def _inputs(vocab: int, positions: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    s = torch.randn(1, positions, vocab, generator=g).to(device).requires_grad_()
    t = torch.randn(1, positions, vocab, generator=g).to(device)
    labels = torch.randint(0, vocab, (1, positions), generator=g).to(device)
    labels[0, :64] = -100  # a masked prompt
    return s, t, labels


def _loss(mode: str, kd: str):
    from leancot.train.losses import distill_loss, naive_distill_loss

    fn = distill_loss if mode == "chunked" else naive_distill_loss
    return lambda s, labels, t: fn(s, labels, t, kd=kd, kd_ratio=0.5, temperature=2.0)


def child(mode: str, vocab: int, positions: int, kd: str) -> None:
    """Run in a subprocess: print the loss's peak extra bytes above its inputs."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    s, t, labels = _inputs(vocab, positions, device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.max_memory_allocated()
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    _loss(mode, kd)(s, labels, t).backward()
    after = torch.cuda.max_memory_allocated() if device == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"mode": mode, "device": device, "extra_bytes": after - before, "inputs_bytes": 2 * s.numel() * 4}))


def measure(mode: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--vocab", str(args.vocab), "--positions", str(args.positions), "--kd", args.kd]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> tuple[float, float]:
    """Max |loss difference| and max |gradient difference| of chunked vs naive."""
    import torch

    s, t, labels = _inputs(args.vocab, args.positions, "cpu")
    values, grads = [], []
    for mode in ("chunked", "naive"):
        loss = _loss(mode, args.kd)(s, labels, t)
        (g,) = torch.autograd.grad(loss, s)
        values.append(loss.item())
        grads.append(g)
    return abs(values[0] - values[1]), (grads[0] - grads[1]).abs().max().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--positions", type=int, default=2048)
    ap.add_argument("--kd", default="forward_kl")
    ap.add_argument("--child", choices=["chunked", "naive"])
    args = ap.parse_args()
    if args.child:
        child(args.child, args.vocab, args.positions, args.kd)
        return
    naive, chunked = measure("naive", args), measure("chunked", args)
    dv, dg = compare(args)
    ratio = chunked["extra_bytes"] / naive["extra_bytes"]
    mib = 2**20
    print(f"KD loss ({args.kd}, T=2, kd_ratio=0.5), vocab {args.vocab:,} x {args.positions:,} positions, fp32, device {naive['device']}")
    print(f"  inputs (student + teacher logits): {naive['inputs_bytes'] / mib:,.0f} MiB (not counted)")
    print(f"  peak extra memory, forward+backward, fresh process each ({'cuda max_memory_allocated' if naive['device'] == 'cuda' else 'ru_maxrss delta'}):")
    print(f"    naive   {naive['extra_bytes'] / mib:8,.0f} MiB")
    print(f"    chunked {chunked['extra_bytes'] / mib:8,.0f} MiB   ratio {ratio:.3f}  (target <= 0.25: {'PASS' if ratio <= 0.25 else 'FAIL'})")
    print(f"  |loss chunked - naive| = {dv:.2e}, max |grad difference| = {dg:.2e}  (target <= 1e-5: {'PASS' if max(dv, dg) <= 1e-5 else 'FAIL'})")


if __name__ == "__main__":
    main()
