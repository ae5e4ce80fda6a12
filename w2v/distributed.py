"""Data-parallel training on PyTorch's own distributed engine (torchrun), or one process.

    torchrun --standalone --nproc_per_node=2 -m w2v train CORPUS --out RUN_DIR ...

Rank 0 reads the corpus once and writes the vocabulary and the encoded corpus into the run
directory, which every rank must see (one machine, or a shared filesystem across nodes). Each rank
then trains its own shard: the encoded corpus is cut into chunks and rank r trains chunks r, r+W,
r+2W, ... (W ranks). After every round of W chunks the ranks all-reduce their updates: each rank's
change to the two tables since the last round is summed and applied everywhere — the sparse-update
scheme of Hogwild threads, carried across processes, so every rank's words count in full.
gloo carries it on CPUs, NCCL on GPUs. Only rank 0 writes metrics, status and checkpoints.

With WORLD_SIZE unset or 1, `Group` is a no-op and training is exactly the single-process path.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .errors import W2VError


class Group:
    """The processes training one run, from torchrun's environment (RANK, WORLD_SIZE, ...)."""

    def __init__(self, device: str = "cpu"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        self.active = self.world > 1
        self.backend = None
        if self.active and not dist.is_initialized():
            self.backend = "nccl" if device.startswith("cuda") else "gloo"
            if self.backend == "nccl":
                torch.cuda.set_device(self.local_rank)
            dist.init_process_group(backend=self.backend)
        self._comm_device = torch.device(f"cuda:{self.local_rank}") if self.backend == "nccl" else torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str) -> str:
        """Each rank on a GPU machine uses its own GPU."""
        return f"cuda:{self.local_rank}" if self.active and requested.startswith("cuda") else requested

    def share_error(self, message: str | None) -> None:
        """Collective: rank 0 tells every rank whether its set-up failed (and why); all raise."""
        if self.active:
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
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(t)
        return t.cpu().tolist()

    def any(self, flag: bool) -> bool:
        return self.sum([1.0 if flag else 0.0])[0] > 0

    def merge_updates(self, tables: list[torch.Tensor], snapshots: list[torch.Tensor]) -> None:
        """Collective: table = snapshot + Σ over ranks of (table − snapshot); snapshot = table."""
        if not self.active:
            return
        for t, s in zip(tables, snapshots):
            t.sub_(s)
            buf = t if t.device == self._comm_device else t.to(self._comm_device)
            dist.all_reduce(buf)
            if buf is not t:
                t.copy_(buf)
            t.add_(s)
            s.copy_(t)

    def close(self) -> None:
        if self.backend and dist.is_initialized():
            dist.destroy_process_group()
