"""Skip-gram with negative sampling, as the lecture names it: SkipGramNeg and NegativeSamplingLoss.

This is the reference implementation: autograd computes the gradients. The trainer's fast paths
(`sgns_pairs_step` here for PyTorch devices, and the C++ kernel in `kernel.py` for CPUs) compute
the same loss and the same SGD update by hand; tests check that they agree.

Initialisation:
    "word2vec"  input table uniform in ±0.5/dim, output table zero (word2vec.c, gensim)
    "seed"      both tables uniform in (-1, 1), the lecture's choice (the teaching baseline)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SkipGramNeg(nn.Module):
    def __init__(self, n_vocab: int, n_embed: int, noise_dist: torch.Tensor | np.ndarray | None = None,
                 init: str = "word2vec", seed: int | None = None):
        super().__init__()
        self.n_vocab = n_vocab
        self.n_embed = n_embed
        if noise_dist is None:
            noise_dist = torch.ones(n_vocab)
        noise_dist = torch.as_tensor(np.asarray(noise_dist), dtype=torch.float32)
        self.register_buffer("noise_dist", noise_dist / noise_dist.sum(), persistent=False)
        self.in_embed = nn.Embedding(n_vocab, n_embed)
        self.out_embed = nn.Embedding(n_vocab, n_embed)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            if init == "seed":
                self.in_embed.weight.uniform_(-1, 1, generator=g)
                self.out_embed.weight.uniform_(-1, 1, generator=g)
            elif init == "word2vec":
                self.in_embed.weight.uniform_(-0.5 / n_embed, 0.5 / n_embed, generator=g)
                self.out_embed.weight.zero_()
            else:
                raise ValueError(f"unknown init {init!r}: use 'word2vec' or 'seed'")

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


@torch.no_grad()
def sgns_pairs_step(in_w: torch.Tensor, out_w: torch.Tensor, contexts: torch.Tensor,
                     centres: torch.Tensor, negatives: torch.Tensor, lr: float | torch.Tensor,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """One hand-written SGD step on a batch of skip-gram pairs: the PyTorch fast path.

    As in word2vec.c, the context word's input vector predicts the centre word through the output
    table. contexts, centres: (B,); negatives: (B, K) — pairs of one centre share its K noise words.
    Scores are one batched matrix product (B, 1, d)·(B, d, 1+K); updates are index_add_ on the
    touched rows only. Noise words equal to the centre are ignored (as word2vec.c skips them).
    `lr` is a float or a (B,) tensor. Returns the per-pair positive and negative loss terms."""
    B, K = negatives.shape
    targets = torch.cat([centres.view(B, 1), negatives], 1)  # (B, 1+K)
    labels = torch.zeros(B, 1 + K, device=in_w.device, dtype=in_w.dtype)
    labels[:, 0] = 1
    mask = torch.ones_like(labels)
    mask[:, 1:] = (negatives != centres.view(B, 1)).to(in_w.dtype)
    x = in_w.index_select(0, contexts)  # (B, d)
    t = out_w.index_select(0, targets.view(-1)).view(B, 1 + K, -1)  # (B, 1+K, d)
    scores = torch.bmm(t, x.unsqueeze(2)).squeeze(2)  # (B, 1+K)
    lr = torch.as_tensor(lr, device=in_w.device, dtype=in_w.dtype)
    g = (labels - torch.sigmoid(scores)) * mask * (lr.view(-1, 1) if lr.dim() else lr)  # (B, 1+K)
    grad_in = torch.bmm(g.unsqueeze(1), t).squeeze(1)  # (B, d)
    grad_out = g.unsqueeze(2) * x.unsqueeze(1)  # (B, 1+K, d)
    out_w.index_add_(0, targets.view(-1), grad_out.view(B * (1 + K), -1))
    in_w.index_add_(0, contexts, grad_in)
    pos = -F.logsigmoid(scores[:, 0])
    neg = -(F.logsigmoid(-scores[:, 1:]) * mask[:, 1:]).sum(1)
    return pos, neg


@torch.no_grad()
def cbow_window_step(in_w: torch.Tensor, out_w: torch.Tensor, ctx_index: torch.Tensor,
                     ctx_window: torch.Tensor, centres: torch.Tensor, negatives: torch.Tensor,
                     lr: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step of CBOW (mean of the context vectors predicts the centre), batched.

    ctx_index (P,) are context word ids, ctx_window (P,) the window (0..W-1) each belongs to;
    centres (W,), negatives (W, K). As word2vec.c, every context row receives the full error."""
    W, K = negatives.shape
    d = in_w.shape[1]
    h = torch.zeros(W, d, device=in_w.device, dtype=in_w.dtype)
    h.index_add_(0, ctx_window, in_w.index_select(0, ctx_index))
    n = torch.bincount(ctx_window, minlength=W).clamp(min=1).to(in_w.dtype)
    h /= n.view(-1, 1)
    targets = torch.cat([centres.view(W, 1), negatives], 1)
    labels = torch.zeros(W, 1 + K, device=in_w.device, dtype=in_w.dtype)
    labels[:, 0] = 1
    mask = torch.ones_like(labels)
    mask[:, 1:] = (negatives != centres.view(W, 1)).to(in_w.dtype)
    t = out_w.index_select(0, targets.view(-1)).view(W, 1 + K, d)
    scores = torch.bmm(t, h.unsqueeze(2)).squeeze(2)
    lr = torch.as_tensor(lr, device=in_w.device, dtype=in_w.dtype)
    g = (labels - torch.sigmoid(scores)) * mask * (lr.view(-1, 1) if lr.dim() else lr)
    e = torch.bmm(g.unsqueeze(1), t).squeeze(1)  # (W, d)
    out_w.index_add_(0, targets.view(-1), (g.unsqueeze(2) * h.unsqueeze(1)).view(W * (1 + K), d))
    in_w.index_add_(0, ctx_index, e.index_select(0, ctx_window))
    pos = -F.logsigmoid(scores[:, 0])
    neg = -(F.logsigmoid(-scores[:, 1:]) * mask[:, 1:]).sum(1)
    return pos, neg
