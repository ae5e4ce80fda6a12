"""Skip-gram with negative sampling, as the lecture names it: SkipGramNeg and NegativeSamplingLoss.

This is the reference implementation: autograd computes the gradients. The trainer's fast paths
(`sgns_pairs_step` here for PyTorch devices, and the C++ kernel in `kernel.py` for CPUs) compute
the same loss and, pair by pair, the same SGD update by hand; tests check that they agree. (The
batched path also bounds the summed update of a row that repeats within a step: `_row_scale`.)

Initialisation (w2v/tables.py, numpy, shared with the kernel engine):
    "word2vec"  input table uniform in ±0.5/dim, output table zero (word2vec.c; gensim 4: ±1/dim)
    "seed"      both tables uniform in (-1, 1), the lecture's choice (the teaching baseline)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .tables import initial_tables


class SkipGramNeg(nn.Module):
    def __init__(self, n_vocab: int, n_embed: int, noise_dist: torch.Tensor | np.ndarray | None = None,
                 init: str = "word2vec", seed: int | None = None,
                 tables: tuple[np.ndarray, np.ndarray] | None = None):
        """`tables` (in, out): start from these float32 arrays, shared, not copied (the engines
        pass theirs); else from w2v/tables.py's `init`, drawn from `seed`."""
        super().__init__()
        self.n_vocab = n_vocab
        self.n_embed = n_embed
        if noise_dist is None:
            noise_dist = torch.ones(n_vocab)
        noise_dist = torch.as_tensor(np.asarray(noise_dist), dtype=torch.float32)
        self.register_buffer("noise_dist", noise_dist / noise_dist.sum(), persistent=False)
        if tables is None:
            if seed is None:  # torch.manual_seed still makes the model reproducible
                seed = int(torch.randint(1 << 62, (1,)))
            tables = initial_tables(n_vocab, n_embed, init, seed)  # one initialisation for every engine
        self.in_embed, self.out_embed = (
            nn.Embedding.from_pretrained(torch.from_numpy(np.require(t, np.float32, ["C_CONTIGUOUS", "WRITEABLE"])),
                                         freeze=False) for t in tables)

    def forward_input(self, input_words: torch.Tensor) -> torch.Tensor:
        return self.in_embed(input_words)  # (B, d)

    def forward_output(self, output_words: torch.Tensor) -> torch.Tensor:
        return self.out_embed(output_words)  # (B, d)

    def forward_noise(self, batch_size: int, n_samples: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Vectors of noise words drawn from this model's noise distribution: (B, n_samples, d)."""
        noise_words = torch.multinomial(self.noise_dist, batch_size * n_samples, replacement=True,
                                        generator=generator).to(self.out_embed.weight.device)
        return self.out_embed(noise_words).view(batch_size, n_samples, self.n_embed)


def negative_sampling_terms(input_vectors: torch.Tensor, output_vectors: torch.Tensor,
                            noise_vectors: torch.Tensor, noise_mask: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair positive and negative terms of the loss, each (B,).

    positive = -log σ(u·v),  negative = -Σ_k log σ(-u·n_k).  logsigmoid keeps both finite where
    sigmoid().log() underflows to -inf. `noise_mask` (B, K) zeroes noise words to ignore."""
    B, d = input_vectors.shape
    u = input_vectors.view(B, d, 1)
    pos = torch.bmm(output_vectors.view(B, 1, d), u).view(B)  # (B,)
    neg = torch.bmm(noise_vectors.neg(), u).view(B, -1)  # (B, K)
    neg_terms = F.logsigmoid(neg)
    if noise_mask is not None:
        neg_terms = neg_terms * noise_mask
    return -F.logsigmoid(pos), -neg_terms.sum(1)


class NegativeSamplingLoss(nn.Module):
    """The lecture's loss: -(log σ(u·v) + Σ_k log σ(-u·n_k)), averaged over the batch.

    After each call, `positive` and `negative` hold the batch means of the two terms."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction
        self.positive = torch.tensor(0.0)
        self.negative = torch.tensor(0.0)

    def forward(self, input_vectors, output_vectors, noise_vectors, noise_mask=None):
        pos, neg = negative_sampling_terms(input_vectors, output_vectors, noise_vectors, noise_mask)
        self.positive, self.negative = pos.detach().mean(), neg.detach().mean()
        total = pos + neg
        return total.sum() if self.reduction == "sum" else total.mean()


STEP_PAIRS = 4096  # skip-gram pairs per SGD step at most: a larger batch is stepped through in parts
STEP_WINDOWS = 512  # CBOW windows per SGD step at most


def _lr(lr: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    """The learning rate as a (N, 1) column or a plain float: a float stays a kernel argument, so
    no host-to-device copy (and no wait for the device) per step."""
    if isinstance(lr, torch.Tensor):
        lr = lr.to(like.device, like.dtype)
        return lr.view(-1, 1) if lr.dim() else lr
    return float(lr)


def _parts(n: int, most: int | None) -> list[slice]:
    """n items cut into the fewest near-equal parts of at most `most` (one part if `most` is 0/None)."""
    k = max(1, -(-n // most)) if most else 1
    return [slice(n * i // k, n * (i + 1) // k) for i in range(k)]


def _row_scale(n_out: int, out_rows: torch.Tensor, out_curv: torch.Tensor, out_weight: torch.Tensor,
               n_in: int, in_rows: torch.Tensor, in_curv: torch.Tensor, in_weight: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every update term, the factor that bounds its row's summed update in one step.

    A row updated n times in a step gets n gradients computed from the same (stale) row, where
    word2vec applies them one after another. With a = lr·h the mean per-term curvature times the
    learning rate (h = σ'(s)·|x|² for a logistic term s = t·x), n sequential steps contract a
    quadratic by (1 − a)^n, while their sum moves it n·a: the factor
        α = (1 − (1 − a)^n) / (n·a)
    makes the summed step the sequential one. α = 1 for a row updated once (the step is plain
    SGD, as word2vec.c), α ≈ 1 while n·a is small, and α·n·a < 1: a row no longer overshoots the
    minimum of its share of the step's loss, however many times it occurs (summed plainly, the
    updates of a frequent noise word grow with the batch until the rows and the loss diverge).

    out_rows (M,) are the output rows updated, out_curv (M,) each term's lr·h (0 for a masked
    term), out_weight (M,) 1 for a term that updates its row and 0 for one that doesn't; in_* the
    same for the input table. Returns α per term for each table, (M,) and (N,): one scatter for
    both tables (input rows are counted after the output table's n_out)."""
    rows = torch.cat([out_rows, in_rows + n_out])
    terms = torch.stack([torch.cat([out_curv, in_curv]), torch.cat([out_weight, in_weight])], 1)
    acc = torch.zeros(n_out + n_in, 2, device=rows.device, dtype=terms.dtype)
    acc.index_add_(0, rows, terms)
    s, n = acc.index_select(0, rows).unbind(1)  # Σ lr·h and occurrences of each term's row
    n = n.clamp(min=1)
    a = (s / n).clamp(1e-12, 0.5)  # past a = 1 a single step overshoots anyway: keep log1p finite
    alpha = torch.expm1(n * torch.log1p(-a)).div_(n * a).neg_()  # → 1 as n·a → 0
    return alpha[:out_rows.shape[0]], alpha[out_rows.shape[0]:]


@torch.no_grad()
def sgns_pairs_step(in_w: torch.Tensor, out_w: torch.Tensor, contexts: torch.Tensor,
                     centres: torch.Tensor, negatives: torch.Tensor, lr: float | torch.Tensor,
                     max_pairs: int | None = STEP_PAIRS) -> tuple[torch.Tensor, torch.Tensor]:
    """Hand-written SGD on a batch of skip-gram pairs: the PyTorch fast path.

    As in word2vec.c, the context word's input vector predicts the centre word through the output
    table. contexts, centres: (B,); negatives: (B, K) — pairs of one centre share its K noise words.
    Scores are one batched matrix product (B, 1, d)·(B, d, 1+K); updates are index_add_ on the
    touched rows only. Noise words equal to the centre are ignored (as word2vec.c skips them).
    `lr` is a float or a (B,) tensor. Returns the per-pair positive and negative loss terms.

    Each pair's update is autograd's SGD step on its loss, from the tables as the step found
    them; a row that occurs several times in a step gets the sum of its updates scaled by
    `_row_scale` (at 4,096 pairs of text the most frequent noise word occurs ~400 times). A batch
    of more than `max_pairs` pairs is trained as consecutive steps of at most that many, so every
    batch size learns as the default one does. (Bounded but in one step, 65,536 pairs stay finite
    and learn, but each step works from tables 65,536 pairs old: on the sample corpus, analogy
    0.034 against 0.053 in steps of 4,096, which match the C++ kernel.)"""
    B = contexts.shape[0]
    parts = _parts(B, max_pairs)
    if len(parts) == 1:
        return _sgns_step(in_w, out_w, contexts, centres, negatives, lr)
    per_pair = isinstance(lr, torch.Tensor) and lr.dim() > 0
    out = [_sgns_step(in_w, out_w, contexts[p], centres[p], negatives[p], lr[p] if per_pair else lr)
           for p in parts]
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


def _sgns_step(in_w, out_w, contexts, centres, negatives, lr):
    B, K = negatives.shape
    targets = torch.cat([centres.view(B, 1), negatives], 1)  # (B, 1+K)
    labels = torch.zeros(B, 1 + K, device=in_w.device, dtype=in_w.dtype)
    labels[:, 0] = 1
    mask = torch.ones_like(labels)
    mask[:, 1:] = (negatives != centres.view(B, 1)).to(in_w.dtype)
    x = in_w.index_select(0, contexts)  # (B, d)
    t = out_w.index_select(0, targets.view(-1)).view(B, 1 + K, -1)  # (B, 1+K, d)
    scores = torch.bmm(t, x.unsqueeze(2)).squeeze(2)  # (B, 1+K)
    lr = _lr(lr, in_w)
    sig = torch.sigmoid(scores)
    g = (labels - sig) * mask * lr  # (B, 1+K)
    lr_h = sig * (1 - sig) * mask * lr  # per term lr·σ'(s); its curvature is that times |x|² or |t|²
    out_scale, in_scale = _row_scale(
        out_w.shape[0], targets.view(-1), (lr_h * (x * x).sum(1, keepdim=True)).view(-1), mask.view(-1),
        in_w.shape[0], contexts, (lr_h * (t * t).sum(2)).sum(1), mask.new_ones(B))
    grad_in = torch.bmm(g.unsqueeze(1), t).squeeze(1) * in_scale.view(B, 1)  # (B, d)
    grad_out = (g * out_scale.view(B, 1 + K)).unsqueeze(2) * x.unsqueeze(1)  # (B, 1+K, d)
    out_w.index_add_(0, targets.view(-1), grad_out.view(B * (1 + K), -1))
    in_w.index_add_(0, contexts, grad_in)
    pos = -F.logsigmoid(scores[:, 0])
    neg = -(F.logsigmoid(-scores[:, 1:]) * mask[:, 1:]).sum(1)
    return pos, neg


@torch.no_grad()
def cbow_window_step(in_w: torch.Tensor, out_w: torch.Tensor, ctx_index: torch.Tensor,
                     ctx_window: torch.Tensor, centres: torch.Tensor, negatives: torch.Tensor,
                     lr: float | torch.Tensor, max_windows: int | None = STEP_WINDOWS
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """SGD steps of CBOW (mean of the context vectors predicts the centre), batched.

    ctx_index (P,) are context word ids, ctx_window (P,) the window (0..W-1) each belongs to, in
    increasing order; centres (W,), negatives (W, K). As word2vec.c, every context row receives
    the full error. `lr` is a float or a (W,) tensor. Returns the per-window loss terms. Rows that
    occur several times in a step are bounded as in `sgns_pairs_step`, and more than
    `max_windows` windows are trained as consecutive steps of at most that many (finding where
    the parts begin in ctx_window reads it back from the device once)."""
    W = negatives.shape[0]
    parts = _parts(W, max_windows)
    if len(parts) == 1:
        return _cbow_step(in_w, out_w, ctx_index, ctx_window, centres, negatives, lr)
    edges = torch.tensor([p.start for p in parts] + [W], device=ctx_window.device, dtype=ctx_window.dtype)
    cut = torch.searchsorted(ctx_window, edges).tolist()
    per_window = isinstance(lr, torch.Tensor) and lr.dim() > 0
    out = []
    for k, p in enumerate(parts):
        c = slice(cut[k], cut[k + 1])
        out.append(_cbow_step(in_w, out_w, ctx_index[c], ctx_window[c] - p.start, centres[p], negatives[p],
                              lr[p] if per_window else lr))
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


def _cbow_step(in_w, out_w, ctx_index, ctx_window, centres, negatives, lr):
    W, K = negatives.shape
    d = in_w.shape[1]
    h = torch.zeros(W, d, device=in_w.device, dtype=in_w.dtype)
    h.index_add_(0, ctx_window, in_w.index_select(0, ctx_index))
    ones = torch.ones(ctx_window.shape[0], device=in_w.device, dtype=in_w.dtype)
    n = torch.zeros(W, device=in_w.device, dtype=in_w.dtype).index_add_(0, ctx_window, ones)
    h /= n.clamp(min=1).view(-1, 1)  # (not bincount: on CUDA that waits for the device)
    targets = torch.cat([centres.view(W, 1), negatives], 1)
    labels = torch.zeros(W, 1 + K, device=in_w.device, dtype=in_w.dtype)
    labels[:, 0] = 1
    mask = torch.ones_like(labels)
    mask[:, 1:] = (negatives != centres.view(W, 1)).to(in_w.dtype)
    t = out_w.index_select(0, targets.view(-1)).view(W, 1 + K, d)
    scores = torch.bmm(t, h.unsqueeze(2)).squeeze(2)
    lr = _lr(lr, in_w)
    sig = torch.sigmoid(scores)
    g = (labels - sig) * mask * lr
    lr_h = sig * (1 - sig) * mask * lr
    out_scale, in_scale = _row_scale(
        out_w.shape[0], targets.view(-1), (lr_h * (h * h).sum(1, keepdim=True)).view(-1), mask.view(-1),
        in_w.shape[0], ctx_index, (lr_h * (t * t).sum(2)).sum(1).index_select(0, ctx_window), ones)
    e = torch.bmm(g.unsqueeze(1), t).squeeze(1)  # (W, d)
    out_w.index_add_(0, targets.view(-1),
                     ((g * out_scale.view(W, 1 + K)).unsqueeze(2) * h.unsqueeze(1)).view(W * (1 + K), d))
    in_w.index_add_(0, ctx_index, e.index_select(0, ctx_window) * in_scale.view(-1, 1))
    pos = -F.logsigmoid(scores[:, 0])
    neg = -(F.logsigmoid(-scores[:, 1:]) * mask[:, 1:]).sum(1)
    return pos, neg
