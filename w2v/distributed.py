"""Data-parallel training on PyTorch's own distributed engine (torchrun), or one process.

    torchrun --standalone --nproc_per_node=2 -m w2v train CORPUS --out RUN_DIR ...

Rank 0 reads the corpus once and writes the vocabulary and the encoded corpus into the run
directory, which every rank must see (one machine, or a shared filesystem across nodes). Each rank
then trains its own shard: the encoded corpus is cut into chunks and rank r trains chunks r, r+W,
r+2W, ... (W ranks): a round is W chunks, one a rank (`Group.rounds`). Each rank cuts its chunk in
8 parts (`Group.parts`) and after every part the ranks all-reduce their updates: each rank's change
to the two tables since the last merge is summed and applied everywhere (`Replica`) — the
sparse-update scheme of Hogwild threads, carried across processes, so every rank's words count in
full. gloo carries it on CPUs, NCCL on GPUs. Only rank 0 writes metrics, status and checkpoints.

With WORLD_SIZE unset or 1, `Group` is a no-op: one chunk a round, one part a chunk, no merges,
and training is exactly the single-process path, which never imports torch (the kernel engine
trains numpy tables; under torchrun they are shared with torch without a copy).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

import numpy as np

from .errors import W2VError

SYNCS_PER_CHUNK = 8  # under torchrun: ranks merge their updates 8 times a chunk
T = TypeVar("T")


@dataclass(frozen=True)
class Round:
    """W chunks trained at once, one by each rank, then merged."""

    chunk: int | None  # the chunk this rank trains; None when the epoch has none left for it
    end: int  # the first chunk after the round: where a checkpoint taken after it resumes


class Group:
    """The processes training one run, from torchrun's environment (RANK, WORLD_SIZE, ...)."""

    def __init__(self, device: str = "cpu"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        self.active = self.world > 1
        self.backend = None
        if self.active:
            import torch
            import torch.distributed as dist
            if not dist.is_initialized():
                self.backend = "nccl" if device.startswith("cuda") else "gloo"
                if self.backend == "nccl":
                    torch.cuda.set_device(self.local_rank)
                dist.init_process_group(backend=self.backend)
            self._comm_device = torch.device(f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str) -> str:
        """Each rank on a GPU machine uses its own GPU."""
        return f"cuda:{self.local_rank}" if self.active and requested.startswith("cuda") else requested

    def threads(self, cores: int) -> int:
        """Each rank's share of this machine's cores."""
        return max(1, cores // self.local_world) if self.active else cores

    def rounds(self, n_chunks: int, start: int = 0) -> Iterator[Round]:
        """The rounds of an epoch from chunk `start` on: rank r trains chunks r, r + W, r + 2W, ...
        One process: every chunk, one a round."""
        W = self.world
        for first in range(0, n_chunks, W):
            if first + W <= start:
                continue
            chunk = first + self.rank
            yield Round(chunk if start <= chunk < n_chunks else None, min(first + W, n_chunks))

    def parts(self, n: int, syncs: int = SYNCS_PER_CHUNK) -> list[slice]:
        """Where this rank cuts n positions (its chunk, or a stretch of it) into `syncs` parts: the
        ranks merge after every part, so each cuts the same number (empty parts for a rank without a
        chunk). One process: one part."""
        if not self.active:
            return [slice(0, n)]
        cut = np.linspace(0, n, syncs + 1).astype(int)
        return [slice(a, z) for a, z in zip(cut[:-1], cut[1:])]

    def share_error(self, message: str | None) -> None:
        """Collective: rank 0 tells every rank whether its set-up failed (and why); all raise."""
        if self.active:
            import torch
            import torch.distributed as dist
            data = (message or "").encode("utf-8")[:4096]
            n = torch.tensor([len(data)], dtype=torch.long, device=self._comm_device)
            dist.broadcast(n, 0)
            buf = torch.zeros(int(n.item()), dtype=torch.uint8, device=self._comm_device)
            if self.is_main and data:
                buf.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
            if int(n.item()):
                dist.broadcast(buf, 0)
                message = bytes(buf.cpu().tolist()).decode("utf-8", errors="replace")
        if message:
            raise W2VError(message)

    def on_main(self, fn):
        """Collective: rank 0 runs fn() and returns its result (the others get None); a W2VError
        there stops every rank with the same message."""
        result = None
        if self.is_main:
            try:
                result = fn()
            except W2VError as e:
                self.share_error(str(e))
                raise
        self.share_error(None)
        return result

    def sum(self, values: list[float]) -> list[float]:
        """Collective: element-wise sum of a few numbers over the ranks."""
        if not self.active:
            return values
        import torch
        import torch.distributed as dist
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(t)
        return t.cpu().tolist()

    def any(self, flag: bool) -> bool:
        return self.sum([1.0 if flag else 0.0])[0] > 0

    def merge_updates(self, tables: list, snapshots: list) -> None:
        """Collective: table = snapshot + Σ over ranks of (table − snapshot); snapshot = table.
        (Torch tensors: a numpy table is shared as one by `Replica`.)"""
        if not self.active:
            return
        import torch.distributed as dist
        for t, s in zip(tables, snapshots):
            t.sub_(s)
            buf = t if t.device == self._comm_device else t.to(self._comm_device)
            dist.all_reduce(buf)
            if buf is not t:
                t.copy_(buf)
            t.add_(s)
            s.copy_(t)

    def close(self) -> None:
        if self.backend:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()


class Replica:
    """This rank's tables, kept equal to the other ranks': trains its chunk part by part and
    merges every rank's changes after each part. One process: nothing to merge."""

    def __init__(self, group: Group, tables: list):
        self.group = group
        self.tables, self.snapshots = tables, []
        if group.active:  # merged with torch.distributed: numpy tables are shared as tensors, no copy
            import torch
            self.tables = [torch.from_numpy(t) if isinstance(t, np.ndarray) else t for t in tables]
            self.snapshots = [t.clone() for t in self.tables]  # as of the last merge

    def train(self, n: int, step: Callable[[slice, int], T], syncs: int = SYNCS_PER_CHUNK) -> list[T]:
        """Collective: `step(part, k)` on each non-empty part k of this rank's n positions (n = 0:
        none this round), cut in `syncs` parts, a merge after every part. Returns what the steps
        returned."""
        done = []
        for k, part in enumerate(self.group.parts(n, syncs)):
            if part.stop > part.start:
                done.append(step(part, k))
            self.group.merge_updates(self.tables, self.snapshots)
        return done
