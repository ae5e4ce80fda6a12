"""Phrases: word2vec's word2phrase and gensim's `Phrases`, on arrays of word ids.

A pass counts every word and every pair of adjacent words within a paragraph (a boundary, id -1,
pairs with nothing), scores each pair with gensim's default scorer (Mikolov et al. 2013)

    score(a, b) = (count(a b) - min_count) / (count(a) * count(b)) * V

where V is gensim's `len(vocab)`: the number of word types plus the number of pair types counted,
and keeps the pairs scoring above the threshold. It then rewrites the corpus left to right as
gensim's `Phrases[sentence]` does: a detected pair becomes one token `a_b` and its second word
cannot start another pair. A second pass, on the rewritten corpus, finds longer phrases
("new_york times" -> "new_york_times").

Memory is bounded: at most MAX_PAIRS pair types are held (16 bytes each); beyond that the rarest
are dropped as word2vec.c's ReduceVocab does (pairs seen at most k times, k rising until MAX_PAIRS
or fewer are left), which only ever loses pairs too rare to score (their counts become lower
bounds), as gensim prunes at its max_vocab_size.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

DELIMITER = "_"
MAX_PAIRS = 10_000_000  # pair types held while counting (160 MB, and as much again while merging)
_BUFFER = 1 << 22  # pairs gathered between two merges
_LOW = np.int64(0xFFFFFFFF)
FILE = "phrases.tsv"  # in a run directory: phrase, count, score, pass
HEADER = "phrase\tcount\tscore\tpass\n"


@dataclass(frozen=True)
class PhraseSettings:
    """`passes` of detection (0 = off), gensim's `threshold` and `min_count`."""

    passes: int = 0
    threshold: float = 10.0
    min_count: int = 5

    @classmethod
    def of(cls, cfg) -> "PhraseSettings":
        """The phrase settings of a TrainConfig."""
        return cls(cfg.phrases, cfg.phrase_threshold, cfg.phrase_min_count)


@dataclass(frozen=True)
class Phrase:
    text: str  # the joined token, "new_york"
    count: int  # adjacent occurrences of its two parts in the pass that found it
    score: float
    passno: int


def pair_keys(ids: np.ndarray) -> np.ndarray:
    """The key a << 32 | b of every adjacent pair of word ids (a boundary pairs with nothing)."""
    a, b = ids[:-1], ids[1:]
    ok = (a >= 0) & (b >= 0)
    return (a[ok].astype(np.int64) << 32) | b[ok].astype(np.int64)


class PairCounter:
    """Counts of adjacent id pairs over a stream given in consecutive pieces (the pair across two
    pieces counts), never more than `bound` pair types held after a merge (see the module)."""

    def __init__(self, bound: int = MAX_PAIRS, buffer: int = _BUFFER):
        self.bound, self.buffer = max(int(bound), 1), buffer
        self.keys = np.zeros(0, np.int64)  # sorted
        self.counts = np.zeros(0, np.int64)
        self.pending: list[np.ndarray] = []
        self.n_pending = 0
        self.last = np.full(1, -1, np.int32)
        self.pruned_at = 0  # 0: every count exact

    def add(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.concatenate([self.last, ids.astype(np.int32, copy=False)])
        self.last = ids[-1:]
        keys = pair_keys(ids)
        self.pending.append(keys)
        self.n_pending += len(keys)
        if self.n_pending >= self.buffer:
            self.merge()

    def merge(self) -> "PairCounter":
        """Fold the pending pairs into the sorted counts, then prune to the bound."""
        if self.pending:
            keys = np.concatenate([self.keys, *self.pending])
            counts = np.concatenate([self.counts, np.ones(self.n_pending, np.int64)])
            self.pending, self.n_pending = [], 0
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
            starts = np.flatnonzero(np.concatenate([[len(keys) > 0], keys[1:] != keys[:-1]]))
            self.keys, self.counts = keys[starts], np.add.reduceat(counts, starts) if len(keys) else counts
        while len(self.keys) > self.bound:
            self.pruned_at += 1
            keep = self.counts > self.pruned_at
            self.keys, self.counts = self.keys[keep], self.counts[keep]
        return self


def score(word_counts: np.ndarray, pairs: PairCounter, min_count: int) -> np.ndarray:
    """gensim's original_scorer for every pair counted, computed as gensim computes it."""
    n_types = int(np.count_nonzero(word_counts)) + len(pairs.keys)  # gensim's len(vocab)
    denom = word_counts[pairs.keys >> 32] * word_counts[pairs.keys & _LOW]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (pairs.counts - min_count) / denom.astype(np.float64) * n_types, -np.inf)


