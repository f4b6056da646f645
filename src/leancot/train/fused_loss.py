"""The KD loss from hidden states: neither model's (positions x vocab) logits ever exist in full.

``fused_distill_loss`` is ``distill_loss(h_s @ W_s.T, labels, h_t @ W_t.T, ...)`` (same value, same
gradient w.r.t. the student's hidden states and output-layer weight, every divergence of
``DIVERGENCES``, CE mixed in by ``kd_ratio``) computed the way Liger's fused linear JSD and Cut
Cross-Entropy do it: the loss-bearing positions are taken in blocks; each block's rows are projected
to logits for both models (one matmul each), the loss and its gradient w.r.t. those logits come from
autograd on smaller chunks of the block (the gradient overwrites the block's logits), and the block's
gradient is pushed through the projection at once (``dH = dZ W``, ``dW += dZ^T H``, in fp32 buffers)
before the block is freed. Peak extra memory is the two gradient buffers (the size of the hidden
states and of W: the gradients themselves) plus two block buffers and one chunk's temporaries, against
the full logits of both models and their gradient for the plain path.

Gradient in the forward pass rather than recomputation in the backward: the backward then costs no
second projection of either model (recomputing, as TRL's chunked path does, means projecting both
models twice). Under ``no_grad`` (evaluation) only the values are computed.

On CUDA, with ``liger-kernel`` installed and a divergence it implements (forward_kl, reverse_kl,
jsd), Liger's ``LigerFusedLinearJSDLoss`` is used instead (``backend="auto"``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F

from leancot.train.losses import IGNORE_INDEX, check_kind, loss_rows, make_chunk_loss

log = logging.getLogger(__name__)
# Rows are projected a block at a time (one matmul per model, and one per gradient: few passes over W
# and its gradient) and the loss runs on chunks of a block (its temporaries are ~15 chunk-sized tensors).
BLOCK_LOGITS = 16 * 1024 * 1024  # 64 MB per fp32 block buffer (student, teacher): 110 rows at vocab 151,936
CHUNK_LOGITS = 1024 * 1024  # 4 MB per fp32 temporary: 6 rows at vocab 151,936
LIGER_BETA = {"forward_kl": 0.0, "reverse_kl": 1.0}  # Liger's generalised JSD at its ends; jsd takes beta


def fused_distill_loss(
    student_hidden: torch.Tensor,
    student_weight: torch.Tensor,
    labels: torch.Tensor,
    teacher_hidden: torch.Tensor | None = None,
    teacher_weight: torch.Tensor | None = None,
    *,
    kd: str = "forward_kl",
    kd_ratio: float = 0.0,
    temperature: float = 1.0,
    beta: float = 0.5,
    alpha: float = 0.1,
    forward_ratio: float = 0.5,
    shift: bool = True,
    ignore_index: int = IGNORE_INDEX,
    chunk_tokens: int | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Mean over loss-bearing positions of ``(1 - kd_ratio) * CE + kd_ratio * T^2 * D``, from hidden states.

    Args:
        student_hidden: (B, S, H_s) the student's last hidden states (after the final norm), requires grad.
        student_weight: (V, H_s) the student's output layer (``lm_head.weight``; tied or not, trainable or frozen).
        labels: (B, S) target ids, ``ignore_index`` where there is no loss (shifted as in ``distill_loss``).
        teacher_hidden: (B, S, H_t) the teacher's last hidden states, or None for CE only.
        teacher_weight: (V_t, H_t) the teacher's output layer, V_t >= V (its first V rows are used).
        chunk_tokens: positions per loss chunk (default: about 1M logits per chunk; the projection runs on
            blocks of about 16M logits).
        backend: "auto" (Liger on CUDA where installed and the divergence is one it has), "torch", "liger".
    Returns:
        A scalar; 0 with a zero gradient (not NaN) when every position is masked.
    """
    vocab = student_weight.shape[0]
    check_kind(kd, vocab, None if teacher_weight is None else teacher_weight.shape[0])
    if teacher_hidden is None or teacher_weight is None or kd_ratio == 0.0:
        teacher_hidden, teacher_weight, kd_ratio = None, None, 0.0
    rows, targets = loss_rows(labels, shift=shift, ignore_index=ignore_index)
    if rows.numel() == 0:
        return student_hidden.sum() * 0.0 + student_weight.sum() * 0.0  # all masked: a zero with a graph
    h = student_hidden.reshape(-1, student_hidden.shape[-1]).index_select(0, rows)
    t_h = t_w = None
    if teacher_hidden is not None:
        t_h = teacher_hidden.detach().reshape(-1, teacher_hidden.shape[-1]).index_select(0, rows)
        t_w = teacher_weight.detach()[:vocab]
    mix = {"kd": kd, "kd_ratio": kd_ratio, "temperature": temperature, "beta": beta, "alpha": alpha, "forward_ratio": forward_ratio}
    if _pick_backend(backend, kd, h.device, teacher=t_h is not None) == "liger":
        return _liger_loss(h, student_weight, t_h, t_w, targets, **mix, chunk=chunk_tokens)
    chunk_loss = make_chunk_loss(**mix, vocab=vocab)
    chunk = chunk_tokens or max(1, CHUNK_LOGITS // vocab)
    sizes = (max(chunk, BLOCK_LOGITS // vocab), chunk)
    on = torch.is_grad_enabled()
    grads = (on and h.requires_grad, on and student_weight.requires_grad)
    return _FusedLinearLoss.apply(h, student_weight, t_h, t_w, targets, chunk_loss, sizes, grads)


def liger_available() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def _pick_backend(backend: str, kd: str, device: torch.device, *, teacher: bool) -> str:
    """Liger only for KD with a divergence it has (CE alone stays here: Liger would compute a zero JSD)."""
    if backend not in ("auto", "torch", "liger"):
        raise ValueError(f"unknown backend {backend!r}; one of auto, torch, liger")
    liger_kind = kd in LIGER_BETA or kd == "jsd"
    if backend == "auto":
        return "liger" if teacher and liger_kind and device.type == "cuda" and liger_available() else "torch"
    if backend == "liger" and not (teacher and liger_kind):
        raise ValueError(f"Liger's fused linear JSD computes KD by forward_kl, reverse_kl or jsd, not {kd!r} or CE alone")
    return backend


class _FusedLinearLoss(torch.autograd.Function):
    """Project, loss and gradient block by block in the forward pass; backward only scales the buffers."""

    @staticmethod
    def forward(ctx, h, w, t_h, t_w, targets, chunk_loss: Callable, sizes: tuple[int, int], grads: tuple[bool, bool]):  # noqa: ANN001
        block, chunk = sizes
        need_h, need_w = grads
        grad_h = torch.zeros(h.shape, dtype=torch.float32, device=h.device) if need_h else None
        grad_w = torch.zeros(w.shape, dtype=torch.float32, device=w.device) if need_w else None
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        for start in range(0, h.shape[0], block):
            sl = slice(start, start + block)
            # The projections in the model's dtype (under autocast, its dtype), as lm_head computes them.
            s = F.linear(h[sl], w).float()
            t = None if t_h is None else F.linear(t_h[sl], t_w).float()
            total += _block_loss(s, t, targets[sl], chunk_loss, chunk, need_h or need_w)
            if need_h or need_w:  # s now holds dLoss/dlogits: through the projection, in fp32 in place
                with torch.autocast(h.device.type, enabled=False):
                    if grad_h is not None:
                        grad_h[sl] = (s.to(w.dtype) @ w).float()
                    if grad_w is not None:
                        grad_w.addmm_(s.t(), h[sl].float())
            del s, t
        # On ctx, not save_for_backward: backward drops the last reference, so autograd can take the
        # buffer as the leaf's .grad without a copy.
        ctx.grads, ctx.n, ctx.dtypes = (grad_h, grad_w), h.shape[0], (h.dtype, w.dtype)
        return total / h.shape[0]

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        (grad_h, grad_w), ctx.grads = ctx.grads, None
        scale = grad_out / ctx.n
        out = [None if g is None else g.mul_(scale).to(dt) for g, dt in zip((grad_h, grad_w), ctx.dtypes)]
        return out[0], out[1], None, None, None, None, None, None


def _block_loss(s, t, y, chunk_loss: Callable, chunk: int, grad: bool) -> torch.Tensor:  # noqa: ANN001
    """Sum of the loss over a block's rows, in chunks of ``chunk`` rows; with ``grad``, each chunk's
    gradient w.r.t. its logits overwrites those logits in ``s`` (no second block-sized buffer)."""
    total = torch.zeros((), dtype=torch.float32, device=s.device)
    for start in range(0, s.shape[0], chunk):
        sl = slice(start, start + chunk)
        t_c = None if t is None else t[sl]
        if not grad:
            total += chunk_loss(s[sl], t_c, y[sl])
            continue
        s_c = s[sl].detach().requires_grad_()
        with torch.enable_grad():
            loss = chunk_loss(s_c, t_c, y[sl])
            (g,) = torch.autograd.grad(loss, s_c)
        s[sl] = g
        total += loss.detach()
    return total


def _liger_loss(h, w, t_h, t_w, targets, *, kd, kd_ratio, temperature, beta, alpha, forward_ratio, chunk) -> torch.Tensor:  # noqa: ANN001
    """The same loss by Liger's fused linear JSD: (1 - r) CE + r T^2 JSD_beta, mean over the rows."""
    from liger_kernel.chunked_loss import LigerFusedLinearJSDLoss

    loss = LigerFusedLinearJSDLoss(
        weight_hard_loss=1 - kd_ratio, weight_soft_loss=kd_ratio * temperature**2, beta=LIGER_BETA.get(kd, beta),
        temperature=temperature, chunk_size=chunk or 1024, compiled=h.device.type == "cuda",
    )  # fmt: skip
    return loss(h, w, t_h, t_w, targets)
