"""Words in one set of vectors: suggestions for a half-typed word, lookup, the neighbours table
(and its bar chart), the visit trail, analogies and similarity; the nearest-neighbour search the
Map and Compare pages share, within a memory budget; and the turn heavy explore work takes.

    word, hints = lookup(wv, "frnace")                   # None, ['france', ...]
    lookup(wv, "new york")                               # 'new_york', []
    neighbours(wv, "france", k=10)                       # word, similarity, frequency
    analogy(wv, "man", "king", "woman")                  # {'3CosAdd': [...], '3CosMul': [...]}
    with heavy_turn(waiting=show):                       # one t-SNE (or large compare) at a time
        ...
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import W2VError
from ..vectors import WordVectors

FIRST_WORDS = ("king", "france", "computer")  # a page's first word, when the vectors know one
ANALOGY_WORDS = ("man", "king", "woman")
TRAIL_LENGTH = 12
BLOCK_BYTES = 64 << 20  # memory nearest_rows scores with at once
HEAVY_PAIRS = 20_000_000  # (word, word) similarities above which a neighbour search takes turns
QUEUED = "Another map or comparison is being computed; yours is queued"


def suggest(wv: WordVectors, text: str, n: int = 8) -> list[str]:
    """Words for a half-typed `text`: those starting with it (most frequent first), then the
    closest spellings."""
    text = text.strip()
    if not text:
        return []
    out = [w for w in wv.index_to_key[:200_000] if w.startswith(text) and w != text][:n]
    for w in wv.closest_words(text, n):
        if w not in out and w != text:
            out.append(w)
    return out[:n]


def lookup(wv: WordVectors, text: str) -> tuple[str | None, list[str]]:
    """(the word, []) when `text` names a vocabulary word (as typed, lower-cased, a phrase typed
    as words: "new york" -> new_york, or in another case: see WordVectors.find), else
    (None, suggestions)."""
    word = wv.find(text)
    if word is not None:
        return word, []
    return None, suggest(wv, wv.phrase(text).lower())


def known(wv: WordVectors, *words: str) -> list[str]:
    """The vocabulary word of each of `words` (see lookup); W2VError with suggestions when one
    is not in the vocabulary."""
    out = []
    for text in words:
        w, hints = lookup(wv, text)
        if w is None:
            tip = f": did you mean {', '.join(hints[:5])}?" if hints else ": try another word"
            raise W2VError(f"'{text}' is not in the vocabulary{tip}" if text else "type a word first")
        out.append(w)
    return out


def first_word(wv: WordVectors, last: str | None = None) -> str:
    """The word a page starts on: the last one looked at, else a well-known word, else the most
    frequent."""
    return last or next((w for w in FIRST_WORDS if w in wv), wv.index_to_key[0])


def analogy_defaults(wv: WordVectors) -> list[str]:
    """man, king, woman, each replaced by one of the most frequent words when unknown."""
    return [w if w in wv else wv.index_to_key[min(i, len(wv) - 1)] for i, w in enumerate(ANALOGY_WORDS)]


def block_rows(vocab: int, budget: int | None = None) -> int:
    """How many rows nearest_rows scores at once against a vocabulary of `vocab` words: each
    costs 12 bytes a word (a float32 similarity and argpartition's int64 index), held within
    `budget` bytes (default BLOCK_BYTES; at least one row)."""
    return max(1, (budget or BLOCK_BYTES) // (12 * max(vocab, 1)))


def nearest_rows(unit: np.ndarray, rows: np.ndarray, k: int, block: int | None = None) -> np.ndarray:
    """Indices of the k nearest (cosine, best first) of each of `rows` among the rows of the
    unit-length table `unit`, the word itself excluded; scored `block` rows at a time (default:
    as many as BLOCK_BYTES of memory allows, whatever the vocabulary's size)."""
    unit = np.asarray(unit, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    block = block or block_rows(len(unit))
    out = [_nearest_block(unit, rows[s:s + block], k) for s in range(0, len(rows), block)]
    return np.concatenate(out) if out else np.zeros((0, k), np.int64)


def _nearest_block(unit: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """nearest_rows for the rows `r`: its (len(r), V) scores are freed on return."""
    dist = unit[r] @ unit.T  # (len(r), V)
    np.negative(dist, out=dist)  # minus the cosine, in place
    dist[np.arange(len(r)), r] = np.inf
    top = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else \
        np.broadcast_to(np.arange(dist.shape[1]), dist.shape)
    order = np.argsort(np.take_along_axis(dist, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def neighbours(wv: WordVectors, word: str, k: int = 10) -> pd.DataFrame:
    """The `k` nearest words by cosine: columns word, similarity, frequency."""
    (word,) = known(wv, word)
    rows = wv.most_similar(word, topn=k)
    df = pd.DataFrame(rows, columns=["word", "similarity"])
    df["frequency"] = [int(wv.counts[wv.key_to_index[w]]) if wv.counts is not None else None
                       for w in df.word]
    return df


def neighbours_figure(df: pd.DataFrame):
    """The neighbours table as horizontal bars, nearest on top."""
    import plotly.graph_objects as go
    fig = go.Figure(go.Bar(x=df.similarity[::-1], y=df.word[::-1], orientation="h",
                           text=df.similarity[::-1].round(3), textposition="auto"))
    fig.update_layout(height=max(250, 24 * len(df)), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="cosine similarity")
    return fig


def visit(trail: list[str], word: str) -> list[str]:
    """The breadcrumb after going to `word`: appended, or cut back if it was visited before."""
    return trail[: trail.index(word) + 1] if word in trail else [*trail, word][-TRAIL_LENGTH:]


def analogy(wv: WordVectors, a: str, b: str, c: str, topn: int = 5) -> dict[str, list[tuple[str, float]]]:
    """a : b :: c : ? — answers by 3CosAdd (b - a + c) and 3CosMul, side by side."""
    a, b, c = known(wv, a, b, c)
    return {"3CosAdd": wv.most_similar(positive=[b, c], negative=[a], topn=topn),
            "3CosMul": wv.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)}


def similarity(wv: WordVectors, a: str, b: str) -> float:
    a, b = known(wv, a, b)
    return wv.similarity(a, b)


# --- heavy work takes turns -------------------------------------------------------------------
_TURN = threading.RLock()  # one per process: every tab of the app's server shares it
_queue = {"waiting": 0}
_queue_lock = threading.Lock()


class Busy(Exception):
    """Another request holds the turn for heavy work (heavy_turn with wait=False)."""


def queued() -> int:
    """How many requests of this process wait for the turn."""
    return _queue["waiting"]


def _count(delta: int) -> None:
    with _queue_lock:
        _queue["waiting"] += delta


@contextlib.contextmanager
def heavy_turn(heavy: bool = True, wait: bool = True, waiting: Callable[[float], None] | None = None,
               poll: float = 0.5):
    """Hold the process's one turn for heavy explore work (a t-SNE or UMAP map, a large compare
    or neighbour table), so that two tabs never run two at once. While another request holds
    it, wait, calling waiting(seconds so far) at once and every `poll` seconds (a page says
    there that it is queued; an exception it raises gives up the wait), or with wait=False raise
    Busy. The thread that holds the turn may take it again; heavy=False takes no turn."""
    if not heavy:
        yield
        return
    if not _TURN.acquire(blocking=False):
        if not wait:
            raise Busy(QUEUED)
        _wait_for_turn(waiting, poll)
    try:
        yield
    finally:
        _TURN.release()


def _wait_for_turn(waiting, poll: float) -> None:
    start = time.monotonic()
    _count(1)
    try:
        while True:
            if waiting is not None:
                waiting(time.monotonic() - start)
            if _TURN.acquire(timeout=poll):
                return
    finally:
        _count(-1)
