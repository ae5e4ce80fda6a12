"""What the Neighbours, Map and Compare pages compute (plain data and plotly figures; no streamlit).

    src = sources()[0]                                   # runs, their checkpoints, uploaded files
    wv = load_vectors(src.kind, src.path, table="average", checkpoint=None)
    word, hints = lookup(wv, "frnace")                   # None, ['france', ...]
    analogy(wv, "man", "king", "woman")                  # {'3CosAdd': [...], '3CosMul': [...]}
    c = Corpus.of_run(run_dir); c.concordance("paris"); c.shared_contexts("paris", "france")
    compare(wv_a, wv_b)                                  # overlap@10 per word, most changed first
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .app_support import runs_dir, vectors_dir
from .corpus import Vocab
from .errors import W2VError
from .evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY, evaluate
from .runs import Run, list_runs, safe_name
from .vectors import TABLES, WordVectors

VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".w2v")




# --- vector sources -------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    kind: str  # "run" | "file"
    path: str
    label: str
    checkpoints: tuple[tuple[str, str], ...] = ()  # (label, path), oldest first

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path}"


def run_checkpoints(run_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """('epoch E', path) for each start-of-epoch checkpoint, oldest first (epoch 0 = random)."""
    return [(f"epoch {e}", str(p)) for e, c, p in Run(run_dir).checkpoints() if c == 0]


def sources() -> list[Source]:
    """Every run with vectors (final tables or at least one checkpoint), then uploaded files."""
    out = []
    for run in list_runs(runs_dir()):
        ckpts = run_checkpoints(run.path)
        if run.vocab_path.exists() and (run.in_vectors_path.exists() or ckpts):
            state = run.status().get("state", "?")
            out.append(Source("run", str(run.path), f"{run.name} (run, {state})", tuple(ckpts)))
    folder = vectors_dir()
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix in VECTOR_SUFFIXES:
                out.append(Source("file", str(p), f"{p.name} (vectors file)"))
    return out


def load_vectors(kind: str, path: str, table: str = "input", checkpoint: str | None = None) -> WordVectors:
    """Vectors of a run (its final `table`, or that of `checkpoint`) or of a word2vec file."""
    if kind == "file":
        return WordVectors.load_word2vec(path)
    if table not in TABLES:
        raise W2VError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
    return WordVectors.from_run(path, table=table, checkpoint=checkpoint)


def save_upload(filename: str, data: bytes) -> Path:
    """Keep an uploaded word2vec file under vectors_dir() with a safe name; it is read once to
    check it, and removed again (with the reason raised as W2VError) when it cannot be read.
    A stored file is never overwritten: another upload of the same name gets `<name>-2`, and
    the same file again is reused."""
    base = os.path.basename(str(filename or "vectors").replace("\\", "/"))
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower() if suffix.lower() in VECTOR_SUFFIXES else ".txt"
    folder = vectors_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(stem, "vectors")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            WordVectors.load_word2vec(tmp)
        except W2VError as e:  # name the upload, not the temporary file
            raise W2VError(str(e).replace(tmp, base).replace(os.path.basename(tmp), base)) from None
        path, k = folder / f"{stem}{suffix}", 1
        while True:
            try:
                os.link(tmp, path)  # never replaces: two uploads of one name cannot overwrite
                break
            except FileExistsError:
                if path.stat().st_size == len(data) and path.read_bytes() == bytes(data):
                    return path
                k += 1
                path = folder / f"{stem}-{k}{suffix}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# --- words ----------------------------------------------------------------------------------
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


def _need(wv: WordVectors, *words: str) -> list[str]:
    out = []
    for text in words:
        w, hints = lookup(wv, text)
        if w is None:
            tip = f": did you mean {', '.join(hints[:5])}?" if hints else ": try another word"
            raise W2VError(f"'{text}' is not in the vocabulary{tip}" if text else "type a word first")
        out.append(w)
    return out


def neighbours(wv: WordVectors, word: str, k: int = 10) -> pd.DataFrame:
    """The `k` nearest words by cosine: columns word, similarity, frequency."""
    (word,) = _need(wv, word)
    rows = wv.most_similar(word, topn=k)
    df = pd.DataFrame(rows, columns=["word", "similarity"])
    df["frequency"] = [int(wv.counts[wv.key_to_index[w]]) if wv.counts is not None else None
                       for w in df.word]
    return df


def visit(trail: list[str], word: str) -> list[str]:
    """The breadcrumb after going to `word`: appended, or cut back if it was visited before."""
    return trail[: trail.index(word) + 1] if word in trail else [*trail, word][-12:]


def analogy(wv: WordVectors, a: str, b: str, c: str, topn: int = 5) -> dict[str, list[tuple[str, float]]]:
    """a : b :: c : ? — answers by 3CosAdd (b - a + c) and 3CosMul, side by side."""
    a, b, c = _need(wv, a, b, c)
    return {"3CosAdd": wv.most_similar(positive=[b, c], negative=[a], topn=topn),
            "3CosMul": wv.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)}


def similarity(wv: WordVectors, a: str, b: str) -> float:
    a, b = _need(wv, a, b)
    return wv.similarity(a, b)


# --- "why are these neighbours?": the run's corpus -------------------------------------------
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


# --- comparing two sets of vectors ----------------------------------------------------------
def _topk(unit: np.ndarray, rows: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Indices of the k nearest (cosine) of each of `rows`, the word itself excluded."""
    import torch
    u = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32))
    out = []
    for s in range(0, len(rows), block):
        r = torch.from_numpy(np.asarray(rows[s:s + block]))
        sims = u[r] @ u.T  # (block, V)
        sims[torch.arange(len(r)), r] = -np.inf
        out.append(torch.topk(sims, k, dim=1).indices.numpy())
    return np.concatenate(out) if out else np.zeros((0, k), np.int64)


