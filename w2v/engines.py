"""The training engines: three ways to train a chunk, behind one interface.

    engine = make_engine(cfg, vocab, tables)         # from the settings (and the machine)
    loss = engine.train(chunk, lr0, lr1, seed)        # in place on engine.in_w / engine.out_w

    kernel   CPU default: the C++ kernel (w2v/_kernel.cpp), Hogwild threads, one SGD step per window
    torch    any torch device (CUDA, or CPU without a compiler): batched hand-written SGD,
             model.sgns_pairs_step / cbow_window_step, index_add_ on touched rows only
    seed     the lecture's recipe: SkipGramNeg + NegativeSamplingLoss through autograd and Adam,
             uniform(-1, 1) init — the teaching baseline, slow by design

This module and the kernel need numpy only: torch is imported (w2v/torch_engines.py) when an
engine that needs it is built, so training on the kernel never pays for importing torch.

A chunk is a stretch of the corpus after subsampling: its word ids, the paragraph of each (no
window crosses paragraphs) and each centre word's reduced window. The learning rate falls from
lr0 to lr1 across the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernel as _kernel
from .config import TrainConfig
from .errors import W2VError
from .corpus import AliasSampler, Vocab, reduced_windows, subsample
from .tables import initial_tables

NOISE_POOL = {"pair": -1, "pool": 2, "window": 0}  # the kernel's noise_pool for each --noise


@dataclass
class Chunk:
    """A subsampled stretch of the corpus: kept word ids, their paragraph, their reduced window,
    and the generator its noise words are drawn from (the torch engine's)."""

    ids: np.ndarray
    para: np.ndarray
    windows: np.ndarray
    rng: np.random.Generator

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, part: slice) -> "Chunk":
        return Chunk(self.ids[part], self.para[part], self.windows[part], self.rng)


@dataclass(frozen=True)
class Loss:
    """What training some pairs reports: summed positive and negative loss terms, the pairs
    those sums cover, and the pairs trained."""

    pos: float = 0.0
    neg: float = 0.0
    tracked: int = 0
    pairs: int = 0

    def __add__(self, other: "Loss") -> "Loss":
        return Loss(self.pos + other.pos, self.neg + other.neg, self.tracked + other.tracked,
                    self.pairs + other.pairs)


class Engine:
    """The model's two tables (numpy here; the torch engines keep them on `cfg.device`, a
    concrete device: the trainer resolves 'auto'), the noise distribution, and `train`, which
    each engine implements. Tables start as w2v/tables.py draws them, or as given."""

    name = ""

    def __init__(self, cfg: TrainConfig, vocab: Vocab, tables: tuple[np.ndarray, np.ndarray] | None = None):
        self.cfg = cfg
        self.device = cfg.device
        self.threads = cfg.resolved_threads()
        self.noise_dist = vocab.noise_dist(cfg.ns_exponent)
        self.alias = AliasSampler(self.noise_dist)
        if tables is None:
            tables = initial_tables(len(vocab), cfg.dim, "seed" if cfg.recipe == "seed" else "word2vec", cfg.seed)
        self.take(tables)

    def take(self, tables: tuple[np.ndarray, np.ndarray]) -> None:
        """Hold `tables` as the ones training updates (in place: a writable float32 array is
        not copied)."""
        self.in_w, self.out_w = (np.require(t, np.float32, ["C_CONTIGUOUS", "WRITEABLE"]) for t in tables)

    def tables(self, copy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Both tables: copies (training may go on while they are written), or with copy=False
        the engine's own (once training is over)."""
        return (self.in_w.copy(), self.out_w.copy()) if copy else (self.in_w, self.out_w)

    def set_rows(self, rows: np.ndarray, in_rows: np.ndarray, out_rows: np.ndarray) -> None:
        """Overwrite rows `rows` of both tables (--init-from)."""
        self.in_w[rows], self.out_w[rows] = in_rows, out_rows

    def finite(self) -> bool:
        """Both tables hold only finite numbers (a sum is NaN or infinite otherwise)."""
        # A float32 sum (a third of the time of a float64 one): trained vectors sum to far below
        # float32's 3e38, so only a NaN or an infinity in the table makes it non-finite.
        with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is the NaN that says so
            return all(bool(np.isfinite(t.sum())) for t in (self.in_w, self.out_w))

    def prepare(self, raw: np.ndarray, keep_prob: np.ndarray, seed: tuple[int, ...]) -> Chunk:
        """Chunk `raw` of the encoded corpus (word ids, -1 between paragraphs) as one epoch trains
        it: subsampled (word w kept with probability keep_prob[w]) and with reduced windows, both
        drawn from `seed`."""
        rng = np.random.default_rng(list(seed))
        ids, para = subsample(raw, keep_prob, rng)
        return Chunk(ids, para, reduced_windows(len(ids), self.cfg.window, rng), rng)

    def train(self, chunk: Chunk, lr0: float, lr1: float, seed: int) -> Loss:
        """Train every (centre, context) pair of `chunk` once, in place; `seed` seeds the
        engine's own noise draws."""
        raise NotImplementedError


class KernelEngine(Engine):
    """The C++ kernel: each window is one SGD step, threads share the tables without locks."""

    name = "kernel"

    def __init__(self, cfg, vocab, tables=None, lib=None):
        super().__init__(cfg, vocab, tables)
        self.lib = lib or _kernel.load()

    def train(self, chunk: Chunk, lr0: float, lr1: float, seed: int) -> Loss:
        s = _kernel.train_chunk(self.lib, self.in_w, self.out_w, chunk.ids, chunk.para, chunk.windows,
                                self.alias.prob, self.alias.alias, self.cfg.negative,
                                self.cfg.mode == "cbow", lr0, lr1, self.threads, seed,
                                noise_pool=NOISE_POOL[self.cfg.noise])
        return Loss(s[0], s[1], int(s[2]), int(s[3]))


def make_engine(cfg: TrainConfig, vocab: Vocab, tables: tuple[np.ndarray, np.ndarray] | None = None) -> Engine:
    """The engine the settings ask for: the seed recipe's loop; `--engine kernel` or `torch`; with
    `auto`, the C++ kernel on a CPU where it builds, else the torch engine. `cfg.device` must be
    concrete (not 'auto')."""
    if cfg.recipe == "seed":
        from .torch_engines import SeedEngine
        return SeedEngine(cfg, vocab, tables)
    on_cpu = cfg.device.split(":")[0] == "cpu"
    if cfg.engine == "kernel" and not on_cpu:
        raise W2VError(f"--engine kernel trains on the CPU, not {cfg.device}: add --device cpu")
    if cfg.engine != "torch" and on_cpu:
        lib = _kernel.load(warn=cfg.engine == "auto")
        if lib is not None:
            return KernelEngine(cfg, vocab, tables, lib)
        if cfg.engine == "kernel":
            raise W2VError("--engine kernel needs a C++ compiler (g++) to build the kernel: install one, "
                           "or use --engine torch")
    from .torch_engines import TorchEngine
    return TorchEngine(cfg, vocab, tables)


def __getattr__(name: str):
    """engines.TorchEngine and engines.SeedEngine, imported (with torch) on first use."""
    if name in ("TorchEngine", "SeedEngine"):
        from . import torch_engines
        return getattr(torch_engines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