def detect(word_counts: np.ndarray, pairs: PairCounter, settings: PhraseSettings) -> tuple[np.ndarray, ...]:
    """(keys, counts, scores) of the pairs scoring above the threshold, keys sorted."""
    pairs.merge()
    s = score(word_counts, pairs, settings.min_count)
    hit = s > settings.threshold
    return pairs.keys[hit], pairs.counts[hit], s[hit]


def greedy(hit: np.ndarray) -> np.ndarray:
    """Which pair starts to join, left to right: in a run of consecutive detected pairs (i, i+1),
    (i+1, i+2), ... the first joins and its second word is taken, so every other one joins."""
    idx = np.arange(len(hit))
    start = hit & ~np.concatenate([[False], hit[:-1]])
    run_start = np.maximum.accumulate(np.where(start, idx, 0))
    return hit & ((idx - run_start) % 2 == 0)


class Joiner:
    """Rewrites a stream of ids given in consecutive pieces: every detected pair (its key in the
    sorted `keys`) becomes its phrase's id `new_ids[k]`. A piece's last word, unless joined, waits
    for the next piece, where it may start a pair."""

    def __init__(self, keys: np.ndarray, new_ids: np.ndarray):
        self.keys, self.new_ids = keys, new_ids
        self.carry = np.zeros(0, np.int32)

    def __call__(self, piece: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return piece
        ids = np.concatenate([self.carry, piece.astype(np.int32, copy=False)])
        if len(ids) < 2:
            self.carry = ids
            return ids[:0]
        k = (ids[:-1].astype(np.int64) << 32) | (ids[1:].astype(np.int64) & _LOW)
        pos = np.minimum(np.searchsorted(self.keys, k), len(self.keys) - 1)
        take = greedy((ids[:-1] >= 0) & (ids[1:] >= 0) & (self.keys[pos] == k))
        out = ids.copy()
        out[:-1][take] = self.new_ids[pos[take]]
        out = out[~np.concatenate([[False], take])]
        if take[-1]:
            self.carry = np.zeros(0, np.int32)
            return out
        self.carry = out[-1:]
        return out[:-1]

    def flush(self) -> np.ndarray:
        out, self.carry = self.carry, np.zeros(0, np.int32)
        return out


def rewrite(pieces: Iterable[np.ndarray], joiner: Joiner, n_ids: int, write: Callable[[np.ndarray], None],
            pairs: PairCounter | None = None) -> np.ndarray:
    """Join the phrases of a stream, `write` it piece by piece, and count its words (and its
    pairs, into `pairs`, for another pass). Returns the word counts (n_ids of them)."""
    counts = np.zeros(n_ids, np.int64)
    for out in itertools.chain((joiner(p) for p in pieces), [joiner.flush()]):
        counts += np.bincount(out[out >= 0], minlength=n_ids)
        if pairs is not None:
            pairs.add(out)
        write(out)
    return counts


def run_passes(stream, index: dict[str, int], counts: np.ndarray, pairs: PairCounter,
               settings: PhraseSettings) -> tuple[np.ndarray, list[Phrase]]:
    """`settings.passes` passes over `stream` (an IdFile or IdArray) whose words are counted in
    `counts` and their pairs in `pairs`. New phrase tokens join `index` (word -> id, in id order
    after '' -> -1). Returns the word counts of the rewritten stream and the phrases found."""
    found: list[Phrase] = []
    for passno in range(1, settings.passes + 1):
        words = list(index)[1:]
        keys, pair_counts, scores = detect(counts, pairs, settings)
        texts = [words[k >> 32] + DELIMITER + words[k & 0xFFFFFFFF] for k in keys.tolist()]
        new_ids = np.array([index.setdefault(t, len(index) - 1) for t in texts], np.int32)
        found += [Phrase(t, c, s, passno) for t, c, s in zip(texts, pair_counts.tolist(), scores.tolist())]
        pairs = PairCounter(pairs.bound) if passno < settings.passes else None
        counts = stream.rewrite(Joiner(keys, new_ids), len(index) - 1, pairs)
    return counts, sorted(found, key=lambda p: (p.passno, -p.score, p.text))


class IdFile:
    """An int32 id file as a stream that `run_passes` rewrites in place (through a temporary file)."""

    def __init__(self, path: str | os.PathLike, before_write: Callable[[int], None] | None = None,
                 chunk: int = 1 << 22):
        self.path, self.before_write, self.chunk = str(path), before_write, chunk

    def pieces(self) -> Iterator[np.ndarray]:
        with open(self.path, "rb") as f:
            while len(piece := np.fromfile(f, dtype=np.int32, count=self.chunk)):
                yield piece

    def rewrite(self, joiner: Joiner, n_ids: int, pairs: PairCounter | None) -> np.ndarray:
        if self.before_write:
            self.before_write(os.path.getsize(self.path))
        tmp = self.path + ".join"
        try:
            with open(tmp, "wb") as out:
                counts = rewrite(self.pieces(), joiner, n_ids, lambda a: a.tofile(out), pairs)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return counts


class IdArray:
    """An id array in memory as a stream that `run_passes` rewrites."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids

    def rewrite(self, joiner: Joiner, n_ids: int, pairs: PairCounter | None) -> np.ndarray:
        parts: list[np.ndarray] = []
        counts = rewrite([self.ids], joiner, n_ids, parts.append, pairs)
        self.ids = np.concatenate(parts) if parts else self.ids[:0]
        return counts


def find(token_blocks: Iterable[list[str]], settings: PhraseSettings, max_tokens: int,
         bound: int = MAX_PAIRS) -> tuple[list[Phrase], int]:
    """The phrases of the first `max_tokens` tokens of `token_blocks` (token lists, '' a paragraph
    boundary), in memory: (phrases, tokens read). For showing phrases without a training run."""
    index: dict[str, int] = {"": -1}
    parts, n = [], 0
    for tokens in token_blocks:
        get = index.setdefault
        parts.append(np.fromiter((get(t, len(index) - 1) for t in tokens[: max_tokens - n]), np.int32))
        n += len(parts[-1])
        if n >= max_tokens:
            break
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    pairs = PairCounter(bound)
    pairs.add(ids)
    counts = np.bincount(ids[ids >= 0], minlength=len(index) - 1).astype(np.int64)
    _, found = run_passes(IdArray(ids), index, counts, pairs, settings)
    return found, int(np.count_nonzero(ids >= 0))


def write_tsv(path: str | os.PathLike, phrases: list[Phrase]) -> None:
    """phrases.tsv: a header, then phrase, count, score, pass per line (atomically)."""
    from .runs import atomic_write_text
    atomic_write_text(path, HEADER + "".join(f"{p.text}\t{p.count}\t{p.score:.6g}\t{p.passno}\n" for p in phrases))


def read_tsv(path: str | os.PathLike) -> list[Phrase]:
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    return [Phrase(t, int(c), float(s), int(p)) for t, c, s, p in (line.split("\t") for line in lines)]
