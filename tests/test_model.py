import math

import numpy as np
import pytest
import torch

from w2v.model import (STEP_PAIRS, NegativeSamplingLoss, SkipGramNeg, cbow_window_step,
                       negative_sampling_terms, sgns_pairs_step)


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
    """The gradients of the summed reference loss, through SkipGramNeg's tables and autograd."""
    m = SkipGramNeg(in_w.shape[0], in_w.shape[1])
    with torch.no_grad():
        m.in_embed.weight.copy_(in_w)
        m.out_embed.weight.copy_(out_w)
    loss = NegativeSamplingLoss(reduction="sum")(m.forward_input(ctx), m.forward_output(centres),
                                                 m.out_embed(negs), mask)
    loss.backward()
    return m.in_embed.weight.grad, m.out_embed.weight.grad


def _sequential_factor(terms):
    """How far n sequential SGD steps go on a quadratic, as a fraction of their sum: each step
    contracts what is left by (1 - a), a = lr·h the mean over a row's terms (h = σ'(s)·|x|², the
    logistic term's curvature). 1 for a row updated once."""
    n = len(terms)
    if n <= 1:
        return 1.0
    a = min(sum(terms) / n, 0.5)
    left = 1.0
    for _ in range(n):
        left *= 1 - a
    return (1 - left) / (n * a)


def _row_factors(V, rows, terms):
    by_row = {r: [] for r in range(V)}
    for r, h in zip(rows, terms):
        by_row[int(r)].append(float(h))
    return torch.tensor([_sequential_factor(by_row[r]) for r in range(V)]).view(V, 1)


def test_fast_torch_step_equals_autograd_sgd():
    torch.manual_seed(1)
    V, d, B, K = 12, 6, 9, 4
    in_w, out_w = torch.randn(V, d) * 0.3, torch.randn(V, d) * 0.3
    ctx = torch.randint(0, V, (B,))
    centres = torch.randint(0, V, (B,))
    negs = torch.randint(0, V, (B, K))
    negs[0, 0] = centres[0]  # a noise word equal to the centre is ignored
    mask = (negs != centres[:, None]).float()
    lr = 0.1
    g_in, g_out = _autograd_step(in_w, out_w, ctx, centres, negs, lr, mask)
    # rows repeat in this batch: each row's summed step is scaled as sequential SGD would go
    x, targets = in_w[ctx], out_w[torch.cat([centres[:, None], negs], 1)]  # (B, d), (B, 1+K, d)
    tmask = torch.cat([torch.ones(B, 1), mask], 1)
    rows_out = torch.cat([centres[:, None], negs], 1)[tmask > 0]
    sig = torch.sigmoid(torch.einsum("bkd,bd->bk", targets, x))
    curv = lr * sig * (1 - sig) * tmask  # (B, 1+K)
    h_out = (curv * (x * x).sum(1, keepdim=True))[tmask > 0]
    h_in = (curv * (targets * targets).sum(2)).sum(1)
    want_in = in_w - lr * _row_factors(V, ctx, h_in) * g_in
    want_out = out_w - lr * _row_factors(V, rows_out, h_out) * g_out
    a, b = in_w.clone(), out_w.clone()
    pos, neg = sgns_pairs_step(a, b, ctx, centres, negs, lr)
    assert torch.allclose(a, want_in, atol=1e-5) and torch.allclose(b, want_out, atol=1e-5)
    p_ref, n_ref = negative_sampling_terms(in_w[ctx], out_w[centres], out_w[negs], mask)
    assert torch.allclose(pos, p_ref, atol=1e-5) and torch.allclose(neg, n_ref, atol=1e-5)
    a2, b2 = in_w.clone(), out_w.clone()  # a per-pair learning rate tensor is the same step
    sgns_pairs_step(a2, b2, ctx, centres, negs, torch.full((B,), lr))
    assert torch.allclose(a2, a, atol=1e-6) and torch.allclose(b2, b, atol=1e-6)


