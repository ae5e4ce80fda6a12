"""The engines that train with torch: `TorchEngine` (batched hand-written SGD on any torch device)
and `SeedEngine` (the lecture's autograd loop). See w2v/engines.py for the interface; this module
is imported only when one of them is built, so the kernel path never imports torch.
"""

from __future__ import annotations

import numpy as np
import torch

from .corpus import make_pair_positions
from .engines import Chunk, Engine, Loss
from .model import STEP_WINDOWS, NegativeSamplingLoss, SkipGramNeg, cbow_window_step, sgns_pairs_step
from .pairs import DeviceChunk, NoiseSampler, Staging


class _OnDevice(Engine):
    """The tables as a SkipGramNeg's two embeddings on the torch device `cfg.device`."""

    def take(self, tables: tuple[np.ndarray, np.ndarray]) -> None:
        self.device = torch.device(self.cfg.device)
        self.model = SkipGramNeg(len(tables[0]), self.cfg.dim, self.noise_dist, tables=tables)
        self.model.to(self.device)
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)

    @property
    def in_w(self) -> torch.Tensor:
        return self.model.in_embed.weight.data

    @property
    def out_w(self) -> torch.Tensor:
        return self.model.out_embed.weight.data

    def tables(self, copy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        i, o = self.in_w.cpu().numpy(), self.out_w.cpu().numpy()  # a GPU's tables are copied here anyway
        return (i.copy(), o.copy()) if copy else (i, o)

    def set_rows(self, rows: np.ndarray, in_rows: np.ndarray, out_rows: np.ndarray) -> None:
        at = torch.from_numpy(rows).to(self.device)
        with torch.no_grad():
            self.in_w[at] = torch.from_numpy(in_rows).to(self.device)
            self.out_w[at] = torch.from_numpy(out_rows).to(self.device)

    def finite(self) -> bool:
        return all(bool(torch.isfinite(t.sum())) for t in (self.in_w, self.out_w))


def _positions(chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the chunk's (centre, context) pairs, in centre order."""
    centre_pos, ctx_pos = make_pair_positions(chunk.para, chunk.windows)
    order = np.argsort(centre_pos, kind="stable")
    return centre_pos[order], ctx_pos[order]


class TorchEngine(_OnDevice):
    """Batched hand-written SGD on any torch device: skip-gram as batches of pairs, CBOW as
    batches of windows. Its chunks are built on the device (w2v/pairs.py) and its steps never
    wait for the device: the learning rate is a float per batch from the batch's place in the
    chunk, noise words are drawn on the device, the loss is summed there and read once a chunk."""

    name = "torch"

    def __init__(self, cfg, vocab, tables=None):
        super().__init__(cfg, vocab, tables)
        self.batch_size = cfg.batch_size or (1 << 16 if self.device.type == "cuda" else 1 << 12)
        self.noise = NoiseSampler(self.alias.prob, self.alias.alias, self.device)
        self.staging = Staging(self.device, 1 << 18) if self.device.type == "cuda" else None
        self.keep_prob: torch.Tensor | None = None

    def prepare(self, raw: np.ndarray, keep_prob: np.ndarray, seed: tuple[int, ...]) -> DeviceChunk:
        if self.keep_prob is None:
            self.keep_prob = torch.as_tensor(keep_prob, dtype=torch.float32).to(self.device)
        return DeviceChunk.build(raw, self.keep_prob, self.cfg.window, self._generator(seed), self.staging)

    def _generator(self, seed) -> torch.Generator:
        state = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
        return torch.Generator(self.device).manual_seed(int(state >> np.uint64(1)))

    def train(self, chunk: Chunk | DeviceChunk, lr0: float, lr1: float, seed: int) -> Loss:
        if isinstance(chunk, Chunk):  # built on the host (by the base engine's prepare)
            chunk = DeviceChunk(*(torch.from_numpy(a).to(self.device) for a in
                                  (chunk.ids.astype(np.int64), chunk.para, chunk.windows)))
        g = self._generator(seed)
        centre, context = chunk.pairs(self.cfg.window)
        if self.cfg.mode == "cbow":
            steps = self.window_steps(centre, len(chunk))
            sums, n = self.cbow_steps(chunk, centre, context, steps, lr0, lr1, g), len(chunk)
        else:
            sums, n = self.skipgram_steps(chunk, centre, context, lr0, lr1, g), centre.shape[0]
        pos, neg = sums.tolist()  # the chunk's one read of the loss
        return Loss(pos, neg, n, n)

    def skipgram_steps(self, chunk: DeviceChunk, centre, context, lr0, lr1, g) -> torch.Tensor:
        """Every pair once, in batches; no host sync. Noise: K words per pair, or per centre word
        (--noise window). Returns the summed positive and negative loss terms, on the device."""
        P, B, K = centre.shape[0], self.batch_size, self.cfg.negative
        per_centre = self.noise.draw((len(chunk), K), g) if self.cfg.noise == "window" else None
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        for s in range(0, P, B):
            c, x = centre[s:s + B], context[s:s + B]
            noise = per_centre[c] if per_centre is not None else self.noise.draw((c.shape[0], K), g)
            pos, neg = sgns_pairs_step(self.in_w, self.out_w, chunk.ids[x], chunk.ids[c], noise,
                                       lr0 + (lr1 - lr0) * s / P)
            sums[0] += pos.sum()
            sums[1] += neg.sum()
        return sums

    def window_steps(self, centre: torch.Tensor, n: int) -> list[tuple[slice, slice]]:
        """CBOW's steps over n windows: for each, its windows and where their contexts lie in
        the centre-ordered pairs (read from the device once, so the steps then need no sync)."""
        step = max(1, min(STEP_WINDOWS, self.batch_size // (2 * self.cfg.window)))
        starts = list(range(0, n, step))
        edges = torch.tensor(starts + [n], dtype=centre.dtype).to(self.device)
        cut = torch.searchsorted(centre, edges).tolist()
        return [(slice(p0, min(n, p0 + step)), slice(cut[k], cut[k + 1])) for k, p0 in enumerate(starts)]

    def cbow_steps(self, chunk: DeviceChunk, centre, context, steps, lr0, lr1, g) -> torch.Tensor:
        """Every window once, a step of windows at a time (`window_steps`); no host sync. Returns
        the summed positive and negative loss terms, on the device."""
        n, K = len(chunk), self.cfg.negative
        negs = self.noise.draw((n, K), g)
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        for w, c in steps:
            pos, neg = cbow_window_step(self.in_w, self.out_w, chunk.ids[context[c]], centre[c] - w.start,
                                        chunk.ids[w], negs[w], lr0 + (lr1 - lr0) * w.start / n, max_windows=None)
            sums[0] += pos.sum()
            sums[1] += neg.sum()
        return sums


class SeedEngine(_OnDevice):
    """The lecture's loop: batches of (centre, context) pairs, the centre predicts the context,
    noise words from the model's own distribution (drawn from `seed`), autograd and Adam at a
    fixed rate."""

    name = "seed"

    def __init__(self, cfg, vocab, tables=None):
        super().__init__(cfg, vocab, tables)
        self.batch_size = cfg.batch_size or 512
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.criterion = NegativeSamplingLoss()

    def train(self, chunk: Chunk, lr0: float, lr1: float, seed: int) -> Loss:
        centre_pos, ctx_pos = _positions(chunk)
        ids = torch.from_numpy(chunk.ids.astype(np.int64)).to(self.device)
        cp, xp = (torch.from_numpy(a).to(self.device) for a in (centre_pos, ctx_pos))
        B, m = self.batch_size, self.model
        noise = torch.Generator(self.device).manual_seed(seed % (1 << 63))
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        for s in range(0, len(cp), B):
            c, x = ids[cp[s:s + B]], ids[xp[s:s + B]]
            self.optimizer.zero_grad()
            loss = self.criterion(m.forward_input(c), m.forward_output(x),
                                  m.forward_noise(len(c), self.cfg.negative, generator=noise))
            loss.backward()
            self.optimizer.step()
            sums[0] += self.criterion.positive * len(c)
            sums[1] += self.criterion.negative * len(c)
        pos_sum, neg_sum = sums.tolist()
        return Loss(pos_sum, neg_sum, len(cp), len(cp))
