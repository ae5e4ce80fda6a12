"""The Map page's work: which words to map, their 2-D projection (the timeline's checkpoints
aligned onto the final map), colours (a colour-blind-safe palette for clusters), clusters,
highlights, the clicked word, the plotly figure with its labels, and the exports (table,
Embedding Projector zip, stand-alone HTML that works offline, the modebar's PNG and SVG).

    idx = map_words(final, "search", search="ing$")
    base = project(final, spec, "pca", {"seed": 0})                               # at once
    base = finished(final, spec, "tsne", {"perplexity": 30, "seed": 0})          # or Pending(state)
    xy = aligned(finished(final, spec, "tsne", params, at=epoch1, init=base), base)  # an epoch on it
    fig = map_figure(words, xy, *colour(final, idx))
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from typing import Sequence

import numpy as np
import pandas as pd

from .. import projection
from ..errors import W2VError
from ..vectors import WordVectors
from . import mapjobs
from .labels import FONT_PX
from .selection import in_vocabulary, is_area, parse_list, selected_words
from .sources import FINAL, Choice, Source, choose
from .words import HEAVY_PAIRS, heavy_turn, known, nearest_rows

AXES = "axes"  # the map's custom-axes mode (w2v.studio.axes), beside projection.methods()
METHODS = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP", AXES: "custom axes"}
MODES = {"frequent": "the most frequent", "search": "words matching a search",
         "neighbours": "the neighbours of a word", "words": "words I chose"}
# Okabe & Ito's colour-blind-safe palette, its black made grey so that it shows on a dark theme too
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
IMAGE_FORMATS = {"png": "PNG", "svg": "SVG"}
IMAGE_SCALE = 3  # the modebar's PNG: three times the map's size on screen
SEARCH_LIMIT = 5000  # words a search maps at most
SEARCH_CHARS = 100  # the longest search
SEARCH_HELP = ("Words containing these letters, in any case. ^ at the start keeps the words that begin "
               "with them (^un), $ at the end those that end with them (ing$). Not a regular "
               "expression: every other character stands for itself.")
PCA_HEAVY_WORDS = 50_000  # a PCA map of more words takes turns, as t-SNE and UMAP maps always do
HIGHLIGHT_LIMIT = 500  # words the highlight box rings at most
FOCUS_NEIGHBOURS = 15  # nearest words listed (and ringed) for the clicked word


# --- which words ----------------------------------------------------------------------------
def matching(words: Sequence[str], text: str) -> list[int]:
    """Positions of the words containing `text`, in any case; `^` at its start keeps the words
    that begin with it, `$` at its end those that end with it (ing$). Plain letters otherwise,
    never a regular expression: a search costs one pass over the words, whatever is typed."""
    text = text.strip().lower()
    if len(text) > SEARCH_CHARS:
        raise W2VError(f"the search is {len(text):,} characters long: type at most {SEARCH_CHARS}")
    start, end = text.startswith("^"), len(text) > 1 and text.endswith("$")
    core = text[1 if start else 0:len(text) - 1 if end else None]
    if start and end:
        return [i for i, w in enumerate(words) if w.lower() == core]
    test = str.startswith if start else str.endswith if end else str.__contains__
    return [i for i, w in enumerate(words) if test(w.lower(), core)]


def map_words(wv: WordVectors, mode: str = "frequent", n: int = 1000, search: str = "",
              word: str = "", k: int = 100, words: str = "") -> list[int]:
    """Row indices to map: the `n` most frequent words (n=0: all), the words matching `search`
    (see matching), `word` and its `k` nearest neighbours, or the listed `words` (a text of
    words separated by spaces, commas or new lines; those not in the vocabulary left out)."""
    if mode == "frequent":
        return list(range(len(wv) if not n else min(n, len(wv))))
    if mode == "search":
        if not search.strip().strip("^$"):
            raise W2VError("type a part of a word to choose the words to map")
        idx = matching(wv.index_to_key, search)[: n or None]
        if len(idx) < 2:
            raise W2VError(f"fewer than two words match '{search.strip()}': try a shorter search")
        return idx
    if mode == "neighbours":
        (w,) = known(wv, word)
        return [wv.key_to_index[w]] + [wv.key_to_index[x] for x, _ in wv.most_similar(w, topn=k)]
    if mode == "words":
        found, _ = in_vocabulary(wv, parse_list(words))
        if len(found) < 2:
            raise W2VError("list at least two words of the vocabulary to map (or select them on the map)")
        return [wv.key_to_index[w] for w in found]
    raise ValueError(f"unknown mode {mode!r}")


# --- the projection and the timeline --------------------------------------------------------
def project(final: WordVectors, spec: dict, method: str, params: dict,
            at: WordVectors | None = None, wait: bool = True) -> projection.Projection:
    """The 2-D map of the words `spec` (map_words' arguments) chooses. The words are always
    chosen on the `final` vectors, so that every checkpoint maps the same words; their points
    come from the vectors `at` a checkpoint (default: the final ones). A t-SNE or UMAP map (or
    a PCA one of very many words) not in the disk cache is computed in the process's turn for
    heavy work: waiting for it, or with wait=False raising words.Busy while another holds it."""
    idx = map_words(final, **spec)
    wv = final if at is None else at
    heavy = method != "pca" or len(idx) > PCA_HEAVY_WORDS
    return projection.project(wv.vectors[idx], [final.index_to_key[i] for i in idx], method,
                              turn=lambda: heavy_turn(heavy, wait), **params)


class Pending(Exception):
    """A map its background job has not made yet: .state says how far it is (mapjobs.MapState)."""

    def __init__(self, state: mapjobs.MapState):
        super().__init__(state.state)
        self.state = state


def background(method: str) -> bool:
    """Whether a `method` map is made by a background job (t-SNE, UMAP), the page showing a PCA
    preview meanwhile, rather than at once (PCA)."""
    return method != "pca"


def preview_params(params: dict) -> dict:
    """The PCA preview's parameters for a map asked with `params`."""
    return {"seed": params.get("seed", 0)}


def unavailable(method: str) -> str | None:
    """What to do to have `method` here (UMAP without umap-learn), or None when it runs."""
    if method == AXES or projection.available(method):
        return None
    return (f"{METHODS[method]} needs umap-learn, which is not installed here: `{projection.UMAP_INSTALL}` "
            "in the app's environment, then restart the app. The PCA map is shown instead.")


def finished(final: WordVectors, spec: dict, method: str, params: dict, at: WordVectors | None = None,
             init: projection.Projection | None = None, wait: bool = True) -> projection.Projection:
    """The `method` map of the words `spec` chooses (at a checkpoint `at`). PCA is computed here
    (see project); a t-SNE or UMAP map comes from the disk cache, or raises Pending while the
    background job that makes it (started here when none runs for it) computes it. `init`: the
    layout a checkpoint's t-SNE starts from (the final map), so that its points move little."""
    if not background(method):
        return project(final, spec, method, params, at, wait)
    idx = map_words(final, **spec)
    wv = final if at is None else at
    start = init.xy if init is not None and method == "tsne" else None
    state = mapjobs.request(wv.vectors[idx], [final.index_to_key[i] for i in idx], method, params, start)
    if state.state != mapjobs.DONE:
        raise Pending(state)
    return state.projection


def job_text(state: mapjobs.MapState, method: str, n: int) -> str:
    """What the page says while a background map is on its way."""
    what = f"The {METHODS[method]} map of {n:,} words"
    if state.state == mapjobs.QUEUED:
        return f"{what} waits for another map to finish ({state.seconds:.0f} s so far); the PCA preview is shown meanwhile."
    return (f"{what} is being computed in the background ({state.seconds:.0f} s so far, at most "
            f"{state.limit_s:.0f} s); the PCA preview is shown meanwhile, and the page stays usable.")


def timeline(src: Source) -> list[str]:
    """The timeline's stops: a run's start-of-epoch checkpoints, then 'final'. Empty when there
    is nothing to scrub (a vectors file, or a run with fewer than two checkpoints)."""
    labels = [label for label, _ in src.checkpoints] if src.is_run else []
    return [*labels, FINAL] if len(labels) > 1 else []


def at_stop(src: Source, final: Choice, when: str) -> Choice | None:
    """The vectors that place the final map's words at timeline stop `when`: None at 'final'."""
    return None if when == FINAL else choose(src, final.table, when)


def aligned(shown: projection.Projection, base: projection.Projection) -> np.ndarray:
    """The points of `shown` (a checkpoint's map) laid over the final map `base` by orthogonal
    Procrustes, so that points move only where the space changed; `base` itself as it is."""
    if shown is base or shown.key == base.key:
        return base.xy
    return projection.procrustes_align(shown.xy, base.xy)[0]


def computed_now(shown: projection.Projection, seen: set, waited: set = frozenset()) -> bool:
    """Whether this projection was computed for this visit (not read from a cache, or made by a
    background job this session `waited` for; and not shown before in this session, whose keys
    `seen` gathers)."""
    fresh = (not shown.cached or shown.key in waited) and shown.key not in seen
    seen.add(shown.key)
    return fresh


def trust_text(p: projection.Projection) -> str:
    return "–" if p.trust != p.trust else f"{p.trust:.3f}"


# --- colours, clusters, highlights ----------------------------------------------------------
def clusters(final: WordVectors, idx: Sequence[int], k: int,
             xy: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """k-means labels and names of the mapped words: on their vectors, or on the map `xy`."""
    x = xy if xy is not None else final.vectors[idx]
    return projection.clusters(x, k, [final.index_to_key[i] for i in idx],
                               None if final.counts is None else final.counts[idx])


def cluster_colours(labels: np.ndarray) -> list[str]:
    """Each cluster's colour from OKABE_ITO (beyond eight clusters the colours repeat; the
    cluster names written on the map tell those apart)."""
    return [OKABE_ITO[int(label) % len(OKABE_ITO)] for label in labels]


def cluster_notes(names: Sequence[str] | None, centres: np.ndarray | None) -> list[tuple[float, float, str]]:
    """(x, y, name) of each cluster name the map writes (at its cluster's centre), for the labels
    to keep clear of."""
    if names is None or centres is None:
        return []
    return [(float(x), float(y), name) for name, (x, y) in zip(names, centres) if x == x]


def colour(wv: WordVectors, idx: Sequence[int]) -> tuple[np.ndarray, str]:
    """The colour of each mapped word and its legend: log frequency, or (for a word2vec file,
    which lists words most frequent first but has no counts) minus the log of the rank."""
    if wv.counts is not None:
        return np.log10(np.maximum(wv.counts[np.asarray(idx, dtype=np.int64)], 1)), "log10 count"
    return -np.log10(np.asarray(idx) + 1.0), "−log10 rank"


def clicked_word(event) -> str | None:
    """The word of the clicked point of a plotly selection (its custom_data), if any; a box or
    lasso selection is no click (see selection.selected_words)."""
    if is_area(event):
        return None
    words = selected_words(event, limit=1)
    return words[0] if words else None


def marked(words: Sequence[str], near: Sequence[str] = (), text: str = "",
           limit: int = HIGHLIGHT_LIMIT) -> list[int]:
    """Positions to ring on the map: the mapped ones among `near` (the clicked word's
    neighbours), then up to `limit` words containing `text` (any case)."""
    pos = {w: i for i, w in enumerate(words)}
    out = [pos[w] for w in near if w in pos]
    text = text.strip().lower()
    if text:
        out += [i for i, w in enumerate(words) if text in w.lower()][:limit]
    return out


# --- the figure and the exports -------------------------------------------------------------
def map_table(wv: WordVectors, idx: Sequence[int], xy: np.ndarray, labels: np.ndarray | None = None,
              k: int = 10, wait: bool = True) -> pd.DataFrame:
    """The mapped words as a table other embedding explorers open: word, x, y, cluster,
    frequency, neighbours (the k nearest in the original space, among all words: in the turn
    for heavy work when there are many, see project)."""
    idx = np.asarray(idx, dtype=np.int64)
    with heavy_turn(len(idx) * len(wv) > HEAVY_PAIRS, wait):
        near = nearest_rows(wv.unit, idx, min(k, len(wv) - 1)) if len(idx) else np.zeros((0, k), np.int64)
    return pd.DataFrame({
        "word": [wv.index_to_key[i] for i in idx], "x": np.round(xy[:, 0], 4), "y": np.round(xy[:, 1], 4),
        "cluster": labels if labels is not None else -1,
        "frequency": wv.counts[idx] if wv.counts is not None else 0,
        "neighbours": [" ".join(wv.index_to_key[j] for j in row) for row in near]})


def projector_zip(wv: WordVectors, words: Sequence[str]) -> bytes:
    """vectors.tsv and metadata.tsv for projector.tensorflow.org, zipped."""
    with tempfile.TemporaryDirectory() as d:
        files = wv.save_projector(d, words)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, f.name)
    return buf.getvalue()


def map_figure(words: Sequence[str], xy: np.ndarray, color: np.ndarray, color_title: str,
               cluster_names: Sequence[str] | None = None, centres: np.ndarray | None = None,
               highlight: Sequence[int] = (), focus: int | None = None, labelled: Sequence[int] = (),
               density: bool = False, height: int = 700, axis_titles: tuple[str, str] | None = None):
    """The map as a plotly figure: WebGL points with the word in custom_data (what a click
    returns), the words at positions `labelled` written (labels.place_labels chooses them),
    cluster names at cluster centres, highlighted points (search matches, neighbours of the
    clicked word) drawn on top; `axis_titles` shows the axes (the custom-axes mode)."""
    import plotly.graph_objects as go
    n = len(words)
    fig = go.Figure()
    if density and n > 50:
        fig.add_trace(go.Histogram2dContour(x=xy[:, 0], y=xy[:, 1], colorscale="Greys", showscale=False,
                                            ncontours=12, contours_coloring="fill", opacity=0.35,
                                            hoverinfo="skip", line_width=0))
    clustered = cluster_names is not None
    fig.add_trace(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=np.array(words, dtype=object)[:, None],
        hovertemplate="%{customdata[0]}<extra></extra>", name="words", showlegend=False,
        marker=dict(size=6 if n <= 2000 else 4, color=cluster_colours(color) if clustered else color,
                    opacity=0.75 if not highlight else 0.35, colorscale=None if clustered else "Viridis",
                    showscale=not clustered, colorbar=dict(title=color_title) if not clustered else None)))
    hl = [i for i in highlight if 0 <= i < n]
    own_text = {*hl, focus}  # written by their own traces
    _add_labels(fig, words, xy, [i for i in labelled if 0 <= i < n and i not in own_text])
    if hl:
        fig.add_trace(go.Scattergl(
            x=xy[hl, 0], y=xy[hl, 1], mode="markers+text", text=[words[i] for i in hl],
            textposition="top center", customdata=np.array([words[i] for i in hl], dtype=object)[:, None],
            hovertemplate="%{customdata[0]}<extra></extra>", name="highlighted", showlegend=False,
            marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(width=2, color="crimson"))))
    if focus is not None and 0 <= focus < n:
        fig.add_trace(go.Scattergl(
            x=xy[[focus], 0], y=xy[[focus], 1], mode="markers+text", text=[words[focus]],
            textposition="bottom center", textfont=dict(size=14, color="crimson"),
            customdata=[[words[focus]]], hovertemplate="%{customdata[0]}<extra></extra>",
            name="selected", showlegend=False, marker=dict(size=16, symbol="star", color="crimson")))
    for cx, cy, name in cluster_notes(cluster_names, centres):
        fig.add_annotation(x=cx, y=cy, text=f"<b>{name}</b>", showarrow=False, font=dict(size=FONT_PX),
                           bgcolor="rgba(128,128,128,0.25)")
    _layout(fig, height, axis_titles)
    return fig


