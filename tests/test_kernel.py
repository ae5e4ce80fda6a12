"""The C++ kernel makes exactly the SGD update that autograd gives on the reference model."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from w2v import kernel
from w2v.corpus import AliasSampler, Vocab
from w2v.model import NegativeSamplingLoss

ROOT = Path(__file__).resolve().parent.parent
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


# ------------------------------------------------------------------ the kernel as a whole chunk
#
# The tests below run whole chunks with a realistic noise table (unigram^0.75 over Zipf-like
# counts) and compare the kernel with `_port`: the kernel's loop written out in numpy (float64),
# which draws its noise words from `_KernelRng`, the kernel's own generator. A change to the order
# in which the kernel draws noise words changes the vectors a seed trains, and fails these tests.

M64 = (1 << 64) - 1


class _KernelRng:
    """The kernel's splitmix64 stream for one block of a chunk, and its alias-table draw."""

    def __init__(self, seed: int, block: int = 0):
        self.s = (seed * 0x2545F4914F6CDD1D + block * 0xD1B54A32D192ED03) & M64
        self.s = self.next()  # the block's start, hashed

    def next(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return ((self.next() >> 32) * n) >> 32

    def noise(self, prob, alias) -> int:
        j = self.below(len(prob))
        return j if (self.next() >> 40) / 16777216.0 < prob[j] else int(alias[j])


def _sig(s):
    return 1.0 / (1.0 + np.exp(-s))


def _logsig(s):
    return -np.logaddexp(0.0, -s)


BLOCK = 512  # the kernel's threads take the chunk's centre words this many at a time


def _windows(ids, para, b, prob, alias, K, seed, pool):
    """The kernel's walk over a chunk: for each position with a context, block after block (each
    with its own stream, on any number of threads), (position, centre, context words, noise words
    of each pair), drawn in the kernel's order."""
    n = len(ids)
    for block in range(-(-n // BLOCK)):
        rng = _KernelRng(seed, block)
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            ctx = [int(ids[j]) for j in range(max(0, i - b[i]), min(n - 1, i + b[i]) + 1)
                   if j != i and para[j] == para[i]]
            if not ctx:
                continue
            shared = [rng.noise(prob, alias) for _ in range(K)]  # the window's K (window, cbow)
            if pool == 0:
                noise = [shared] * len(ctx)
            else:  # pair: K fresh per pair; pool: the window draws pool·K, each pair picks K
                P = K * pool if pool > 0 else K * len(ctx)
                drawn = [rng.noise(prob, alias) for _ in range(P)]
                noise = [[drawn[rng.below(P)] if pool > 0 else drawn[c * K + k] for k in range(K)]
                         for c in range(len(ctx))]
            yield i, int(ids[i]), ctx, noise


def _port(in_w, out_w, ids, para, b, prob, alias, K, cbow, lr0, lr1, seed, pool, log=None):
    """The kernel's update on one thread, in float64. Returns the new tables and
    [positive loss, negative loss, tracked, pairs] (every position tracked). `log` collects
    (centre, noise words) of each pair for the tests to check what the data exercised."""
    win, wout = in_w.double().numpy().copy(), out_w.double().numpy().copy()
    span = max(len(ids) - 1, 1)
    stats = np.zeros(4)
    for i, w, ctx, noise in _windows(ids, para, b, prob, alias, K, seed, 0 if cbow else pool):
        lr = lr0 + (lr1 - lr0) * (i / span)
        if log is not None:
            log.extend((w, nz) for nz in noise[:1 if cbow else None])
        if cbow:
            _cbow_step(win, wout, ctx, [w, *noise[0]], lr, stats)
        elif pool == 0:
            _window_step(win, wout, ctx, [w, *noise[0]], lr, stats)
        else:
            for x, nz in zip(ctx, noise):  # pair by pair, each noise word in turn (word2vec.c)
                _pair_step(win, wout, x, w, nz, lr, stats)
    return torch.from_numpy(win).float(), torch.from_numpy(wout).float(), stats


def _pair_step(win, wout, x, w, noise, lr, stats):
    e = np.zeros(win.shape[1])
    for k, o in enumerate([w, *noise]):
        if k and o == w:
            continue  # a noise word equal to the centre is skipped
        s = win[x] @ wout[o]
        g = ((k == 0) - _sig(s)) * lr
        e += g * wout[o]
        wout[o] += g * win[x]
        stats[0 if k == 0 else 1] -= _logsig(s if k == 0 else -s)
    win[x] += e
    stats[2:] += 1


def _window_step(win, wout, ctx, tgt, lr, stats):
    """One SGD step on the window's summed loss: every gradient from the old values."""
    w = tgt[0]
    X, T = win[ctx], wout[tgt]
    S = X @ T.T
    label = np.zeros(len(tgt))
    label[0] = 1
    active = np.array([k == 0 or o != w for k, o in enumerate(tgt)], float)
    G = (label - _sig(S)) * lr * active
    np.add.at(wout, tgt, G.T @ X)
    np.add.at(win, ctx, G @ T)
    stats[0] -= _logsig(S[:, 0]).sum()
    stats[1] -= (_logsig(-S[:, 1:]) * active[1:]).sum()
    stats[2:] += len(ctx)


def _cbow_step(win, wout, ctx, tgt, lr, stats):
    """word2vec.c's CBOW: the mean h of the context rows predicts the centre; each target in turn;
    every context row receives the whole error."""
    w = tgt[0]
    h = win[ctx].mean(0)
    e = np.zeros_like(h)
    for k, o in enumerate(tgt):
        if k and o == w:
            continue
        s = h @ wout[o]
        g = ((k == 0) - _sig(s)) * lr
        e += g * wout[o]
        wout[o] += g * h
        stats[0 if k == 0 else 1] -= _logsig(s if k == 0 else -s)
    for x in ctx:
        win[x] += e
    stats[2:] += 1


def _zipf_chunk(n=240, V=400, d=16, seed=0):
    """A chunk drawn from Zipf-like counts, its noise table (unigram^0.75) and random tables."""
    rng = np.random.default_rng(seed)
    counts = np.round(1e5 / np.arange(1, V + 1)).astype(np.int64)
    noise = Vocab([f"w{i}" for i in range(V)], counts).noise_dist(0.75)
    ids = rng.choice(V, size=n, p=counts / counts.sum()).astype(np.int32)
    para = np.cumsum(rng.random(n) < 0.03).astype(np.int32)  # some paragraph boundaries
    b = rng.integers(1, 6, size=n).astype(np.int32)  # window 5, reduced
    g = torch.Generator().manual_seed(seed)
    in_w = (torch.randn(V, d, generator=g) * 0.3).contiguous()
    out_w = (torch.randn(V, d, generator=g) * 0.3).contiguous()
    return ids, para, b, AliasSampler(noise), in_w, out_w


CASES = {"pair": (False, -1), "pool": (False, 2), "window": (False, 0), "cbow": (True, 0)}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("K,d", [(5, 16), (5, 13), (9, 16)])
def test_chunk_with_realistic_noise_and_lr_ramp_equals_the_port(case, K, d):
    """K noise words from unigram^0.75, the learning rate falling within the chunk: the kernel
    trains exactly what its loop written out in numpy trains (pool: each pair picks K of 2K).
    K=5 takes the kernel's two-pass path (at most 8 distinct rows), on a width with a remainder
    past its 8-wide steps too (13); K=9 takes its row-by-row path."""
    cbow, pool = CASES[case]
    ids, para, b, alias, in_w, out_w = _zipf_chunk(d=d)
    log = []
    want_in, want_out, want = _port(in_w, out_w, ids, para, b, alias.prob, alias.alias, K, cbow,
                                    0.2, 0.02, 77, pool, log=log)
    stats = kernel.train_chunk(lib, in_w, out_w, ids, para, b, alias.prob, alias.alias, K, cbow,
                               0.2, 0.02, 1, 77, loss_every=1, noise_pool=pool)
    # the data exercises what makes noise words realistic: repeats among one pair's words, and
    # noise words equal to the centre (skipped)
    assert any(len(set(noise)) < len(noise) for _, noise in log)
    assert any(w in noise for w, noise in log)
    assert torch.allclose(in_w, want_in, atol=2e-4) and torch.allclose(out_w, want_out, atol=2e-4)
    assert stats[2:].tolist() == want[2:].tolist()  # tracked pairs, pairs trained
    assert stats[:2] == pytest.approx(want[:2], rel=1e-4)


@pytest.mark.parametrize("case", ["pool", "window"])
def test_a_chunk_of_several_blocks_equals_the_port(case):
    """Past one block (BLOCK centre words) the noise words come from the next block's stream: the
    kernel on one thread still trains exactly what the port trains."""
    cbow, pool = CASES[case]
    ids, para, b, alias, in_w, out_w = _zipf_chunk(n=2 * BLOCK + 100)
    want_in, want_out, want = _port(in_w, out_w, ids, para, b, alias.prob, alias.alias, 5, cbow,
                                    0.2, 0.02, 77, pool)
    stats = kernel.train_chunk(lib, in_w, out_w, ids, para, b, alias.prob, alias.alias, 5, cbow,
                               0.2, 0.02, 1, 77, loss_every=1, noise_pool=pool)
    assert torch.allclose(in_w, want_in, atol=2e-4) and torch.allclose(out_w, want_out, atol=2e-4)
    assert stats[2:].tolist() == want[2:].tolist()


def test_the_port_tells_modes_and_ramps_apart():
    """The comparison above can fail: another noise mode, a constant learning rate or another
    seed moves the tables far beyond its tolerance."""
    ids, para, b, alias, in_w, out_w = _zipf_chunk()
    args = (in_w, out_w, ids, para, b, alias.prob, alias.alias, 5, False)
    base, _, _ = _port(*args, 0.2, 0.02, 77, 2)
    for lr0, lr1, seed, pool in [(0.2, 0.02, 77, -1), (0.2, 0.02, 77, 0), (0.2, 0.2, 77, 2),
                                 (0.2, 0.02, 78, 2)]:
        other, _, _ = _port(*args, lr0, lr1, seed, pool)
        assert (other - base).abs().max() > 100 * 2e-4


def test_cbow_step_equals_autograd():
    """One CBOW window against autograd: h is the mean of the context rows, the loss of the
    centre and one noise word on h, and every context row moves by the whole step on h."""
    in_w, out_w = _tables(seed=4)
    p = np.zeros(6)
    p[5] = 1.0
    alias = AliasSampler(p)
    h = in_w[[1, 2, 3]].mean(0).clone().requires_grad_(True)
    o = out_w.clone().requires_grad_(True)
    loss = NegativeSamplingLoss(reduction="sum")(h.view(1, -1), o[[0]], o[[5]].view(1, 1, -1))
    loss.backward()
    want_in, want_out = in_w.clone(), (o - 0.1 * o.grad).detach()
    want_in[[1, 2, 3]] -= 0.1 * h.grad
    ids = np.array([1, 2, 0, 3], np.int32)  # centre 0 at position 2, window 2: contexts 1, 2, 3
    stats = kernel.train_chunk(lib, in_w, out_w, ids, np.array([0, 0, 0, 0], np.int32),
                               np.array([0, 0, 2, 0], np.int32), alias.prob, alias.alias, 1, True,
                               0.1, 0.1, 1, 1, loss_every=1)
    assert stats[3] == 1  # only position 2 has a window (b = 0 elsewhere)
    assert torch.allclose(in_w, want_in, atol=1e-5) and torch.allclose(out_w, want_out, atol=1e-5)


def test_learning_rate_falls_within_a_chunk():
    """Position i of n trains at lr0 + (lr1 - lr0)·i/(n - 1)."""
    in_w, out_w = _tables(seed=5)
    windows = [(0, [1, 2]), (1, [0, 2]), (2, [0, 1])]
    want_in, want_out = in_w.clone(), out_w.clone()
    for i, window in enumerate(windows):
        want_in, want_out = _reference(want_in, want_out, [window], [5, 5, 5], 0.3 + (0.01 - 0.3) * i / 2)
    flat_in, _ = _reference(in_w, out_w, windows, [5, 5, 5], 0.3)
    p = np.zeros(6)
    p[5] = 1.0
    alias = AliasSampler(p)
    ids = np.array([0, 1, 2], np.int32)
    kernel.train_chunk(lib, in_w, out_w, ids, np.zeros(3, np.int32), np.full(3, 2, np.int32), alias.prob,
                       alias.alias, 3, False, 0.3, 0.01, 1, 9, noise_pool=0)
    assert torch.allclose(in_w, want_in, atol=1e-5) and torch.allclose(out_w, want_out, atol=1e-5)
    assert not torch.allclose(in_w, flat_in, atol=1e-3)


def _noise_counts(out_w, x, lr):
    """How often each word was drawn as a noise word, read from the output table (see below)."""
    return -(out_w @ x).double().numpy() / (0.5 * lr)


def test_noise_draws_follow_unigram_to_the_075():
    """Count the kernel's noise draws from the output table: with the output table at zero and a
    tiny rate, every draw of word o adds lr·σ(0)·x to row o, so the row tells how often o was drawn."""
    V, d, n, K = 300, 8, 20000, 5
    counts = np.round(1e5 / np.arange(1, V + 1)).astype(np.int64)
    p = Vocab([f"w{i}" for i in range(V)], counts).noise_dist(0.75)
    alias = AliasSampler(p)
    in_w, out_w = torch.zeros(V, d), torch.zeros(V, d)
    in_w[0] = 1 / np.sqrt(d)  # every position is word 0: each pair is (0, 0)
    lr = 1e-7
    stats = kernel.train_chunk(lib, in_w, out_w, np.zeros(n, np.int32), np.zeros(n, np.int32),
                               np.ones(n, np.int32), alias.prob, alias.alias, K, False, lr, lr, 1, 5,
                               noise_pool=-1)
    pairs = int(stats[3])
    assert pairs == 2 * n - 2
    drawn = _noise_counts(out_w[1:], in_w[0], lr)  # word 0, the centre, is never a noise word
    expected = K * pairs * p[1:]
    assert drawn.sum() == pytest.approx(expected.sum(), rel=0.01)
    chi2 = ((drawn - expected) ** 2 / expected).sum()
    assert chi2 < 400, chi2  # V-2 = 298 degrees of freedom: 400 is far in the tail
    uniform = K * pairs * (1 - p[0]) / (V - 1)
    assert ((drawn - uniform) ** 2 / uniform).sum() > 10 * 400  # a uniform table would fail


def test_two_threads_draw_the_noise_words_one_thread_draws():
    """Threads take the chunk a block at a time, each block drawing from its own stream, so a seed
    draws the same noise words on any number of threads. Hogwild threads make the tables depend on
    how their updates interleave, so this reads the noise words the threads drew (as above: a tiny
    rate, every position word 0) and compares them with the port's draws."""
    V, d, n, K = 300, 8, 2000, 5  # four blocks
    alias = _zipf_chunk(V=V)[3]
    in_w, out_w = torch.zeros(V, d), torch.zeros(V, d)
    in_w[0] = 1 / np.sqrt(d)
    ids, para, b = np.zeros(n, np.int32), np.zeros(n, np.int32), np.full(n, 2, np.int32)
    lr = 1e-7
    stats = kernel.train_chunk(lib, in_w, out_w, ids, para, b, alias.prob, alias.alias, K, False,
                               lr, lr, 2, 11, loss_every=1, noise_pool=-1)

    def port_counts(seed):
        pairs = [nz for _, _, _, noise in _windows(ids, para, b, alias.prob, alias.alias, K, seed, -1)
                 for nz in noise]
        return np.bincount([o for nz in pairs for o in nz if o != 0], minlength=V)[1:], len(pairs)
    want, pairs = port_counts(11)
    other, _ = port_counts(12)
    assert stats[2:].tolist() == [pairs, pairs] == [4 * n - 6] * 2
    drawn = _noise_counts(out_w[1:], in_w[0], lr)
    # a lost Hogwild write loses one row's draws in one pair (a noise word drawn twice in a pair
    # is one write); here every position is the same word, so the threads collide far more often
    # than on text: 0.08-0.31 % of the draws over ten runs
    assert np.abs(drawn - want).sum() < 0.006 * want.sum()
    assert np.abs(drawn - other).sum() > 0.02 * want.sum()  # another seed draws other words


# ---------------------------------------------------------------- hostile values

def _in_child(code: str) -> subprocess.CompletedProcess:
    """Run `code` (after the kernel is loaded as `lib`) in a child process: a kernel that reads or
    writes out of bounds kills the child, not the test run."""
    prelude = ("import numpy as np, torch\nfrom w2v import kernel\nfrom w2v.corpus import AliasSampler\n"
               "lib = kernel.load()\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_nan_score_is_no_table_index():
    """Tables that overflowed (a learning rate far too high): a NaN score must not become an index
    into the sigmoid table, in any mode; the loss sums come back NaN for the trainer to see."""
    r = _in_child("""
        V, d, n = 50, 8, 4000
        alias = AliasSampler(np.ones(V))
        ids = np.random.default_rng(0).integers(0, V, n).astype(np.int32)
        for cbow, pool in ((False, -1), (False, 0), (False, 2), (True, 0)):
            in_w, out_w = torch.full((V, d), float("nan")), torch.full((V, d), float("nan"))
            stats = kernel.train_chunk(lib, in_w, out_w, ids, np.zeros(n, np.int32), np.full(n, 5, np.int32),
                                       alias.prob, alias.alias, 5, cbow, 0.1, 0.1, 2, 3, loss_every=1,
                                       noise_pool=pool)
            print(stats[0], stats[1], int(stats[3]) > 0)
    """)
    assert r.returncode == 0, f"the kernel died ({r.returncode}): {r.stderr[-500:]}"
    assert r.stdout.split() == ["nan", "nan", "True"] * 4


def test_word_ids_outside_the_tables_are_refused_before_anything_is_written():
    in_w, out_w = _tables()
    before = in_w.clone(), out_w.clone()
    alias = AliasSampler(np.ones(6))
    for bad in (6, 1 << 30, -3):
        ids = np.array([0, 1, bad, 2], np.int32)
        with pytest.raises(ValueError, match="word ids must lie in 0..5"):
            kernel.train_chunk(lib, in_w, out_w, ids, np.zeros(4, np.int32), np.full(4, 2, np.int32),
                               alias.prob, alias.alias, 2, False, 0.1, 0.1, 1, 1)
        assert torch.equal(in_w, before[0]) and torch.equal(out_w, before[1])
    with pytest.raises(ValueError, match="do not match the tables"):  # a noise table of another vocabulary
        kernel.train_chunk(lib, in_w, out_w, np.array([0, 1], np.int32), np.zeros(2, np.int32),
                           np.ones(2, np.int32), alias.prob[:3], alias.alias[:3], 2, False, 0.1, 0.1, 1, 1)


def test_a_window_wider_than_int_holds_trains_as_the_whole_chunk():
    """A reduced window of 2³¹-1 (2·b wraps around a 32-bit int): each centre word sees the whole
    chunk, exactly as with a window of the chunk's length, in every mode."""
    r = _in_child("""
        V, d, n = 40, 8, 600
        ids = np.random.default_rng(1).integers(0, V, n).astype(np.int32)
        alias = AliasSampler(np.ones(V))
        for cbow, pool in ((False, -1), (False, 0), (True, 0)):
            out = []
            for b in (2**31 - 1, n):
                g = torch.Generator().manual_seed(0)
                in_w, out_w = torch.randn(V, d, generator=g) * 0.1, torch.randn(V, d, generator=g) * 0.1
                kernel.train_chunk(lib, in_w, out_w, ids, np.zeros(n, np.int32), np.full(n, b, np.int32),
                                   alias.prob, alias.alias, 3, cbow, 0.01, 0.01, 1, 7, noise_pool=pool)
                out.append(in_w.clone())
            print(bool(torch.equal(out[0], out[1])))
    """)
    assert r.returncode == 0, f"the kernel died ({r.returncode}): {r.stderr[-500:]}"
    assert r.stdout.split() == ["True"] * 3


def test_a_kernel_that_cannot_be_built_is_reported_once_to_the_trainer(monkeypatch):
    """Reading the corpus asks for the kernel without a warning; the trainer's engine choice,
    later, still hears why it could not be built, once."""
    import warnings

    def fail(cxx=None):
        raise RuntimeError("no C++ compiler found (install g++)")
    monkeypatch.setattr(kernel, "build", fail)
    monkeypatch.setattr(kernel, "_lib", None)
    monkeypatch.setattr(kernel, "_tried", False)
    monkeypatch.setattr(kernel, "_error", "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert kernel.load(warn=False) is None
        assert not caught
        assert kernel.load() is None and kernel.load() is None
    assert [str(w.message) for w in caught] == [
        "C++ kernel unavailable (no C++ compiler found (install g++)); training uses the slower PyTorch path"]
