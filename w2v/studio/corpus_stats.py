"""What the corpus page shows, computed on the user's own corpus (this module never imports streamlit).

    s = summarize("data/text8-prefix.txt.gz", progress=print)   # one streamed pass
    vocab = vocab_at(s, min_count=5)                             # a Vocab, no second pass
    zipf(s); vocab_curve(s); keep_curve(vocab, 1e-3); kept_share(vocab, 1e-3)
    sentence_pairs(s.examples[0], vocab, window=2)               # the (centre, context) pairs
    noise_table(vocab); dropped_words(vocab, 1e-3)

Everything after `summarize` works on its counts, so moving a slider costs no re-read. A corpus of
more than MAX_TYPES word types is counted as word2vec.c does when its vocabulary outgrows its table
(ReduceVocab): the rarest types are dropped while reading, and the summary says its counts are
approximate (`pruned_at`, `approximation`).
"""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import phrases
from ..corpus import Vocab, compression, iter_token_blocks, make_pairs, reduced_windows, subsample
from ..phrases import PhraseSettings


MAX_TYPES = 1_000_000  # word types held while counting (about 150 MB at most)
_SLICE = 1 << 16  # tokens counted between two checks of the bound
PHRASE_TOKENS = 3_000_000  # tokens the page looks for phrases in (a few seconds; pairs held stay bounded)


class TypeCounter:
    """Counts of word types, never more than `bound` + one slice of them held: whenever more are,
    the types seen at most `pruned_at` times are dropped, `pruned_at` rising by one each time
    (word2vec.c's ReduceVocab), until `bound` or fewer are left. Counts of the types kept are then
    lower bounds (a type dropped once starts again from zero)."""

    def __init__(self, bound: int | None = None):
        self.bound = max(int(bound or MAX_TYPES), 1)
        self.counts: Counter = Counter()
        self.pruned_at = 0  # 0: every count exact

    def update(self, tokens: list[str]) -> None:
        for first in range(0, len(tokens), _SLICE):
            self.counts.update(tokens[first:first + _SLICE])
            while len(self.counts) > self.bound:
                self.pruned_at += 1
                self.counts = Counter({w: c for w, c in self.counts.items() if c > self.pruned_at})


@dataclass
class CorpusSummary:
    """Counts of every word type, most frequent first (ties alphabetically), and a few examples.
    With `pruned_at` > 0 the corpus had more than `max_types` types: types seen up to `pruned_at`
    times were dropped while counting, `types` is the number kept and the counts are lower bounds."""

    tokens: int
    types: int
    paragraphs: int
    words: list[str]
    counts: np.ndarray  # int64, non-increasing
    examples: list[list[str]] = field(default_factory=list)  # short passages for the pipeline view
    pruned_at: int = 0
    max_types: int = MAX_TYPES


def approximation(s: CorpusSummary) -> str | None:
    """What the page says of a summary whose counts are approximate, or None when they are exact."""
    if not s.pruned_at:
        return None
    return (f"Counts are approximate: this corpus has more than {s.max_types:,} word types, so while reading "
            f"it the rarest ones were dropped whenever that many were held (as word2vec does). Words seen up to "
            f"{s.pruned_at:,} times may be missing and other counts may be a little low; token counts are exact.")


