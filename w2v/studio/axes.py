"""Custom axes, as the Embedding Projector's custom projection: each axis is a direction the user
names as words added and subtracted (`he - she`, `good - bad`, `king - man + woman`), and a
word's coordinate on it is the cosine of its vector with that direction.

    direction(wv, "he - she")                        # a unit vector
    xy = project(wv, idx, "he - she", "good - bad")  # (len(idx), 2)
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..errors import W2VError
from ..vectors import WordVectors
from .words import known

AXIS_CHARS = 100  # the longest axis expression
AXIS_TERMS = 10  # the most words one axis names
AXIS_HELP = ("Words added and subtracted, e.g. he - she or good - bad (king - man + woman works "
             "too): a word's position on this axis is the cosine of its vector with that direction.")
DEFAULT_AXES = ("he - she", "good - bad")
_TERM = re.compile(r"\s*([+\-−–])?\s*([^\s+\-−–]+)")


def parse(text: str) -> list[tuple[str, float]]:
    """[(word, +1 or -1)] of an axis expression: words joined by + and - (or −); the first word
    counts positively unless a sign comes before it."""
    text = (text or "").strip()
    if not text:
        raise W2VError("name each axis with words, e.g. he - she")
    if len(text) > AXIS_CHARS:
        raise W2VError(f"an axis is {len(text):,} characters long: write at most {AXIS_CHARS}")
    terms, pos = [], 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or not m.group(2):
            raise W2VError(f"cannot read the axis '{text}': write words joined by + and -, e.g. he - she")
        terms.append((m.group(2), -1.0 if m.group(1) in ("-", "−", "–") else 1.0))
        pos = m.end()
        if text[pos:].strip() == "":
            break
    if len(terms) > AXIS_TERMS:
        raise W2VError(f"an axis names {len(terms)} words: use at most {AXIS_TERMS}")
    return terms


def direction(wv: WordVectors, text: str) -> np.ndarray:
    """The unit direction of an axis expression: the signed sum of its words' unit vectors."""
    terms = parse(text)
    found = known(wv, *(w for w, _ in terms))
    v = sum(sign * wv.unit[wv.key_to_index[w]] for w, (_, sign) in zip(found, terms))
    norm = float(np.linalg.norm(v))
    if norm < 1e-6:
        raise W2VError(f"the axis '{text}' has no direction (its words cancel out): name two different words")
    return (v / norm).astype(np.float32)


def project(wv: WordVectors, idx: Sequence[int], x: str, y: str) -> np.ndarray:
    """The words at rows `idx`, placed at their cosines with the two axes' directions."""
    d = np.stack([direction(wv, x), direction(wv, y)], axis=1)  # (dim, 2)
    return wv.unit[np.asarray(idx, dtype=np.int64)] @ d
