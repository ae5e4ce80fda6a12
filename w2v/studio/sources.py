"""Vector sources: every run with vectors (its final tables and start-of-epoch checkpoints) and
every uploaded vectors file; a choice among them, loading it, and the scores the trainer stored.

    src = sources()[0]
    choice = choose(src, table="average", checkpoint="epoch 1")   # hashable: a cache key
    wv = load_vectors(*choice)
    recorded_scores(choice)                                        # None: benchmark it instead
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import W2VError
from ..runs import Run, list_runs
from ..vectors import TABLES, WordVectors
from .paths import runs_dir, vectors_dir
from .uploads import VECTOR_SUFFIXES

FINAL = "final"  # the checkpoint label of a run's final vectors
SCORED_TABLE = "input"  # the trainer benchmarks (and records scores of) this table only


@dataclass(frozen=True)
class Source:
    kind: str  # "run" | "file"
    path: str
    label: str
    checkpoints: tuple[tuple[str, str], ...] = ()  # (label, path), oldest first

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path}"

    @property
    def is_run(self) -> bool:
        return self.kind == "run"

    def checkpoint_labels(self) -> list[str]:
        """What a checkpoint picker offers: 'final', then 'epoch 0', 'epoch 1', ..."""
        return [FINAL, *dict(self.checkpoints)]

    def checkpoint_path(self, label: str | None) -> str | None:
        """The checkpoint file of `label`; None for the final vectors (or an unknown label)."""
        return dict(self.checkpoints).get(label) if label else None


class Choice(NamedTuple):
    """One set of vectors, hashable (a cache key): `stamp` changes when the source is rewritten."""
    kind: str
    path: str
    table: str = "input"
    checkpoint: str | None = None  # a checkpoint file; None = the final vectors
    stamp: float = 0.0


def stamp(path: str | os.PathLike) -> float:
    """The modification time of `path` (0 when it is gone): part of a cache key, so that vectors
    rewritten under the same path are loaded again."""
    return os.path.getmtime(path) if os.path.exists(path) else 0


def run_checkpoints(run_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """('epoch E', path) for each start-of-epoch checkpoint, oldest first (epoch 0 = random)."""
    return [(f"epoch {e}", str(p)) for e, c, p in Run(run_dir).checkpoints() if c == 0]


def sources() -> list[Source]:
    """Every run with vectors (final tables or at least one checkpoint), then uploaded files."""
    out = []
    for run in list_runs(runs_dir()):
        ckpts = run_checkpoints(run.path)
        if run.vocab_path.exists() and (run.in_vectors_path.exists() or ckpts):
            state = run.status().get("state", "?")
            out.append(Source("run", str(run.path), f"{run.name} (run, {state})", tuple(ckpts)))
    folder = vectors_dir()
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix in VECTOR_SUFFIXES and not p.name.startswith("."):
                out.append(Source("file", str(p), f"{p.name} (vectors file)"))
    return out


def default_checkpoint(src: Source, before_last: bool = False) -> int:
    """Index in checkpoint_labels() to start from: the final vectors, or with `before_last` the
    last start-of-epoch checkpoint but one (what the last epoch changed) when the run has it."""
    options = src.checkpoint_labels()
    return len(options) - 2 if before_last and src.is_run and len(options) >= 3 else 0


def choose(src: Source, table: str = "input", checkpoint: str | None = FINAL) -> Choice:
    """The vectors of `src` at checkpoint label `checkpoint` ('final' or None: the final ones).
    A vectors file has one table and no checkpoints."""
    if not src.is_run:
        return Choice(src.kind, src.path, "input", None, stamp(src.path))
    return Choice(src.kind, src.path, table, src.checkpoint_path(checkpoint), stamp(src.path))


def load_vectors(kind: str, path: str, table: str = "input", checkpoint: str | None = None,
                 stamp: float = 0.0) -> WordVectors:
    """Vectors of a run (its final `table`, or that of `checkpoint`) or of a word2vec file.
    `stamp` is not read: it only lets a Choice be passed as `load_vectors(*choice)`."""
    if kind == "file":
        return WordVectors.load_word2vec(path)
    if table not in TABLES:
        raise W2VError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
    return WordVectors.from_run(path, table=table, checkpoint=checkpoint)


def stored_scores(kind: str, path: str, checkpoint: str | None = None) -> dict | None:
    """Benchmark scores the trainer already recorded: the run's final ones, or those of the
    epoch event that wrote `checkpoint`. None when there are none (then benchmark the vectors)."""
    if kind != "run":
        return None
    run = Run(path)
    if checkpoint is None:
        return (run.status().get("scores") or None) if run.in_vectors_path.exists() else None
    events, _ = run.metrics()
    name = Path(checkpoint).name
    for ev in events:
        if ev.get("event") == "epoch" and ev.get("checkpoint") == name and ev.get("scores"):
            return ev["scores"]
    return None


def recorded_scores(choice: Choice) -> dict | None:
    """The stored scores of `choice`: only the input table's are stored (the trainer evaluates
    that one), so any other table has none and must be benchmarked."""
    if choice.table != SCORED_TABLE:
        return None
    return stored_scores(choice.kind, choice.path, choice.checkpoint)