def summarize(path: str | os.PathLike, keep_punct: bool = False,
              progress: Callable[[int], None] | None = None,
              n_examples: int = 40, example_len: int = 24, max_types: int | None = None,
              text_field: str = "") -> CorpusSummary:
    """Stream `path` once (a table's `text_field`): word counts (at most `max_types` types held,
    MAX_TYPES by default: see TypeCounter), paragraph count and the first `n_examples` passages
    (a paragraph, cut to `example_len` tokens). `progress(tokens_read)` is called per block."""
    counter = TypeCounter(max_types)
    tokens, paragraphs = 0, 1
    examples: list[list[str]] = []
    current: list[str] = []
    for block in iter_token_blocks(path, keep_punct, text_field=text_field):
        n_bound = block.count("")
        paragraphs += n_bound
        counter.update([t for t in block if t] if n_bound else block)
        tokens += len(block) - n_bound
        if len(examples) < n_examples:
            for t in block:
                if t:
                    current.append(t)
                if (not t or len(current) == example_len) and current:
                    examples.append(current)
                    current = []
                    if len(examples) == n_examples:
                        break
        if progress:
            progress(tokens)
    if current and len(examples) < n_examples:
        examples.append(current)
    pairs = sorted(counter.counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return CorpusSummary(tokens=tokens, types=len(pairs), paragraphs=paragraphs,
                         words=[w for w, _ in pairs], counts=np.array([c for _, c in pairs], dtype=np.int64),
                         examples=examples, pruned_at=counter.pruned_at, max_types=counter.bound)


_CACHE: OrderedDict = OrderedDict()


def summarize_cached(path: str | os.PathLike, keep_punct: bool = False,
                     progress: Callable[[int], None] | None = None, keep: int = 4,
                     text_field: str = "") -> CorpusSummary:
    """`summarize`, remembered per (file, size, modification time, keep_punct, text_field) for
    this process, so every page and every browser session reads a corpus once."""
    return _remembered(("summary", keep_punct, text_field), path, keep,
                       lambda p: summarize(p, keep_punct, progress, text_field=text_field))


def phrases_cached(path: str | os.PathLike, settings: PhraseSettings, keep_punct: bool = False,
                   text_field: str = "", max_tokens: int = PHRASE_TOKENS) -> dict:
    """The phrases `settings` find in the first `max_tokens` tokens of the corpus (as training
    with --phrases finds them, on that prefix), remembered like summarize_cached:
    {"rows": [{"phrase", "count", "score", "pass"}], "tokens": tokens read, "whole": bool}."""
    def compute(p):
        blocks = iter_token_blocks(p, keep_punct, text_field=text_field)
        found, n = phrases.find(blocks, settings, max_tokens)
        rows = [{"phrase": q.text.replace(phrases.DELIMITER, " "), "count": q.count, "score": q.score,
                 "pass": q.passno} for q in found]
        return {"rows": rows, "tokens": n, "whole": n < max_tokens}
    return _remembered(("phrases", settings, keep_punct, text_field), path, 4, compute)


def _remembered(what: tuple, path, keep: int, compute):
    """compute(path), remembered per (what, file, size, modification time), `keep` of each kind."""
    key = _key(what, path)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute(Path(key[len(what)]))
    _CACHE[key] = value
    while sum(k[0] == what[0] for k in _CACHE) > keep:
        del _CACHE[next(k for k in _CACHE if k[0] == what[0])]
    return value


def cached(path: str | os.PathLike, keep_punct: bool = False, text_field: str = "") -> CorpusSummary | None:
    """The summary `summarize_cached` holds for this file as it is now, or None: never reads it."""
    return _CACHE.get(_key(("summary", keep_punct, text_field), path))


def _key(what: tuple, path: str | os.PathLike) -> tuple:
    """(*what, file, size, modification time): a rewritten file is read again."""
    p = Path(path).resolve()
    st = p.stat() if p.exists() else None
    return (*what, str(p), st and st.st_size, st and st.st_mtime_ns)


def vocab_at(s: CorpusSummary, min_count: int = 5, max_vocab: int = 0) -> Vocab:
    """The vocabulary the trainer would build: words seen at least `min_count` times."""
    k = int(np.searchsorted(-s.counts, -max(min_count, 1), side="right"))
    if max_vocab:
        k = min(k, max_vocab)
    return Vocab(s.words[:k], s.counts[:k])


def coverage(s: CorpusSummary, min_count: int = 5, max_vocab: int = 0) -> float:
    """Share of the corpus tokens that are in the vocabulary."""
    return vocab_at(s, min_count, max_vocab).total / max(s.tokens, 1)


def top_words(s: CorpusSummary, n: int = 30) -> list[dict]:
    return [{"rank": i + 1, "word": w, "count": int(c), "share": c / max(s.tokens, 1)}
            for i, (w, c) in enumerate(zip(s.words[:n], s.counts[:n]))]


def zipf(s: CorpusSummary, max_points: int = 1500) -> dict[str, list]:
    """Rank and frequency of words at log-spaced ranks (every rank of a small corpus)."""
    n = len(s.words)
    if n <= max_points:
        idx = np.arange(n)
    else:
        idx = np.unique(np.geomspace(1, n, max_points).astype(np.int64) - 1)
    return {"rank": (idx + 1).tolist(), "count": s.counts[idx].tolist(), "word": [s.words[i] for i in idx]}


def vocab_curve(s: CorpusSummary, min_counts=range(1, 51)) -> dict[str, list]:
    """Vocabulary size and token coverage for each min_count."""
    neg = -s.counts
    sizes = [int(np.searchsorted(neg, -m, side="right")) for m in min_counts]
    cum = np.concatenate([[0], np.cumsum(s.counts)])
    return {"min_count": list(min_counts), "vocab_size": sizes,
            "coverage": [float(cum[k] / max(s.tokens, 1)) for k in sizes]}


def kept_share(vocab: Vocab, sample: float) -> float:
    """Expected share of the vocabulary's tokens that survive subsampling in one epoch."""
    if not len(vocab):
        return 1.0
    return float((vocab.counts * vocab.keep_prob(sample)).sum() / max(vocab.total, 1))


def keep_curve(vocab: Vocab, sample: float, points: int = 200) -> dict[str, list]:
    """Keep probability (sqrt(f/t) + 1) * t/f against word frequency f, over the range the
    vocabulary spans, plus the frequency of the vocabulary's top words for reference."""
    if not len(vocab):
        return {"freq": [], "keep": []}
    f = vocab.counts / max(vocab.total, 1)
    grid = np.geomspace(f.min(), f.max(), points)
    keep = np.ones_like(grid) if not sample else np.minimum((np.sqrt(grid / sample) + 1) * sample / grid, 1)
    return {"freq": grid.tolist(), "keep": keep.tolist()}


def dropped_words(vocab: Vocab, sample: float, n: int = 20) -> list[dict]:
    """The words subsampling thins out most: keep probability and share of their tokens dropped."""
    p = vocab.keep_prob(sample)
    idx = [i for i in np.argsort(p, kind="stable")[:n] if p[i] < 1]
    return [{"word": vocab.words[i], "count": int(vocab.counts[i]), "keep_prob": float(p[i]),
             "expected_dropped": int(round(vocab.counts[i] * (1 - p[i])))} for i in idx]


def noise_table(vocab: Vocab, n: int = 15, power: float = 0.75) -> list[dict]:
    """Unigram probability vs the unigram^power negative-sampling probability of the top words."""
    uni = vocab.noise_dist(1.0)
    smooth = vocab.noise_dist(power)
    return [{"word": vocab.words[i], "unigram": float(uni[i]), f"unigram^{power:g}": float(smooth[i])}
            for i in range(min(n, len(vocab)))]


def sentence_pairs(tokens: list[str], vocab: Vocab, window: int = 2, sample: float = 0.0,
                   reduced: bool = False, seed: int = 0) -> dict:
    """The trainer's pipeline on one passage: drop out-of-vocabulary words, optionally subsample
    and draw reduced windows, then every (centre, context) pair `make_pairs` produces.

    Returns {"kept": [words kept, in order], "dropped": [(word, why)], "windows": [b per kept
    word], "pairs": [{"centre", "context", "offset"}]}."""
    dropped = [(t, "not in vocabulary") for t in tokens if t not in vocab]
    ids = np.array([vocab.index[t] for t in tokens if t in vocab], dtype=np.int32)
    rng = np.random.default_rng(seed)
    if sample:
        kept_ids, para = subsample(ids, vocab.keep_prob(sample), rng)
        removed = Counter(ids.tolist()) - Counter(kept_ids.tolist())
        dropped += [(vocab.words[i], "subsampled") for i in removed.elements()]
    else:
        kept_ids, para = ids, np.zeros(len(ids), dtype=np.int32)
    n = len(kept_ids)
    b = reduced_windows(n, window, rng) if reduced else np.full(n, window, dtype=np.int32)
    # make_pairs on positions (not ids) gives which kept word pairs with which, so offsets follow.
    c, x = make_pairs(np.arange(n), para, b) if n else (np.zeros(0, int), np.zeros(0, int))
    order = np.lexsort((x, c))
    words = [vocab.words[i] for i in kept_ids]
    pairs = [{"centre": words[c[k]], "context": words[x[k]], "offset": int(x[k] - c[k])} for k in order]
    return {"kept": words, "dropped": dropped, "windows": b.tolist(), "pairs": pairs}


def estimated_tokens(path: str | os.PathLike) -> int:
    """A rough token count from the file size (about 6 bytes a token; archives about 3x smaller),
    for a progress bar while the real count is read."""
    p = Path(path)
    if not p.is_file():
        return 1
    with open(p, "rb") as f:
        kind = compression(f.read(8))
    ratio = {"gz": 3.2, "bz2": 3.8, "xz": 3.8}.get(kind, 1.0)
    return max(1, int(p.stat().st_size * ratio / 6))
