import math

import numpy as np
import pytest
import torch

from w2v.model import (NegativeSamplingLoss, SkipGramNeg, cbow_window_step, negative_sampling_terms,
                       sgns_pairs_step)


def test_loss_matches_a_hand_computation():
    u = torch.tensor([[1.0, 2.0]])
    v = torch.tensor([[0.5, -1.0]])
    noise = torch.tensor([[[1.0, 0.0], [0.0, -0.5]]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    pos = -math.log(sig(1 * 0.5 + 2 * -1.0))
    neg = -(math.log(sig(-(1.0))) + math.log(sig(-(-1.0))))
    crit = NegativeSamplingLoss()
    loss = crit(u, v, noise)
    assert loss.item() == pytest.approx(pos + neg, rel=1e-6)
    assert crit.positive.item() == pytest.approx(pos, rel=1e-6)
    assert crit.negative.item() == pytest.approx(neg, rel=1e-6)


def test_loss_stays_finite_where_sigmoid_log_is_minus_infinity():
    u = torch.tensor([[200.0]])
    v = torch.tensor([[-1.0]])  # positive score -200
    noise = torch.tensor([[[1.0]]])  # noise score +200
    assert torch.sigmoid(torch.tensor(-200.0)).log() == float("-inf")
    loss = NegativeSamplingLoss()(u, v, noise)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(400.0, rel=1e-5)


def test_reference_gradients_match_the_analytic_ones():
    torch.manual_seed(0)
    B, K, d = 4, 3, 5
    u = torch.randn(B, d, requires_grad=True)
    v = torch.randn(B, d, requires_grad=True)
    n = torch.randn(B, K, d, requires_grad=True)
    NegativeSamplingLoss(reduction="sum")(u, v, n).backward()
    with torch.no_grad():
        sp = torch.sigmoid((u * v).sum(1))  # (B,)
        sn = torch.sigmoid(torch.einsum("bkd,bd->bk", n, u))  # (B, K)
        gu = -(1 - sp)[:, None] * v + (sn[:, :, None] * n).sum(1)
        gv = -(1 - sp)[:, None] * u
        gn = sn[:, :, None] * u[:, None, :]
    assert torch.allclose(u.grad, gu, atol=1e-5)
    assert torch.allclose(v.grad, gv, atol=1e-5)
    assert torch.allclose(n.grad, gn, atol=1e-5)


def test_init_recipes_and_forward_shapes():
    m = SkipGramNeg(50, 8, np.ones(50), init="word2vec", seed=0)
    assert m.in_embed.weight.abs().max() <= 0.5 / 8 and m.out_embed.weight.abs().sum() == 0
    s = SkipGramNeg(50, 8, np.ones(50), init="seed", seed=0)
    assert s.in_embed.weight.abs().max() <= 1 and s.in_embed.weight.abs().max() > 0.9
    assert s.forward_input(torch.tensor([1, 2])).shape == (2, 8)
    assert s.forward_output(torch.tensor([1, 2, 3])).shape == (3, 8)
    assert s.forward_noise(4, 5).shape == (4, 5, 8)


def test_forward_noise_uses_its_own_distribution():
    dist = torch.zeros(10)
    dist[7] = 1.0
    m = SkipGramNeg(10, 3, dist)
    with torch.no_grad():
        m.out_embed.weight.copy_(torch.arange(30.0).view(10, 3))
    assert torch.equal(m.forward_noise(2, 4), m.out_embed.weight[7].expand(2, 4, 3))


def _autograd_step(in_w, out_w, ctx, centres, negs, lr, mask):
    """SGD on the summed reference loss, through SkipGramNeg's tables and autograd."""
    m = SkipGramNeg(in_w.shape[0], in_w.shape[1])
    with torch.no_grad():
        m.in_embed.weight.copy_(in_w)
        m.out_embed.weight.copy_(out_w)
    loss = NegativeSamplingLoss(reduction="sum")(m.forward_input(ctx), m.forward_output(centres),
                                                 m.out_embed(negs), mask)
    loss.backward()
    with torch.no_grad():
        return m.in_embed.weight - lr * m.in_embed.weight.grad, m.out_embed.weight - lr * m.out_embed.weight.grad


def test_fast_torch_step_equals_autograd_sgd():
    torch.manual_seed(1)
    V, d, B, K = 12, 6, 9, 4
    in_w, out_w = torch.randn(V, d) * 0.3, torch.randn(V, d) * 0.3
    ctx = torch.randint(0, V, (B,))
    centres = torch.randint(0, V, (B,))
    negs = torch.randint(0, V, (B, K))
    negs[0, 0] = centres[0]  # a noise word equal to the centre is ignored
    mask = (negs != centres[:, None]).float()
    want_in, want_out = _autograd_step(in_w, out_w, ctx, centres, negs, 0.1, mask)
    a, b = in_w.clone(), out_w.clone()
    pos, neg = sgns_pairs_step(a, b, ctx, centres, negs, 0.1)
    assert torch.allclose(a, want_in, atol=1e-5) and torch.allclose(b, want_out, atol=1e-5)
    p_ref, n_ref = negative_sampling_terms(in_w[ctx], out_w[centres], out_w[negs], mask)
    assert torch.allclose(pos, p_ref, atol=1e-5) and torch.allclose(neg, n_ref, atol=1e-5)


def test_cbow_step_equals_autograd_sgd_on_the_mean_of_contexts():
    torch.manual_seed(2)
    V, d, K = 10, 5, 3
    in_w, out_w = torch.randn(V, d) * 0.3, torch.randn(V, d) * 0.3
    ctx_index = torch.tensor([1, 2, 3, 4, 5])
    ctx_window = torch.tensor([0, 0, 0, 1, 1])
    centres = torch.tensor([6, 7])
    negs = torch.tensor([[8, 9, 0], [8, 1, 2]])
    a, b = in_w.clone(), out_w.clone()
    cbow_window_step(a, b, ctx_index, ctx_window, centres, negs, 0.05)
    # reference: h = mean of contexts; word2vec.c applies the error on h to every context row
    x = in_w.clone().requires_grad_(True)
    o = out_w.clone().requires_grad_(True)
    h = torch.stack([x[[1, 2, 3]].mean(0), x[[4, 5]].mean(0)])
    hh = h.detach().requires_grad_(True)
    loss = NegativeSamplingLoss(reduction="sum")(hh, o[centres], o[negs])
    loss.backward()
    want_in = in_w.clone()
    for w, rows in enumerate([[1, 2, 3], [4, 5]]):
        want_in[rows] -= 0.05 * hh.grad[w]
    assert torch.allclose(b, out_w - 0.05 * o.grad, atol=1e-5)
    assert torch.allclose(a, want_in, atol=1e-5)