def test_a_batch_without_repeated_rows_is_plain_autograd_sgd():
    torch.manual_seed(3)
    V, d, B, K = 60, 6, 8, 4
    in_w, out_w = torch.randn(V, d) * 0.5, torch.randn(V, d) * 0.5
    perm = torch.randperm(V)
    ctx, centres, negs = perm[:B], perm[B:2 * B], perm[2 * B:2 * B + B * K].view(B, K)
    in_w[ctx] *= 6  # large rows: a step that is far from small changes nothing here
    mask = torch.ones(B, K)
    g_in, g_out = _autograd_step(in_w, out_w, ctx, centres, negs, 0.1, mask)
    a, b = in_w.clone(), out_w.clone()
    sgns_pairs_step(a, b, ctx, centres, negs, 0.1)
    assert torch.allclose(a, in_w - 0.1 * g_in, atol=1e-5) and torch.allclose(b, out_w - 0.1 * g_out, atol=1e-5)


def test_cbow_step_equals_autograd_sgd_on_the_mean_of_contexts():
    torch.manual_seed(2)
    V, d, K = 10, 5, 3
    in_w, out_w = torch.randn(V, d) * 0.3, torch.randn(V, d) * 0.3
    ctx_index = torch.tensor([1, 2, 3, 4, 5])
    ctx_window = torch.tensor([0, 0, 0, 1, 1])
    centres = torch.tensor([6, 7])
    negs = torch.tensor([[8, 9, 0], [8, 1, 2]])
    lr = 0.05
    a, b = in_w.clone(), out_w.clone()
    cbow_window_step(a, b, ctx_index, ctx_window, centres, negs, lr)
    # reference: h = mean of contexts; word2vec.c applies the error on h to every context row
    x = in_w.clone().requires_grad_(True)
    o = out_w.clone().requires_grad_(True)
    h = torch.stack([x[[1, 2, 3]].mean(0), x[[4, 5]].mean(0)])
    hh = h.detach().requires_grad_(True)
    loss = NegativeSamplingLoss(reduction="sum")(hh, o[centres], o[negs])
    loss.backward()
    want_in = in_w.clone()
    for w, rows in enumerate([[1, 2, 3], [4, 5]]):  # every context row occurs once: plain SGD
        want_in[rows] -= lr * hh.grad[w]
    # output row 8 is a noise word of both windows: its two steps are scaled as sequential SGD
    rows_out = torch.cat([centres[:, None], negs], 1).reshape(-1)
    hd = h.detach()
    sig = torch.sigmoid(torch.einsum("wkd,wd->wk", o.detach()[torch.cat([centres[:, None], negs], 1)], hd))
    h_out = (lr * sig * (1 - sig) * (hd * hd).sum(1, keepdim=True)).reshape(-1)
    scale = _row_factors(V, rows_out, h_out)
    assert scale[8] < 1 and scale[6] == 1
    assert torch.allclose(b, out_w - lr * scale * o.grad, atol=1e-5)
    assert torch.allclose(a, want_in, atol=1e-5)


