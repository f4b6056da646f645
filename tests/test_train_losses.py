"""Each KD divergence against a naive version written from its definition: values and gradients."""

import pytest
import torch

from leancot.train.losses import DIVERGENCES, distill_loss

V = 40


def naive_divergence(kind, s, t, beta=0.5, alpha=0.1, forward_ratio=0.5):
    """Straight from the definitions, on probabilities (fp64)."""
    q, p = s.double().softmax(-1), t.double().softmax(-1)
    kl = lambda a, b: (a * (a / b).log()).sum(-1)  # noqa: E731
    if kind == "forward_kl":
        return kl(p, q)
    if kind == "reverse_kl":
        return kl(q, p)
    if kind == "jsd":
        m = beta * p + (1 - beta) * q
        return beta * kl(p, m) + (1 - beta) * kl(q, m)
    if kind == "tvd":
        return 0.5 * (p - q).abs().sum(-1)
    if kind == "skew_kl":
        return kl(p, alpha * p + (1 - alpha) * q)
    if kind == "srkl":  # Essence's SkewKLDiv(reverse=True): the skew KL with P and Q swapped
        return kl(q, alpha * q + (1 - alpha) * p)
    if kind == "combined_kl":  # Essence's CombinedKLDiv: lerp(forward, reverse, 1 - forward_ratio)
        return forward_ratio * kl(p, q) + (1 - forward_ratio) * kl(q, p)
    if kind == "tvd_log":  # Essence's TVDist(log_scale=True)
        return 0.5 * (p.log() - q.log()).abs().sum(-1)
    raise AssertionError(kind)


def naive_loss(s, labels, t, kind, ratio, temp, beta=0.5, alpha=0.1, forward_ratio=0.5):
    """Mean over positions i with labels[i+1] != -100 of (1-r) CE + r T^2 D."""
    losses = []
    for b in range(s.shape[0]):
        for i in range(s.shape[1] - 1):
            y = labels[b, i + 1]
            if y == -100:
                continue
            ce = -s[b, i].double().log_softmax(-1)[y]
            d = naive_divergence(kind, s[b, i] / temp, t[b, i, :V] / temp, beta, alpha, forward_ratio)
            losses.append((1 - ratio) * ce + ratio * temp**2 * d)
    return torch.stack(losses).mean()


def _inputs(teacher_vocab=V, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(2, 9, V, generator=g, requires_grad=True)
    t = torch.randn(2, 9, teacher_vocab, generator=g)
    labels = torch.randint(0, V, (2, 9), generator=g)
    labels[0, :4] = -100  # a masked prompt
    labels[1, 7:] = -100
    return s, t, labels


@pytest.mark.parametrize("kind", DIVERGENCES)
@pytest.mark.parametrize("ratio,temp", [(1.0, 1.0), (0.5, 2.0)])
def test_divergence_matches_definition_values_and_gradients(kind, ratio, temp):
    s, t, labels = _inputs()
    ours = distill_loss(s, labels, t, kd=kind, kd_ratio=ratio, temperature=temp, beta=0.3, alpha=0.2, forward_ratio=0.7, chunk_tokens=4)
    (g_ours,) = torch.autograd.grad(ours, s)
    ref = naive_loss(s, labels, t, kind, ratio, temp, beta=0.3, alpha=0.2, forward_ratio=0.7)
    (g_ref,) = torch.autograd.grad(ref, s)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(g_ours, g_ref.float(), rtol=1e-4, atol=1e-6)


def test_chunk_size_does_not_change_the_result():
    s, t, labels = _inputs()
    a = distill_loss(s, labels, t, kd="jsd", kd_ratio=0.5, chunk_tokens=1)
    b = distill_loss(s, labels, t, kd="jsd", kd_ratio=0.5, chunk_tokens=1000)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_cross_entropy_only_equals_torch_ce():
    s, _, labels = _inputs()
    ours = distill_loss(s, labels)
    ref = torch.nn.functional.cross_entropy(s[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)


def test_all_masked_batch_gives_zero_loss_and_zero_gradient():
    s, t, labels = _inputs()
    labels[:] = -100
    loss = distill_loss(s, labels, t, kd="forward_kl", kd_ratio=0.5)
    loss.backward()
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert torch.count_nonzero(s.grad) == 0


def test_teacher_with_larger_vocabulary_is_sliced_to_the_students():
    s, t, labels = _inputs(teacher_vocab=V + 8)
    ours = distill_loss(s, labels, t, kd="forward_kl", kd_ratio=1.0)
    sliced = distill_loss(s, labels, t[..., :V].contiguous(), kd="forward_kl", kd_ratio=1.0)
    assert ours.item() == pytest.approx(sliced.item(), rel=1e-6)
    assert ours.item() == pytest.approx(naive_loss(s, labels, t, "forward_kl", 1.0, 1.0).item(), rel=1e-5)


def test_teacher_with_smaller_vocabulary_is_an_error():
    s, t, labels = _inputs()
    with pytest.raises(ValueError, match="smaller than the student"):
        distill_loss(s, labels, t[..., : V - 1], kd="forward_kl", kd_ratio=0.5)


def test_unknown_divergence_is_an_error():
    s, t, labels = _inputs()
    with pytest.raises(ValueError, match="unknown divergence"):
        distill_loss(s, labels, t, kd="wasserstein", kd_ratio=0.5)


def test_combined_kl_at_its_ends_and_srkl_is_the_skew_kl_with_the_roles_swapped():
    s, t, labels = _inputs()
    kw = {"kd_ratio": 1.0, "alpha": 0.2}
    half = distill_loss(s, labels, t, kd="combined_kl", forward_ratio=0.5, **kw)
    fwd, rev = (distill_loss(s, labels, t, kd=k, **kw) for k in ("forward_kl", "reverse_kl"))
    assert half.item() == pytest.approx(0.5 * (fwd.item() + rev.item()), rel=1e-6)
    swapped = distill_loss(t[..., :V].detach(), labels, s.detach(), kd="skew_kl", **kw)
    assert distill_loss(s, labels, t, kd="srkl", **kw).item() == pytest.approx(swapped.item(), rel=1e-6)


def test_config_offers_every_divergence_the_loss_has():
    from typing import get_args

    from leancot.train.config import KDKind

    assert set(get_args(KDKind)) == set(DIVERGENCES)
