"""Many words chosen at once on the map (a box or a lasso): the words, their files, and the
words nearest their centroid.

    chosen = selected_words(event)                   # ['paris', 'berlin', ...], as selected
    centroid_neighbours(wv, chosen, k=20)            # word, similarity, frequency
    as_text(chosen); as_csv(wv, chosen)
"""

from __future__ import annotations

import io
from typing import Sequence

import pandas as pd

from ..errors import W2VError
from ..vectors import WordVectors

SELECT_LIMIT = 5000  # the most words a selection keeps (a whole map's worth)
LIST_CHARS = 100_000  # the longest word list the "words I chose" box takes
SELECT_HELP = ("Drag a box or a lasso on the map (the box and lasso tools are above it, on the right) "
               "to choose many words; click a point to choose one.")


def _points(event) -> list:
    return ((event or {}).get("selection") or {}).get("points") or []


def is_area(event) -> bool:
    """Whether a plotly selection was made with the box or the lasso (not a click)."""
    sel = (event or {}).get("selection") or {}
    return bool(sel.get("box") or sel.get("lasso"))


def selected_words(event, limit: int = SELECT_LIMIT) -> list[str]:
    """The words of the selected points (their custom_data), each once, in the order selected."""
    words = (p["customdata"][0] for p in _points(event) if p.get("customdata"))
    return list(dict.fromkeys(words))[:limit]


def parse_list(text: str, limit: int = SELECT_LIMIT) -> list[str]:
    """The words of a typed or pasted list (separated by spaces, commas or new lines), each once."""
    if len(text or "") > LIST_CHARS:
        raise W2VError(f"the list is {len(text):,} characters long: paste at most {LIST_CHARS:,}")
    words = list(dict.fromkeys((text or "").replace(",", " ").split()))
    if len(words) > limit:
        raise W2VError(f"the list has {len(words):,} words: map at most {limit:,}")
    return words


def in_vocabulary(wv: WordVectors, words: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the words the vectors know, those they do not)."""
    return [w for w in words if w in wv], [w for w in words if w not in wv]


def centroid_neighbours(wv: WordVectors, words: Sequence[str], k: int = 20) -> pd.DataFrame:
    """The `k` words nearest the mean of the unit vectors of `words` (those words left out):
    columns word, similarity, frequency."""
    known, _ = in_vocabulary(wv, words)
    if not known:
        raise W2VError("select some words on the map first")
    rows = wv.most_similar(positive=known[:SELECT_LIMIT], topn=k)
    df = pd.DataFrame(rows, columns=["word", "similarity"])
    df["frequency"] = [int(wv.counts[wv.key_to_index[w]]) if wv.counts is not None else None for w in df.word]
    return df


def as_text(words: Sequence[str]) -> str:
    """One word a line."""
    return "".join(f"{w}\n" for w in words)


def as_csv(wv: WordVectors, words: Sequence[str]) -> str:
    """word, frequency (empty for a file without counts), rank in the vocabulary."""
    idx = [wv.key_to_index[w] for w in words if w in wv]
    df = pd.DataFrame({"word": [wv.index_to_key[i] for i in idx],
                       "frequency": [int(wv.counts[i]) for i in idx] if wv.counts is not None else None,
                       "rank": [i + 1 for i in idx]})
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()
