"""Vector sources: every run with vectors (its final tables and start-of-epoch checkpoints) and
every uploaded vectors file; a choice among them, loading it, and the scores the trainer stored.

    src = sources()[0]
    choice = choose(src, table="average", checkpoint="epoch 1")   # hashable: a cache key
    wv = load_vectors(*choice)
    recorded_scores(choice)                                        # None: benchmark it instead

A vectors file (uploaded, or copied into the vectors folder when it is above the upload cap) opens
with its DEFAULT_WORDS most frequent words, the first in the file; the page can raise the limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import W2VError
from ..runs import Run, list_runs
from ..vectors import FORMATS, TABLES, VectorsFile, WordVectors, sniff
from .paths import runs_dir, vectors_dir
from .uploads import VECTOR_SUFFIXES

FINAL = "final"  # the checkpoint label of a run's final vectors
SCORED_TABLE = "input"  # the trainer benchmarks (and records scores of) this table only
DEFAULT_WORDS = 100_000  # the words of a vectors file loaded at first (its most frequent)


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
    limit: int | None = None  # a vectors file: only its first (most frequent) words; None = all


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


def choose(src: Source, table: str = "input", checkpoint: str | None = FINAL,
           limit: int | None = DEFAULT_WORDS) -> Choice:
    """The vectors of `src` at checkpoint label `checkpoint` ('final' or None: the final ones).
    A vectors file has one table and no checkpoints, and is read up to `limit` words."""
    if not src.is_run:
        return Choice(src.kind, src.path, "input", None, stamp(src.path), limit)
    return Choice(src.kind, src.path, table, src.checkpoint_path(checkpoint), stamp(src.path))


def file_limit(path: str) -> tuple[VectorsFile, int]:
    """What a vectors file holds, from its first line (format, words: estimated for GloVe, which
    has no header, and dimensions), and the words it opens with: DEFAULT_WORDS, or all when
    fewer. W2VError when it is not a vectors file."""
    info = sniff(path)
    return info, min(DEFAULT_WORDS, info.words) if info.header else DEFAULT_WORDS


def limit_text(info: VectorsFile, limit: int) -> str:
    """What a page says of a vectors file read up to `limit` words."""
    kind = FORMATS[info.format].split(":")[0]
    about = "" if info.header else "about "  # GloVe has no header: its words are estimated
    if limit >= info.words:
        return f"All {about}{info.words:,} words of this {kind} file."
    return (f"Its {limit:,} most frequent words (the first in the file) of {about}{info.words:,}: "
            "raise the number to load more.")


def load_vectors(kind: str, path: str, table: str = "input", checkpoint: str | None = None,
                 stamp: float = 0.0, limit: int | None = None) -> WordVectors:
    """Vectors of a run (its final `table`, or that of `checkpoint`) or of a vectors file (its
    first `limit` words). `stamp` is not read: it only lets a Choice be passed as
    `load_vectors(*choice)`."""
    if kind == "file":
        return WordVectors.load_word2vec(path, max_words=limit)
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