def compare(a: WordVectors, b: WordVectors, words: Sequence[str] | None = None, k: int = 10,
            n: int = 2000) -> pd.DataFrame:
    """Per word, how many of its `k` nearest neighbours the two sets of vectors agree on, with
    neighbours searched among the words both know. Default words: the `n` most frequent of `a`
    also in `b`. Sorted with the most changed first."""
    shared = [w for w in a.index_to_key if w in b.key_to_index]
    if len(shared) <= k:
        raise W2VError(f"the two vocabularies share only {len(shared)} words: compare vectors of the same corpus")
    pos = {w: i for i, w in enumerate(shared)}
    ua = a.unit[[a.key_to_index[w] for w in shared]]
    ub = b.unit[[b.key_to_index[w] for w in shared]]
    chosen = [w for w in (words if words is not None else shared[:n]) if w in pos]
    rows = np.array([pos[w] for w in chosen], dtype=np.int64)
    na, nb = _topk(ua, rows, k), _topk(ub, rows, k)
    recs = []
    for w, ra, rb in zip(chosen, na, nb):
        sa, sb = set(ra.tolist()), set(rb.tolist())
        recs.append({"word": w, f"overlap@{k}": len(sa & sb) / k,
                     "neighbours A": " ".join(shared[i] for i in ra),
                     "neighbours B": " ".join(shared[i] for i in rb),
                     "only in A": " ".join(shared[i] for i in ra if i not in sb),
                     "only in B": " ".join(shared[i] for i in rb if i not in sa)})
    df = pd.DataFrame(recs)
    return df.sort_values(f"overlap@{k}", kind="stable").reset_index(drop=True) if len(df) else df


def stored_scores(kind: str, path: str, checkpoint: str | None = None) -> dict | None:
    """Benchmark scores the trainer already recorded: the run's final ones, or those of the
    epoch event that wrote `checkpoint`. None when there are none (then use benchmark())."""
    if kind != "run":
        return None
    run = Run(path)
    if checkpoint is None:
        return (run.status().get("scores") or None) if run.in_vectors_path.exists() else None
    events, _ = run.metrics()
    name = Path(checkpoint).name
    for ev in events:
        if ev.get("event") == "epoch" and ev.get("checkpoint") == name and ev.get("scores"):
            return ev["scores"]
    return None


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


