"""Words in one set of vectors: suggestions for a half-typed word, lookup, the neighbours table
(and its bar chart), the visit trail, analogies and similarity.

    word, hints = lookup(wv, "frnace")                   # None, ['france', ...]
    neighbours(wv, "france", k=10)                       # word, similarity, frequency
    analogy(wv, "man", "king", "woman")                  # {'3CosAdd': [...], '3CosMul': [...]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import W2VError
from ..vectors import WordVectors

FIRST_WORDS = ("king", "france", "computer")  # a page's first word, when the vectors know one
ANALOGY_WORDS = ("man", "king", "woman")
TRAIL_LENGTH = 12


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
    """(the word, []) when `text` is in the vocabulary (as typed or lower-cased), else
    (None, suggestions)."""
    text = (text or "").strip()
    for w in (text, text.lower()):
        if w and w in wv:
            return w, []
    return None, suggest(wv, text.lower() or text)


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


def nearest_rows(unit: np.ndarray, rows: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Indices of the k nearest (cosine, best first) of each of `rows` among the rows of the
    unit-length table `unit`, the word itself excluded."""
    unit = np.asarray(unit, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    out = []
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        sims = unit[r] @ unit.T  # (block, V)
        sims[np.arange(len(r)), r] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else \
            np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(out) if out else np.zeros((0, k), np.int64)


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