def _planted_batch(step, V=1000, topics=50, B=65536, K=5):
    """A batch of skip-gram pairs like real text's: Zipf-distributed word ids (the most frequent
    word is about a seventh of the batch, and a twelfth of its noise words) and a planted
    structure to learn: a context word shares its centre word's topic (id mod topics)."""
    g = torch.Generator().manual_seed(step)
    p = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
    centres = torch.multinomial(p, B, replacement=True, generator=g)
    contexts = torch.multinomial(p[: V // topics], B, replacement=True, generator=g) * topics + centres % topics
    negs = torch.multinomial(p ** 0.75, B * K, replacement=True, generator=g).view(B, K)
    return contexts, centres, negs


def _train_planted(step_fn, batch_fn, steps=8, V=1000, d=16):
    m = SkipGramNeg(V, d, init="word2vec", seed=0)
    in_w, out_w = m.in_embed.weight.data.clone(), m.out_embed.weight.data.clone()
    losses, moved = [], []
    for step in range(steps):
        before = in_w.clone(), out_w.clone()
        pos, neg = step_fn(in_w, out_w, *batch_fn(step, V))
        losses.append(float((pos + neg).mean()))
        moved.append(max(float((in_w - before[0]).norm(dim=1).max()), float((out_w - before[1]).norm(dim=1).max())))
    largest = max(float(in_w.norm(dim=1).max()), float(out_w.norm(dim=1).max()))
    return losses, moved, largest


@pytest.mark.parametrize("max_pairs", [STEP_PAIRS, None])
def test_a_large_batch_of_repeated_rows_learns_and_stays_bounded(max_pairs):
    # 65,536 pairs (the CUDA default batch): a frequent row occurs thousands of times in a batch.
    # Summed plainly, those stale updates overshoot: rows and loss grow without bound (inf, NaN).
    # Stepped through in parts of STEP_PAIRS (the default), or even as one step, it learns.
    step = lambda i, o, ctx, centres, negs: sgns_pairs_step(i, o, ctx, centres, negs, 0.025,  # noqa: E731
                                                            max_pairs=max_pairs)
    losses, moved, largest = _train_planted(step, _planted_batch)
    assert all(math.isfinite(x) for x in losses) and losses[-1] < 0.6 * losses[0], losses
    assert largest < 20, largest
    if max_pairs is None:  # one step per batch: no row moves far in one
        assert max(moved) < 5, moved


def _planted_windows(step, V=1000, topics=50, W=6553, C=6, K=5):
    """CBOW's batch at the CUDA default (65,536 // 10 windows), as `_planted_batch`."""
    g = torch.Generator().manual_seed(step)
    p = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
    centres = torch.multinomial(p, W, replacement=True, generator=g)
    within = torch.multinomial(p[: V // topics], W * C, replacement=True, generator=g).view(W, C)
    ctx = (within * topics + (centres % topics)[:, None]).reshape(-1)
    negs = torch.multinomial(p ** 0.75, W * K, replacement=True, generator=g).view(W, K)
    return ctx, torch.arange(W).repeat_interleave(C), centres, negs


def test_a_large_cbow_batch_learns_and_stays_bounded():
    step = lambda i, o, *batch: cbow_window_step(i, o, *batch, 0.025)  # noqa: E731
    losses, moved, largest = _train_planted(step, _planted_windows)
    assert all(math.isfinite(x) for x in losses) and losses[-1] < 0.6 * losses[0], losses
    assert largest < 20, largest


def test_a_batch_in_parts_equals_its_parts_stepped_in_turn():
    torch.manual_seed(4)
    V, d, B, K = 50, 8, 40, 3
    in_w, out_w = torch.randn(V, d) * 0.3, torch.randn(V, d) * 0.3
    ctx, centres, negs = torch.randint(0, V, (B,)), torch.randint(0, V, (B,)), torch.randint(0, V, (B, K))
    lr = torch.linspace(0.05, 0.01, B)
    a, b = in_w.clone(), out_w.clone()
    pos, neg = sgns_pairs_step(a, b, ctx, centres, negs, lr, max_pairs=16)  # parts of 13, 13, 14
    c, e = in_w.clone(), out_w.clone()
    want = [sgns_pairs_step(c, e, ctx[p], centres[p], negs[p], lr[p], max_pairs=None)
            for p in (slice(0, 13), slice(13, 26), slice(26, 40))]
    assert torch.equal(a, c) and torch.equal(b, e)
    assert torch.equal(pos, torch.cat([w[0] for w in want])) and torch.equal(neg, torch.cat([w[1] for w in want]))
    # CBOW: windows 0..5 with 1-3 contexts each, in parts of at most 2 windows
    ctx_window = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 4, 5])
    ctx_index = torch.randint(0, V, (10,))
    cen, ng = torch.randint(0, V, (6,)), torch.randint(0, V, (6, K))
    a, b = in_w.clone(), out_w.clone()
    pos, _ = cbow_window_step(a, b, ctx_index, ctx_window, cen, ng, 0.05, max_windows=2)
    c, e = in_w.clone(), out_w.clone()
    parts = [(slice(0, 2), slice(0, 3)), (slice(2, 4), slice(3, 7)), (slice(4, 6), slice(7, 10))]
    want = [cbow_window_step(c, e, ctx_index[q], ctx_window[q] - p.start, cen[p], ng[p], 0.05, max_windows=None)[0]
            for p, q in parts]
    assert torch.equal(a, c) and torch.equal(b, e) and torch.equal(pos, torch.cat(want))
