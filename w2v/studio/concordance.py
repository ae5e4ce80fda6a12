"""Why are two words neighbours? The run's corpus behind the vectors: concordance lines of a
word, and the context words two words share most.

    c = Corpus.of_source("run", run_dir)         # None for a vectors file (it has no text)
    c.concordance("paris"); c.shared_contexts("paris", "france")
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from ..corpus import Vocab
from ..runs import Run
from ..vectors import WordVectors

CANDIDATES = 20  # how many of a word's neighbours the "why" question offers


def candidates(wv: WordVectors, word: str, n: int = CANDIDATES) -> list[str]:
    """The words to ask "why is this near `word`?" about: its `n` nearest."""
    return [w for w, _ in wv.most_similar(word, topn=n)]


class Corpus:
    """A run's corpus as vocabulary ids (corpus.ids, -1 = paragraph boundary), memory-mapped:
    concordance lines and context counts without re-reading or re-tokenising the text. Words
    rarer than the run's min_count are not in the ids, so lines show only vocabulary words."""

    def __init__(self, ids: np.ndarray, words: Sequence[str]):
        self.ids = ids
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self._para = None
        self._freq = None

    @classmethod
    def of_source(cls, kind: str, path: str | os.PathLike) -> "Corpus | None":
        """The corpus of a run; None for a vectors file, which comes without its text."""
        return cls.of_run(path) if kind == "run" else None

    @classmethod
    def of_run(cls, run_dir: str | os.PathLike) -> "Corpus | None":
        run = Run(run_dir)
        if not (run.ids_path.exists() and run.vocab_path.exists()) or run.ids_path.stat().st_size < 4:
            return None
        return cls(np.memmap(run.ids_path, dtype=np.int32, mode="r"), Vocab.load(run.vocab_path).words)

    @property
    def paragraph(self) -> np.ndarray:
        if self._para is None:
            self._para = np.cumsum(np.asarray(self.ids) < 0, dtype=np.int32)
        return self._para

    def positions(self, word: str, limit: int | None = None, seed: int = 0) -> np.ndarray:
        if word not in self.index:
            return np.zeros(0, np.int64)
        pos = np.flatnonzero(np.asarray(self.ids) == self.index[word])
        if limit is not None and len(pos) > limit:  # spread over the whole corpus, in order
            pos = np.sort(np.random.default_rng(seed).choice(pos, limit, replace=False))
        return pos

    def concordance(self, word: str, n: int = 8, width: int = 7) -> list[str]:
        """Up to `n` lines 'left words [word] right words' from across the corpus."""
        lines = []
        para = self.paragraph
        for p in self.positions(word, n):
            lo, hi = max(0, p - width), min(len(self.ids), p + width + 1)
            ctx = [(q, int(self.ids[q])) for q in range(lo, hi) if para[q] == para[p] and self.ids[q] >= 0]
            left = " ".join(self.words[i] for q, i in ctx if q < p)
            right = " ".join(self.words[i] for q, i in ctx if q > p)
            lines.append(f"{left} [{word}] {right}".strip())
        return lines

    def context_counts(self, word: str, window: int = 5, limit: int = 50_000) -> np.ndarray:
        """How often each vocabulary word occurs within `window` of `word` (same paragraph),
        over at most `limit` occurrences."""
        pos = self.positions(word, limit)
        counts = np.zeros(len(self.words), np.int64)
        if not len(pos):
            return counts
        offs = np.r_[-window:0, 1:window + 1]
        at = pos[:, None] + offs[None, :]  # (occurrences, 2 * window)
        ok = (at >= 0) & (at < len(self.ids))
        at = np.where(ok, at, 0)
        ids, para = np.asarray(self.ids)[at], self.paragraph[at]
        ok &= (ids >= 0) & (para == self.paragraph[pos][:, None])
        return np.bincount(ids[ok], minlength=len(self.words))

    def frequencies(self) -> np.ndarray:
        if self._freq is None:
            ids = np.asarray(self.ids)
            self._freq = np.bincount(ids[ids >= 0], minlength=len(self.words))
        return self._freq

    def shared_contexts(self, a: str, b: str, window: int = 5, top: int = 15) -> pd.DataFrame:
        """The context words `a` and `b` share most: ranked by the smaller of the two positive
        PMIs (so 'the' does not win just by being everywhere), with the raw counts."""
        ca, cb = self.context_counts(a, window), self.context_counts(b, window)
        both = np.flatnonzero((ca > 0) & (cb > 0))
        both = both[[self.words[i] not in (a, b) for i in both]]
        cols = ["context", f"with {a}", f"with {b}", "score"]
        if not len(both):
            return pd.DataFrame(columns=cols)
        p = self.frequencies()[both] / max(self.frequencies().sum(), 1)
        pmi_a = np.log(ca[both] / ca.sum() / p)
        pmi_b = np.log(cb[both] / cb.sum() / p)
        score = np.maximum(np.minimum(pmi_a, pmi_b), 0) * np.log1p(np.minimum(ca[both], cb[both]))
        order = np.argsort(-score, kind="stable")[:top]
        return pd.DataFrame({cols[0]: [self.words[i] for i in both[order]], cols[1]: ca[both][order],
                             cols[2]: cb[both][order], cols[3]: np.round(score[order], 3)})
