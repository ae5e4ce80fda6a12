"""Which words the map writes: the clicked word and its neighbours always, then the most frequent
words whose labels fit without overlapping one already written.

    chosen = place_labels(xy, words, budget=default_budget(len(words)), always=[focus, *near])

The overlap test is a greedy pass in data coordinates scaled to the plot's pixels: a label's box
is as wide as its text (about CHAR_WIDTH of the font size a character) and one line high, centred
above its point as plotly's "top center" writes it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

PLOT_PX = (600, 600)  # the map's drawing area on a laptop screen (width, height), as the boxes are scaled
FONT_PX = 11  # the labels' font size
CHAR_WIDTH = 0.6  # a character's width, in font sizes (a sans-serif average)
PAD_PX = 2  # space kept around each label
MAX_BUDGET = 1000  # the most labels one map writes (beyond, none would be readable)
CANDIDATES = 5000  # the most words tried, in order: a whole-vocabulary map stays a fraction of a second


def default_budget(n: int) -> int:
    """How many frequent words to label on a map of `n` words when the user has not said: all of
    a small map, 30 of a 1,000-word one, never fewer than 30 (labels that do not fit are left out)."""
    return n if n <= 100 else max(30, min(300, 30_000 // n))


def boxes(xy: np.ndarray, words: Sequence[str], size: tuple[int, int] = PLOT_PX, font: int = FONT_PX,
          frame: np.ndarray | None = None, above: bool = True) -> np.ndarray:
    """(n, 4) label boxes x0, x1, y0, y1 in pixels of a plot `size` that shows all of the points
    `frame` (default: `xy`) with equal scales on both axes (the map's scaleanchor), each centred
    above its point (`above`, as plotly's "top center" writes it) or on it (an annotation)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    frame = xy if frame is None else np.asarray(frame, dtype=np.float64).reshape(-1, 2)
    if not len(xy) or not len(frame):
        return np.zeros((len(xy), 4))
    span = np.maximum(frame.max(axis=0) - frame.min(axis=0), 1e-12)
    scale = min(size[0] / span[0], size[1] / span[1])  # pixels per data unit
    px = (xy - frame.min(axis=0)) * scale
    half = np.array([len(w) for w in words], dtype=np.float64) * font * CHAR_WIDTH / 2 + PAD_PX
    height = font * 1.2 + PAD_PX
    bottom = px[:, 1] + font * 0.4 if above else px[:, 1] - height / 2
    return np.stack([px[:, 0] - half, px[:, 0] + half, bottom, bottom + height], axis=1)


def place_labels(xy: np.ndarray, words: Sequence[str], budget: int, always: Sequence[int] = (),
                 order: Sequence[int] | None = None, notes: Sequence[tuple[float, float, str]] = (),
                 size: tuple[int, int] = PLOT_PX, font: int = FONT_PX) -> list[int]:
    """Positions of the words to label: every one of `always` (even where they overlap), then up
    to `budget` more in `order` (default: as listed, i.e. most frequent first when the words are
    in vocabulary order), each only where its box overlaps no box already placed, nor any of the
    `notes` (x, y, text) written centred on the map (the cluster names). At most CANDIDATES
    words are tried."""
    n = len(words)
    box = boxes(xy, words, size, font)
    chosen = list(dict.fromkeys(i for i in always if 0 <= i < n))
    fixed = boxes([(x, y) for x, y, _ in notes], [t for _, _, t in notes], size, font, frame=xy, above=False)
    placed = np.concatenate([box[chosen], fixed, np.full((min(budget, MAX_BUDGET, n), 4), np.nan)])
    count, taken, extra = len(chosen) + len(fixed), set(chosen), 0
    for i in list(range(n) if order is None else order)[:CANDIDATES]:
        if extra >= min(budget, MAX_BUDGET):
            break
        b, p = box[i], placed[:count]
        if i not in taken and not np.any((p[:, 0] < b[1]) & (b[0] < p[:, 1]) & (p[:, 2] < b[3]) & (b[2] < p[:, 3])):
            placed[count] = b
            count, extra = count + 1, extra + 1
            chosen.append(i)
            taken.add(i)
    return chosen
