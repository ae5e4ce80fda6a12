"""Two sets of vectors compared: neighbour overlap per word, the benchmarks, the scores table.

    df = compare(wv_a, wv_b, k=10)        # overlap@10 per word, most changed first
    scores_table(benchmark(wv_a), benchmark(wv_b))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import W2VError
from ..evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY, evaluate
from ..vectors import WordVectors
from .words import HEAVY_PAIRS, heavy_turn, nearest_rows

WORD_COUNTS = (100, 500, 1000, 2000, 5000, 10000)  # how many of the most frequent words to compare
DEFAULT_WORDS = 2000


def overlap_column(k: int) -> str:
    return f"overlap@{k}"


def compare(a: WordVectors, b: WordVectors, words: Sequence[str] | None = None, k: int = 10,
            n: int = DEFAULT_WORDS, wait: bool = True) -> pd.DataFrame:
    """Per word, how many of its `k` nearest neighbours the two sets of vectors agree on, with
    neighbours searched among the words both know. Default words: the `n` most frequent of `a`
    also in `b`. Sorted with the most changed first. A large comparison runs in the process's
    turn for heavy work (words.heavy_turn: waiting for it, or with wait=False raising Busy)."""
    shared = [w for w in a.index_to_key if w in b.key_to_index]
    if len(shared) <= k:
        raise W2VError(f"the two vocabularies share only {len(shared)} words: compare vectors of the same corpus")
    pos = {w: i for i, w in enumerate(shared)}
    ua = a.unit[[a.key_to_index[w] for w in shared]]
    ub = b.unit[[b.key_to_index[w] for w in shared]]
    chosen = [w for w in (words if words is not None else shared[:n]) if w in pos]
    rows = np.array([pos[w] for w in chosen], dtype=np.int64)
    with heavy_turn(len(rows) * len(shared) > HEAVY_PAIRS, wait):
        na, nb = nearest_rows(ua, rows, k), nearest_rows(ub, rows, k)
    recs = []
    for w, ra, rb in zip(chosen, na, nb):
        sa, sb = set(ra.tolist()), set(rb.tolist())
        recs.append({"word": w, overlap_column(k): len(sa & sb) / k,
                     "neighbours A": " ".join(shared[i] for i in ra),
                     "neighbours B": " ".join(shared[i] for i in rb),
                     "only in A": " ".join(shared[i] for i in ra if i not in sb),
                     "only in B": " ".join(shared[i] for i in rb if i not in sa)})
    df = pd.DataFrame(recs)
    return df.sort_values(overlap_column(k), kind="stable").reset_index(drop=True) if len(df) else df


def find(df: pd.DataFrame, text: str) -> pd.DataFrame:
    """The row of the compared word `text` (lower-cased; a phrase typed as words, "new york",
    finds new_york): empty when it was not compared."""
    return df[df.word == "_".join(text.split()).lower()] if len(df) else df


def histogram(df: pd.DataFrame, k: int, height: int = 300):
    """How many words share 0, 1, ..., k of their neighbours."""
    import plotly.express as px
    return px.histogram(df, x=overlap_column(k), nbins=k + 1, height=height)


def benchmark(wv: WordVectors) -> dict:
    """The bundled analogy and WordSim-353 benchmarks on `wv`."""
    return evaluate(wv, DEFAULT_ANALOGIES if DEFAULT_ANALOGIES.exists() else None,
                    DEFAULT_SIMILARITY if DEFAULT_SIMILARITY.exists() else None)


def scores_table(a: dict | None, b: dict | None) -> pd.DataFrame:
    """Numeric scores of A and B side by side, one row per score."""
    keys = [k for k in dict.fromkeys([*(a or {}), *(b or {})])
            if isinstance((a or {}).get(k, (b or {}).get(k)), (int, float))]
    return pd.DataFrame({"score": keys, "A": [(a or {}).get(k) for k in keys],
                         "B": [(b or {}).get(k) for k in keys]})