# --- the map --------------------------------------------------------------------------------
def map_words(wv: WordVectors, mode: str = "frequent", n: int = 1000, search: str = "",
              word: str = "", k: int = 100) -> list[int]:
    """Row indices to map: the `n` most frequent words (n=0: all), the words matching `search`
    (a substring, or a regular expression), or `word` and its `k` nearest neighbours."""
    if mode == "frequent":
        return list(range(len(wv) if not n else min(n, len(wv))))
    if mode == "search":
        if not search.strip():
            raise W2VError("type a part of a word (or a regular expression) to choose the words to map")
        try:
            rx = re.compile(search.strip())
        except re.error as e:
            raise W2VError(f"'{search}' is not a valid regular expression ({e}): type plain letters") from None
        idx = [i for i, w in enumerate(wv.index_to_key) if rx.search(w)][: n or None]
        if len(idx) < 2:
            raise W2VError(f"fewer than two words match '{search}': try a shorter search")
        return idx
    if mode == "neighbours":
        (w,) = _need(wv, word)
        return [wv.key_to_index[w]] + [wv.key_to_index[x] for x, _ in wv.most_similar(w, topn=k)]
    raise ValueError(f"unknown mode {mode!r}")


def map_table(wv: WordVectors, idx: Sequence[int], xy: np.ndarray, labels: np.ndarray | None = None,
              k: int = 10) -> pd.DataFrame:
    """The mapped words as a table other embedding explorers open: word, x, y, cluster,
    frequency, neighbours (the k nearest in the original space, among all words)."""
    idx = np.asarray(idx, dtype=np.int64)
    near = _topk(wv.unit, idx, min(k, len(wv) - 1)) if len(idx) else np.zeros((0, k), np.int64)
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
               highlight: Sequence[int] = (), focus: int | None = None, labels: bool | None = None,
               density: bool = False, height: int = 700):
    """The map as a plotly figure: WebGL points with the word in custom_data (what a click
    returns), word labels when there are few points, cluster names at cluster centres,
    highlighted points (search matches, neighbours of the clicked word) drawn on top."""
    import plotly.graph_objects as go
    n = len(words)
    labels = n <= 300 if labels is None else labels
    fig = go.Figure()
    if density and n > 50:
        fig.add_trace(go.Histogram2dContour(x=xy[:, 0], y=xy[:, 1], colorscale="Greys", showscale=False,
                                            ncontours=12, contours_coloring="fill", opacity=0.35,
                                            hoverinfo="skip", line_width=0))
    clustered = cluster_names is not None
    fig.add_trace(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers+text" if labels else "markers", text=list(words) if labels else None,
        textposition="top center", textfont=dict(size=10), customdata=np.array(words, dtype=object)[:, None],
        hovertemplate="%{customdata[0]}<extra></extra>", name="words", showlegend=False,
        marker=dict(size=6 if n <= 2000 else 4, color=color, opacity=0.75 if not highlight else 0.35,
                    colorscale="Turbo" if clustered else "Viridis", showscale=not clustered,
                    colorbar=dict(title=color_title) if not clustered else None)))
    hl = [i for i in highlight if 0 <= i < n]
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
    if clustered and centres is not None:
        for name, (cx, cy) in zip(cluster_names, centres):
            if cx == cx:
                fig.add_annotation(x=cx, y=cy, text=f"<b>{name}</b>", showarrow=False,
                                   font=dict(size=11), bgcolor="rgba(255,255,255,0.7)")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), dragmode="pan",
                      xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"),
                      clickmode="event+select", uirevision="map")
    return fig


def figure_html(fig) -> str:
    """A stand-alone HTML file of the figure (plotly.js from its CDN)."""
    return fig.to_html(include_plotlyjs="cdn", full_html=True)
