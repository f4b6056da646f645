"""The loss from hidden states against the loss on the projected logits and against the definitions."""

import pytest
import torch
from test_train_losses import naive_loss

from leancot.train import fused_loss
from leancot.train.fused_loss import fused_distill_loss
from leancot.train.losses import DIVERGENCES, distill_loss

V, H, H_T = 40, 16, 24


def _inputs(teacher_vocab=V, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(2, 9, H, generator=g, requires_grad=True)
    w = (torch.randn(V, H, generator=g) / H**0.5).requires_grad_()
    t_h = torch.randn(2, 9, H_T, generator=g)
    t_w = torch.randn(teacher_vocab, H_T, generator=g) / H_T**0.5
    labels = torch.randint(0, V, (2, 9), generator=g)
    labels[0, :4] = -100  # a masked prompt
    labels[1, 7:] = -100
    return h, w, t_h, t_w, labels


KW = {"temperature": 2.0, "beta": 0.3, "alpha": 0.2, "forward_ratio": 0.7}


@pytest.mark.parametrize("kind", DIVERGENCES)
def test_fused_equals_the_loss_on_projected_logits_and_the_definition(kind, monkeypatch):
    monkeypatch.setattr(fused_loss, "BLOCK_LOGITS", 5 * V)  # blocks of 5 rows, chunks of 3: both boundaries crossed
    h, w, t_h, t_w, labels = _inputs()
    ours = fused_distill_loss(h, w, labels, t_h, t_w, kd=kind, kd_ratio=0.5, chunk_tokens=3, **KW)
    g_ours = torch.autograd.grad(ours, (h, w))
    plain = distill_loss(h @ w.T, labels, t_h @ t_w.T, kd=kind, kd_ratio=0.5, **KW)
    g_plain = torch.autograd.grad(plain, (h, w))
    naive = naive_loss(h @ w.T, labels, t_h @ t_w.T, kind, 0.5, 2.0, beta=0.3, alpha=0.2, forward_ratio=0.7)
    g_naive = torch.autograd.grad(naive, (h, w))
    assert abs(ours.item() - plain.item()) <= 1e-5
    assert ours.item() == pytest.approx(naive.item(), rel=1e-5, abs=1e-6)
    for a, b, c in zip(g_ours, g_plain, g_naive):
        assert (a - b).abs().max().item() <= 1e-5
        torch.testing.assert_close(a, c.float(), rtol=1e-4, atol=1e-6)


def test_cross_entropy_only_equals_torch_ce_on_the_logits():
    h, w, _, _, labels = _inputs()
    ours = fused_distill_loss(h, w, labels, chunk_tokens=4)
    logits = h @ w.T
    ref = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    for a, b in zip(torch.autograd.grad(ours, (h, w)), torch.autograd.grad(ref, (h, w))):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_chunk_size_and_a_scaled_backward():
    h, w, t_h, t_w, labels = _inputs()
    a = fused_distill_loss(h, w, labels, t_h, t_w, kd="jsd", kd_ratio=0.5, chunk_tokens=1)
    (3 * a).backward()
    b = fused_distill_loss(
        h.detach().requires_grad_(), w.detach().requires_grad_(), labels, t_h, t_w, kd="jsd", kd_ratio=0.5, chunk_tokens=1000
    )
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    plain = 3 * distill_loss(h @ w.T, labels, t_h @ t_w.T, kd="jsd", kd_ratio=0.5)
    g_h, g_w = torch.autograd.grad(plain, (h, w))
    torch.testing.assert_close(h.grad, g_h, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w.grad, g_w, rtol=1e-5, atol=1e-6)


def test_frozen_head_gets_no_gradient_and_the_hidden_states_do():
    h, w, t_h, t_w, labels = _inputs()
    w = w.detach()  # LoRA: the output layer is frozen
    loss = fused_distill_loss(h, w, labels, t_h, t_w, kd="reverse_kl", kd_ratio=0.5)
    loss.backward()
    assert w.grad is None
    (g_ref,) = torch.autograd.grad(distill_loss(h @ w.T, labels, t_h @ t_w.T, kd="reverse_kl", kd_ratio=0.5), h)
    torch.testing.assert_close(h.grad, g_ref, rtol=1e-5, atol=1e-6)


def test_no_grad_gives_the_value_only():
    h, w, t_h, t_w, labels = _inputs()
    with torch.no_grad():
        loss = fused_distill_loss(h, w, labels, t_h, t_w, kd="tvd", kd_ratio=0.5)
    assert not loss.requires_grad
    assert loss.item() == pytest.approx(distill_loss(h @ w.T, labels, t_h @ t_w.T, kd="tvd", kd_ratio=0.5).item(), rel=1e-6)


def test_teacher_with_larger_vocabulary_uses_its_first_rows():
    h, w, t_h, t_w, labels = _inputs(teacher_vocab=V + 8)
    ours = fused_distill_loss(h, w, labels, t_h, t_w, kd="forward_kl", kd_ratio=1.0)
    ref = distill_loss(h @ w.T, labels, t_h @ t_w.T, kd="forward_kl", kd_ratio=1.0)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match="smaller than the student"):
        fused_distill_loss(h, w, labels, t_h, t_w[: V - 1], kd="forward_kl", kd_ratio=0.5)


def test_all_masked_batch_gives_zero_loss_and_zero_gradient():
    h, w, t_h, t_w, labels = _inputs()
    labels[:] = -100
    loss = fused_distill_loss(h, w, labels, t_h, t_w, kd="forward_kl", kd_ratio=0.5)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.count_nonzero(h.grad) == 0 and torch.count_nonzero(w.grad) == 0


def test_unknown_divergence_and_backend_are_errors():
    h, w, t_h, t_w, labels = _inputs()
    with pytest.raises(ValueError, match="unknown divergence"):
        fused_distill_loss(h, w, labels, t_h, t_w, kd="wasserstein", kd_ratio=0.5)
    with pytest.raises(ValueError, match="unknown backend"):
        fused_distill_loss(h, w, labels, t_h, t_w, kd="jsd", kd_ratio=0.5, backend="triton")
    with pytest.raises(ValueError, match="Liger's fused linear JSD"):
        fused_distill_loss(h, w, labels, t_h, t_w, kd="tvd", kd_ratio=0.5, backend="liger")


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd"])
def test_liger_backend_computes_the_same_loss(kind):
    """Liger is optional (benchmarks only); where it is installed, its chunked loss runs on CPU too."""
    pytest.importorskip("liger_kernel.chunked_loss")
    h, w, t_h, t_w, labels = _inputs(teacher_vocab=V + 8)
    ours = fused_distill_loss(h, w, labels, t_h, t_w, kd=kind, kd_ratio=0.5, backend="torch", **KW)
    liger = fused_distill_loss(h, w, labels, t_h, t_w, kd=kind, kd_ratio=0.5, backend="liger", **KW)
    assert liger.item() == pytest.approx(ours.item(), rel=1e-5)
    for a, b in zip(torch.autograd.grad(ours, (h, w)), torch.autograd.grad(liger, (h, w))):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
