"""The C++ kernel makes exactly the SGD update that autograd gives on the reference model."""

import numpy as np
import pytest
import torch

from w2v import kernel
from w2v.corpus import AliasSampler
from w2v.model import NegativeSamplingLoss

lib = kernel.load()
pytestmark = pytest.mark.skipif(lib is None, reason="no C++ compiler: the kernel cannot be built")


def _tables(V=6, d=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(V, d, generator=g) * 0.4).contiguous(), (torch.randn(V, d, generator=g) * 0.4).contiguous()


def _reference(in_w, out_w, windows, negs, lr):
    """Apply, in order, one autograd SGD step per window on its summed loss."""
    in_w, out_w = in_w.clone(), out_w.clone()
    for centre, ctx in windows:
        x = in_w.clone().requires_grad_(True)
        o = out_w.clone().requires_grad_(True)
        ctx_t = torch.tensor(ctx)
        n = torch.tensor([negs] * len(ctx))
        mask = (n != centre).float()
        loss = NegativeSamplingLoss(reduction="sum")(x[ctx_t], o[torch.tensor([centre] * len(ctx))], o[n], mask)
        loss.backward()
        with torch.no_grad():
            in_w, out_w = x - lr * x.grad, o - lr * o.grad
    return in_w, out_w


def _run(in_w, out_w, ids, b, noise_word, negative, per_pair, V=6, lr=0.1, pool=None):
    p = np.zeros(V)
    p[noise_word] = 1.0  # every noise draw is this word: the update is deterministic
    alias = AliasSampler(p)
    ids = np.array(ids, dtype=np.int32)
    return kernel.train_chunk(lib, in_w, out_w, ids, np.zeros(len(ids), np.int32), np.array(b, np.int32),
                              alias.prob, alias.alias, negative, False, lr, lr, 1, 123, loss_every=1,
                              noise_pool=pool if pool is not None else -1 if per_pair else 0)


def test_window_mode_equals_autograd_per_window():
    in_w, out_w = _tables()
    want_in, want_out = _reference(in_w, out_w, [(0, [1, 2]), (1, [0, 2]), (2, [0, 1])], [5, 5, 5], 0.1)
    stats = _run(in_w, out_w, [0, 1, 2], [2, 2, 2], noise_word=5, negative=3, per_pair=False)
    assert torch.allclose(in_w, want_in, atol=1e-5) and torch.allclose(out_w, want_out, atol=1e-5)
    assert stats[3] == 6 and stats[2] == 6  # six pairs trained, all tracked


@pytest.mark.parametrize("pool", [-1, 2])
def test_pair_and_pool_modes_equal_autograd_per_pair(pool):
    in_w, out_w = _tables(seed=1)
    # one noise word per pair: each pair is one SGD step, in word2vec.c's order
    want_in, want_out = _reference(in_w, out_w, [(0, [1]), (0, [2]), (1, [0]), (1, [2]), (2, [0]), (2, [1])], [4], 0.1)
    _run(in_w, out_w, [0, 1, 2], [2, 2, 2], noise_word=4, negative=1, per_pair=True, pool=pool)
    assert torch.allclose(in_w, want_in, atol=1e-5) and torch.allclose(out_w, want_out, atol=1e-5)


@pytest.mark.parametrize("per_pair", [False, True])
def test_noise_word_equal_to_the_centre_is_ignored(per_pair):
    in_w, out_w = _tables(seed=2)
    want_in, want_out = _reference(in_w, out_w, [(0, [1]), (1, [0])], [0], 0.1)  # masked for centre 0
    _run(in_w, out_w, [0, 1], [1, 1], noise_word=0, negative=1, per_pair=per_pair)
    assert torch.allclose(in_w, want_in, atol=1e-5) and torch.allclose(out_w, want_out, atol=1e-5)


def test_loss_terms_are_reported():
    in_w, out_w = _tables(seed=3)
    F = torch.nn.functional
    pos1 = -F.logsigmoid((in_w[1] * out_w[0]).sum())  # window 1: centre 0, context 1
    neg1 = -2 * F.logsigmoid(-(in_w[1] * out_w[3]).sum())
    mid_in, mid_out = _reference(in_w, out_w, [(0, [1])], [3, 3], 0.1)
    pos2 = -F.logsigmoid((mid_in[0] * mid_out[1]).sum())  # window 2 sees the updated tables
    neg2 = -2 * F.logsigmoid(-(mid_in[0] * mid_out[3]).sum())
    stats = _run(in_w, out_w, [0, 1], [1, 1], noise_word=3, negative=2, per_pair=False)
    assert stats[2] == 2
    assert stats[0] == pytest.approx(float(pos1 + pos2), rel=1e-5)
    assert stats[1] == pytest.approx(float(neg1 + neg2), rel=1e-5)
