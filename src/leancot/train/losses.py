"""Cross-entropy and logit-level KD, computed in chunks over the loss-bearing positions.

``distill_loss`` mixes ``(1 - kd_ratio) * CE + kd_ratio * T^2 * D(P_T || Q_T)`` where P is the
teacher's and Q the student's next-token distribution at temperature T, averaged over the
positions whose label is not ``ignore_index``. D is one of ``DIVERGENCES``:

- ``forward_kl``  KL(P||Q) = sum p (log p - log q)            (mode-covering; the classic KD)
- ``reverse_kl``  KL(Q||P) = sum q (log q - log p)            (mode-seeking)
- ``jsd``         beta KL(P||M) + (1-beta) KL(Q||M), M = beta P + (1-beta) Q  (generalised JSD)
- ``tvd``         1/2 sum |p - q|
- ``skew_kl``     KL(P || alpha P + (1-alpha) Q)               (DistiLLM's skew KL)
- ``srkl``        KL(Q || alpha Q + (1-alpha) P)               (DistiLLM's skew reverse KL)
- ``combined_kl`` r KL(P||Q) + (1-r) KL(Q||P), r = forward_ratio
- ``tvd_log``     1/2 sum |log p - log q|                      (TVD on log-probabilities)

The last three follow Distilling the Essence's official code (fmchisel ``distillation/losses.py``:
``SkewKLDiv(reverse=True)``, ``CombinedKLDiv``, ``TVDist(log_scale=True)``), with one difference:
its forward-KL term is the cross-entropy -sum p log q, which exceeds KL(P||Q) by the teacher's
entropy H(P), a constant of the student. So ``combined_kl`` here is lower than the official value by
r H(P) per position, with identical gradients.

Memory: the naive loss keeps several (positions x vocab) fp32 tensors alive for the backward
pass (both log-softmaxes, probabilities, their products). Here a custom autograd function walks
the loss-bearing positions in chunks; for each chunk it upcasts the rows to fp32, computes the
loss and its gradient with autograd, adds the gradient into one buffer of the student logits'
shape and dtype, and frees the chunk. Peak extra memory is that buffer plus one chunk's
temporaries (see ``benchmarks/kd_memory.py``).

Vocabulary mismatch: a teacher with a larger output layer than the student (Qwen2.5-7B 152,064
vs 1.5B 151,936 rows; both tokenizers have 151,665 tokens, the rest is padding) is SLICED to the
student's vocabulary and renormalised over it. A teacher with a smaller vocabulary is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
DIVERGENCES = ("forward_kl", "reverse_kl", "jsd", "tvd", "skew_kl", "srkl", "combined_kl", "tvd_log")
DEFAULT_CHUNK_LOGITS = 4 * 1024 * 1024  # logits per chunk: 16 MB per fp32 temporary


def divergence(
    kind: str, s_logits: torch.Tensor, t_logits: torch.Tensor, *, beta: float = 0.5, alpha: float = 0.1, forward_ratio: float = 0.5
) -> torch.Tensor:
    """Per-position divergence between teacher and student distributions.

    Args:
        kind: one of ``DIVERGENCES``.
        s_logits: (N, V) student logits (already divided by the temperature), fp32.
        t_logits: (N, V) teacher logits on the same vocabulary, fp32.
        beta: JSD mixture weight of the teacher; alpha: skew weight (skew_kl, srkl) of the distribution
            the divergence is taken from; forward_ratio: combined_kl's weight of the forward KL.
    Returns:
        (N,) divergences in nats.
    """
    log_q = F.log_softmax(s_logits, dim=-1)
    log_p = F.log_softmax(t_logits, dim=-1)
    if kind == "forward_kl":
        return _kl(log_p, log_q)
    if kind == "reverse_kl":
        return _kl(log_q, log_p)
    if kind == "combined_kl":
        return forward_ratio * _kl(log_p, log_q) + (1 - forward_ratio) * _kl(log_q, log_p)
    if kind == "jsd":
        log_m = _log_mix(log_p, log_q, beta)
        return beta * _kl(log_p, log_m) + (1 - beta) * _kl(log_q, log_m)
    if kind == "tvd":
        return 0.5 * (log_p.exp() - log_q.exp()).abs().sum(-1)
    if kind == "tvd_log":
        return 0.5 * (log_p - log_q).abs().sum(-1)
    if kind == "skew_kl":
        return _kl(log_p, _log_mix(log_p, log_q, alpha))
    if kind == "srkl":
        return _kl(log_q, _log_mix(log_q, log_p, alpha))
    raise ValueError(f"unknown divergence {kind!r}; one of {DIVERGENCES}")


def _log_mix(log_a: torch.Tensor, log_b: torch.Tensor, w: float) -> torch.Tensor:
    """log(w A + (1 - w) B) from log-probabilities, without leaving log space."""
    return torch.logaddexp(log_a + math.log(w), log_b + math.log1p(-w))


def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """KL(A||B) per row from log-probabilities; 0 * log 0 terms count as 0."""
    a = log_a.exp()
    return torch.where(a > 0, a * (log_a - log_b), torch.zeros_like(a)).sum(-1)


def distill_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
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
) -> torch.Tensor:
    """Mean over loss-bearing positions of ``(1 - kd_ratio) * CE + kd_ratio * T^2 * D``.

    Args:
        student_logits: (B, S, V) student logits, any float dtype, requires grad.
        labels: (B, S) target ids, ``ignore_index`` where there is no loss.
        teacher_logits: (B, S, V_t) teacher logits with V_t >= V (sliced to V), or None for CE only.
        shift: labels are the input-style labels of a causal LM (position i is predicted at i - 1),
            as ``build_example`` makes them; False if they are already aligned with the logits.
        chunk_tokens: positions per chunk (default: about 4M logits per chunk).
    Returns:
        A scalar; 0 with a zero gradient (not NaN) when every position is masked.
    """
    vocab = student_logits.shape[-1]
    check_kind(kd, vocab, None if teacher_logits is None else teacher_logits.shape[-1])
    if teacher_logits is None or kd_ratio == 0.0:
        teacher_logits, kd_ratio = None, 0.0
    rows, targets = loss_rows(labels, shift=shift, ignore_index=ignore_index)
    if rows.numel() == 0:
        return student_logits.sum() * 0.0  # all masked: a zero that still has a graph
    chunk_loss = make_chunk_loss(
        kd=kd, kd_ratio=kd_ratio, temperature=temperature, beta=beta, alpha=alpha, forward_ratio=forward_ratio, vocab=vocab
    )
    chunk = chunk_tokens or max(1, DEFAULT_CHUNK_LOGITS // vocab)
    return _ChunkedLoss.apply(student_logits, teacher_logits, rows, targets, chunk_loss, chunk)


def check_kind(kd: str, vocab: int, teacher_vocab: int | None) -> None:
    """Raise ValueError for an unknown divergence or a teacher vocabulary smaller than the student's."""
    if kd not in DIVERGENCES:
        raise ValueError(f"unknown divergence {kd!r}; one of {DIVERGENCES}")
    if teacher_vocab is not None and teacher_vocab < vocab:
        raise ValueError(f"teacher vocabulary ({teacher_vocab}) is smaller than the student's ({vocab})")


