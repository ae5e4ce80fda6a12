"""The torch engine's input, built on its own device: subsampling, reduced windows, (centre,
context) pairs and noise words, from a chunk of the encoded corpus.

    chunk = DeviceChunk.build(raw, keep_prob, window, seed, device, staging)   # one host sync
    centre, context = chunk.pairs(window)                                      # one host sync
    negatives = NoiseSampler(prob, alias, device).draw((B, K), generator)      # none

The same steps as the numpy path in `corpus.py` (subsample, reduced_windows, make_pair_positions,
AliasSampler), as torch operations, so a GPU builds its own work: per chunk the host copies the
raw word ids once (through a pinned staging buffer on CUDA) and waits for the device twice (for
the number of kept words and of pairs, which size what follows); the training steps then run
without a host sync. Pairs come out in centre order, as the numpy path's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class DeviceChunk:
    """A subsampled stretch of the corpus on a torch device: kept word ids, the paragraph of each,
    each centre word's reduced window."""

    ids: torch.Tensor  # (n,) long
    para: torch.Tensor  # (n,) int32
    windows: torch.Tensor  # (n,) int32, in 1..window

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, part: slice) -> "DeviceChunk":
        return DeviceChunk(self.ids[part], self.para[part], self.windows[part])

    @classmethod
    def build(cls, raw: np.ndarray, keep_prob: torch.Tensor, window: int, generator: torch.Generator,
              staging: "Staging | None" = None) -> "DeviceChunk":
        """Subsample `raw` (word ids, -1 between paragraphs) on keep_prob's device: a word w is
        kept with probability keep_prob[w]; each kept word gets a window uniform in 1..window."""
        device = keep_prob.device
        chunk = staging.copy(raw) if staging is not None else torch.from_numpy(raw).to(device)
        boundary = chunk < 0
        para = torch.cumsum(boundary, 0, dtype=torch.int32)
        word = chunk.clamp(min=0).long()
        u = torch.rand(chunk.shape[0], generator=generator, device=device)
        kept = (~boundary & (u < keep_prob[word])).nonzero().squeeze(1)  # a wait for the count
        ids, para = word[kept], para[kept]
        windows = torch.randint(1, window + 1, (ids.shape[0],), generator=generator, device=device,
                                dtype=torch.int32)
        return cls(ids, para, windows)

    def pairs(self, window: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions of every (centre, context) pair, in centre order: the context lies within the
        centre's reduced window and in its paragraph (as corpus.make_pair_positions)."""
        n, dev = len(self), self.ids.device
        offsets = torch.tensor([o for o in range(-window, window + 1) if o != 0], device=dev)
        at = torch.arange(n, device=dev).view(n, 1) + offsets.view(1, -1)  # (n, 2·window)
        inside = (at >= 0) & (at < n)
        at = at.clamp(0, max(n - 1, 0))
        ok = inside & (offsets.abs().view(1, -1) <= self.windows.view(n, 1)) & (self.para[at] == self.para.view(n, 1))
        centre, slot = ok.nonzero(as_tuple=True)  # row-major: centre order (a wait for the count)
        return centre, centre + offsets[slot]


class Staging:
    """A pinned host buffer the raw chunk passes through on its way to a CUDA device, so the copy
    is a DMA the device runs on its own (reused: the next copy comes after the chunk's waits)."""

    def __init__(self, device: torch.device, size: int):
        self.device = device
        self.buffer = torch.empty(size, dtype=torch.int32, pin_memory=True)

    def copy(self, raw: np.ndarray) -> torch.Tensor:
        n = len(raw)
        if n > self.buffer.shape[0]:
            self.buffer = torch.empty(n, dtype=torch.int32, pin_memory=True)
        self.buffer[:n].numpy()[:] = raw
        return self.buffer[:n].to(self.device, non_blocking=True)


class NoiseSampler:
    """Walker's alias method on the device (the tables of corpus.AliasSampler): O(1) draws of
    noise words from unigram^0.75, no host sync."""

    def __init__(self, prob: np.ndarray, alias: np.ndarray, device: torch.device):
        self.prob = torch.as_tensor(prob, dtype=torch.float32).to(device)
        self.alias = torch.as_tensor(alias).long().to(device)

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        n, dev = self.prob.shape[0], self.prob.device
        j = torch.randint(0, n, shape, generator=generator, device=dev)
        u = torch.rand(shape, generator=generator, device=dev)
        return torch.where(u < self.prob[j], j, self.alias[j])