def _add_labels(fig, words: Sequence[str], xy: np.ndarray, at: Sequence[int]) -> None:
    """The written words, as a text-only trace (a click or a selection that lands on it still
    names its word)."""
    import plotly.graph_objects as go
    if at:
        text = [words[i] for i in at]
        fig.add_trace(go.Scattergl(x=xy[at, 0], y=xy[at, 1], mode="text", text=text, textposition="top center",
                                   textfont=dict(size=FONT_PX), customdata=np.array(text, dtype=object)[:, None],
                                   hoverinfo="skip", name="labels", showlegend=False))


def _layout(fig, height: int, axis_titles: tuple[str, str] | None) -> None:
    """The map's layout: no axes (a projection's have no meaning), except custom axes, titled. A
    press reports its point without selecting it (clickmode "event": selecting would redraw every
    point first); a box or a lasso selects."""
    shown = axis_titles is not None
    fig.update_layout(height=height, margin=dict(l=10 + 50 * shown, r=10, t=10, b=10 + 40 * shown),
                      dragmode="pan", clickmode="event", uirevision="map",
                      xaxis=dict(visible=shown, title=axis_titles[0] if shown else None, zeroline=shown),
                      yaxis=dict(visible=shown, title=axis_titles[1] if shown else None, zeroline=shown,
                                 scaleanchor=None if shown else "x"))


def chart_config(image: str = "png", points: int = 0) -> dict:
    """The chart's modebar: its camera button saves the map as `image` (png, at IMAGE_SCALE
    times its size on screen, or svg), drawn by the browser, with nothing to install. A map of
    `points` from projection.LARGE_FROM draws its WebGL points at one device pixel per CSS pixel
    (plotly's default: 2): every redraw (a box or lasso selection, a new figure) draws them all,
    in software where the browser has no GPU; the camera's PNG keeps its own scale. The chart
    follows its frame's width."""
    return {"displaylogo": False, "responsive": True,
            "plotGlPixelRatio": 1 if points >= projection.LARGE_FROM else 2,
            "toImageButtonOptions": {"format": image, "filename": "w2v-map",
                                     "scale": IMAGE_SCALE if image == "png" else 1}}


def figure_html(fig) -> str:
    """A stand-alone HTML file of the figure that works offline: plotly.js is written into it
    (about 4.7 MB), not loaded from a CDN."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config=chart_config())