def loss_rows(labels: torch.Tensor, *, shift: bool = True, ignore_index: int = IGNORE_INDEX) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) flat indices into the (B*S) positions that carry a loss, and their (N,) target ids."""
    if shift:
        labels = F.pad(labels[:, 1:], (0, 1), value=ignore_index)  # target of position i is token i+1
    flat = labels.reshape(-1)
    rows = (flat != ignore_index).nonzero().squeeze(-1)
    return rows, flat[rows]


def make_chunk_loss(
    *, kd: str, kd_ratio: float, temperature: float, beta: float, alpha: float, forward_ratio: float, vocab: int
) -> Callable:
    """``f(s, t, y)``: the loss SUMMED over one chunk's rows. s (n, V) fp32 student logits, t (n, V_t)
    fp32 teacher logits or None, y (n,) targets. CE is on the untempered student logits."""

    def chunk_loss(s: torch.Tensor, t: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        loss = (1 - kd_ratio) * F.cross_entropy(s, y, reduction="sum") if kd_ratio < 1 else s.new_zeros(())
        if t is not None:
            d = divergence(kd, s / temperature, t[:, :vocab] / temperature, beta=beta, alpha=alpha, forward_ratio=forward_ratio)
            loss = loss + kd_ratio * temperature**2 * d.sum()
        return loss

    return chunk_loss


class _ChunkedLoss(torch.autograd.Function):
    """Loss and its gradient computed chunk by chunk in the forward pass (no saved activations)."""

    @staticmethod
    def forward(ctx, s_logits, t_logits, rows, targets, chunk_loss: Callable, chunk: int):  # noqa: ANN001
        flat_s = s_logits.detach().reshape(-1, s_logits.shape[-1])
        flat_t = None if t_logits is None else t_logits.detach().reshape(-1, t_logits.shape[-1])
        grad = torch.zeros_like(flat_s)
        total = torch.zeros((), dtype=torch.float32, device=s_logits.device)
        for start in range(0, rows.numel(), chunk):
            idx = rows[start : start + chunk]
            s = flat_s.index_select(0, idx).float().requires_grad_()
            t = None if flat_t is None else flat_t.index_select(0, idx).float()
            with torch.enable_grad():
                loss = chunk_loss(s, t, targets[start : start + chunk])
                (g,) = torch.autograd.grad(loss, s)
            grad.index_copy_(0, idx, g.to(grad.dtype))
            total += loss.detach()
            del s, t, g, loss
        n = rows.numel()
        # Kept on ctx, not save_for_backward: backward drops the last reference so autograd can
        # take the buffer as the leaf's .grad instead of copying it (one logits-sized tensor less).
        ctx.grad = grad
        ctx.n = n
        ctx.shape = s_logits.shape
        return total / n

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        grad, ctx.grad = ctx.grad, None
        # In place: the buffer is used once (no retain_graph double backward), a copy would double the peak.
        grad.mul_(grad_out / ctx.n)
        return grad.view(ctx.shape), None, None, None, None, None


def naive_distill_loss(
    student_logits, labels, teacher_logits=None, *, kd="forward_kl", kd_ratio=0.0, temperature=1.0, beta=0.5, alpha=0.1, forward_ratio=0.5
):  # noqa: ANN001
    """The same loss without chunking, written straight from the definitions (tests, benchmarks)."""
    labels = F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
    mask = labels != IGNORE_INDEX
    s = student_logits[mask].float()
    if s.shape[0] == 0:
        return student_logits.sum() * 0.0
    loss = (1 - kd_ratio) * F.cross_entropy(s, labels[mask], reduction="sum")
    if teacher_logits is not None and kd_ratio > 0:
        t = teacher_logits[mask][:, : s.shape[-1]].float()
        loss = (
            loss
            + kd_ratio
            * temperature**2
            * divergence(kd, s / temperature, t / temperature, beta=beta, alpha=alpha, forward_ratio=forward_ratio).sum()
        )
    return loss / s.shape[0]
