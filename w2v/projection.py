"""2-D maps of word vectors: t-SNE / PCA (/ UMAP), trustworthiness, k-means labels, Procrustes.

    p = project(wv.vectors[idx], [wv.index_to_key[i] for i in idx], "tsne", perplexity=30, seed=0)
    p.xy          # (n, 2) float32; p.trust: trustworthiness in [0, 1]; p.cached: from disk?
    labels, names = clusters(wv.unit[idx], k=12, words=words)   # k-means, named by frequent members
    aligned, R = procrustes_align(xy_epoch1, xy_final)           # rotate/scale onto a reference

Vectors are scaled to unit length first, so distances on the map follow cosine similarity (the
geometry most_similar uses). Every projection is cached on disk under a hash of (vectors, words,
method, parameters): a .npy written with allow_pickle=False and a JSON sidecar, both atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import W2VError
from .cache import cache_dir as _cache_root
from .runs import atomic_save_npy, atomic_write_json, load_npy, read_json

TRUST_SAMPLE = 2000  # trustworthiness is O(n²): measured on this many points at most
TRUST_K = 10


ALL_METHODS = ("tsne", "pca", "umap")  # what the Map page offers; UMAP runs only when installed
UMAP_INSTALL = "pip install umap-learn"


def methods() -> list[str]:
    """Projection methods available here: UMAP only when umap-learn is installed."""
    return [m for m in ALL_METHODS if available(m)]


def available(method: str) -> bool:
    """Whether `method` can run here (UMAP needs umap-learn)."""
    if method != "umap":
        return method in ALL_METHODS
    try:
        import umap  # noqa: F401
        return True
    except ImportError:
        return False


def tsne_backend() -> str:
    """'opentsne' when installed (22.5k words: 78 s against scikit-learn's 353 s on two busy
    cores; 2,000 words: 6 s against 9 s), else scikit-learn's Barnes-Hut."""
    try:
        import openTSNE  # noqa: F401
        return "opentsne"
    except ImportError:
        return "sklearn"


def cache_dir() -> Path:
    """Where projections are cached: projections/ in the one cache folder (w2v.cache)."""
    return _cache_root() / "projections"


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# --- the projections themselves -------------------------------------------------------------
def pca(x: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA
    x = unit_rows(x)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    y = PCA(n_components=min(2, x.shape[1]), random_state=seed).fit_transform(x)
    return np.pad(y, ((0, 0), (0, 2 - y.shape[1]))).astype(np.float32)


FFT_FROM = 10_000  # points from which openTSNE's FFT gradients beat Barnes-Hut (measured)
APPROX_FROM = 1_000  # points from which neighbours are found approximately (Annoy, or pynndescent)
LARGE_FROM = 50_000  # points from which t-SNE takes the fast settings below (see README, Maps of a whole vocabulary)
LARGE_TREES = 15  # Annoy's trees for that many points (openTSNE's default: 50)


def tsne_plan(n: int, init: bool = False, perplexity: float = 30.0) -> dict:
    """openTSNE's settings for `n` points: FFT gradients for many points, approximate neighbours
    (pynndescent when installed, else Annoy, bundled with openTSNE). For very many points (from
    LARGE_FROM) 125 + 250 iterations instead of 250 + 500, and uniform affinities over each
    point's k = perplexity / 2 nearest neighbours (uniform_k; openTSNE's advice for large data)
    instead of 3 × perplexity neighbours weighted by perplexity, found with LARGE_TREES Annoy
    trees: a sixth of the neighbours to find and of the attractive forces. From a given layout
    (init), no early exaggeration: it untangles a start from scratch, and a warm start is already
    untangled (a checkpoint's points then move about half as far from the final map:
    tests/test_projection.py)."""
    large = n >= LARGE_FROM
    approx = "pynndescent" if _installed("pynndescent") else "annoy"
    plan = {"negative_gradient_method": "fft" if n >= FFT_FROM else "bh",
            "neighbors": approx if n >= APPROX_FROM else "exact",
            "early_exaggeration_iter": 0 if init else 125 if large else 250,
            "n_iter": 250 if large else 500}
    if large:
        plan["uniform_k"] = max(5, min(int(round(perplexity / 2)), n - 1))
        plan["knn_kwargs"] = {"n_trees": LARGE_TREES} if approx == "annoy" else None
    return plan


def _installed(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def tsne(x: np.ndarray, perplexity: float = 30.0, seed: int = 0, threads: int = 2,
         init: np.ndarray | None = None) -> np.ndarray:
    """t-SNE of the unit vectors (PCA to 50 dims first, PCA initialisation unless `init` gives
    the starting layout, e.g. the final map for a checkpoint's, automatic learning rate).
    Perplexity is capped at (n - 1) / 3 so that small selections still work."""
    x = unit_rows(x)
    n = len(x)
    if n < 5:
        return pca(x, seed)
    if x.shape[1] > 50 and n > 50:
        from sklearn.decomposition import PCA
        x = PCA(n_components=50, random_state=seed).fit_transform(x).astype(np.float32)
    perplexity = float(min(perplexity, (n - 1) / 3))
    if tsne_backend() == "opentsne":
        from openTSNE import TSNE as OpenTSNE
        start = "pca" if init is None else _centred(init)
        plan = tsne_plan(n, init is not None, perplexity)
        affinities = _uniform(x, plan.pop("uniform_k", None), plan, seed, threads)
        y = np.asarray(OpenTSNE(perplexity=perplexity, random_state=seed, n_jobs=threads, initialization=start,
                                **plan).fit(x, affinities=affinities))
    else:
        from sklearn.manifold import TSNE
        y = TSNE(n_components=2, perplexity=perplexity, init="pca" if init is None else _centred(init),
                 early_exaggeration=12.0 if init is None else 1.0, learning_rate="auto",
                 random_state=seed, n_jobs=threads).fit_transform(x)
    return y.astype(np.float32)


def _uniform(x: np.ndarray, k: int | None, plan: dict, seed: int, threads: int):
    """openTSNE's uniform affinities over each point's `k` nearest neighbours (found as `plan`
    says), or None for its usual perplexity-based ones."""
    if k is None:
        return None
    from openTSNE import affinity
    return affinity.Uniform(x, k_neighbors=k, method=plan["neighbors"], knn_kwargs=plan.get("knn_kwargs"),
                            n_jobs=threads, random_state=seed)


def _centred(init: np.ndarray) -> np.ndarray:
    """A starting layout, centred, at its own scale: a warm start from a finished map (scaled down
    to the spread of a cold start, as openTSNE advises for those, its points moved further)."""
    return (np.asarray(init, np.float64) - np.mean(init, axis=0)).astype(np.float32)


def umap(x: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> np.ndarray:
    import umap as umap_learn
    x = unit_rows(x)
    if len(x) < 5:
        return pca(x, seed)
    return umap_learn.UMAP(n_neighbors=min(n_neighbors, len(x) - 1), random_state=seed,
                           metric="cosine").fit_transform(x).astype(np.float32)


def _compute(x: np.ndarray, method: str, params: dict, init: np.ndarray | None = None) -> np.ndarray:
    if method == "pca":
        return pca(x, params.get("seed", 0))
    if method == "tsne":
        return tsne(x, params.get("perplexity", 30.0), params.get("seed", 0), init=init)
    if method == "umap":
        if not available("umap"):
            raise W2VError(f"UMAP needs umap-learn: `{UMAP_INSTALL}`, or choose t-SNE or PCA")
        return umap(x, params.get("n_neighbors", 15), params.get("seed", 0))
    raise W2VError(f"unknown projection {method!r}: choose one of {', '.join(methods())}")


def trustworthiness(x: np.ndarray, y: np.ndarray, k: int = TRUST_K, sample: int = TRUST_SAMPLE,
                    seed: int = 0) -> float:
    """How far the map's k nearest neighbours are true neighbours (1 = all are, about 0.5 =
    chance), with cosine distance in the original space; on a random sample of `sample` points
    when there are more (the neighbourhoods are then those within the sample)."""
    from sklearn.manifold import trustworthiness as sk_trust
    n = len(x)
    if n > sample:
        idx = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
        x, y, n = x[idx], y[idx], sample
    k = min(k, (n - 1) // 2 - 1)
    if k < 1:
        return float("nan")
    return float(sk_trust(unit_rows(x), y, n_neighbors=k))


# --- the disk cache -------------------------------------------------------------------------
@dataclass
class Projection:
    xy: np.ndarray  # (n, 2) float32
    method: str
    params: dict
    trust: float
    seconds: float  # time the projection took when it was computed
    cached: bool  # read from the disk cache this time
    key: str


def projection_key(vectors: np.ndarray, words: Sequence[str], method: str, params: dict,
                   init: np.ndarray | None = None) -> str:
    h = hashlib.sha256()
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    h.update(f"{v.shape}".encode())
    h.update(v.tobytes())
    h.update("\n".join(words).encode("utf-8"))
    backend = tsne_backend() if method == "tsne" else ""
    plan = _plan_key(len(v), method, params, init is not None)
    h.update(json.dumps([method, backend, params, *plan], sort_keys=True).encode())
    if init is not None:  # a map started from another layout is another map
        h.update(b"init" + np.ascontiguousarray(init, dtype=np.float32).tobytes())
    return h.hexdigest()[:32]


def _plan_key(n: int, method: str, params: dict, init: bool) -> list:
    """What of openTSNE's settings for n points a map's key records (a map made under other
    settings, e.g. before the large-map settings, is another map): [] for other methods."""
    if method != "tsne" or tsne_backend() != "opentsne":
        return []
    plan = tsne_plan(n, init, float(params.get("perplexity", 30.0)))
    return [{k: plan[k] for k in sorted(plan) if k != "neighbors"}]  # not which library finds them


def _from_cache(folder: Path | None, key: str, n: int, method: str, params: dict) -> Projection | None:
    if folder is None:
        return None
    meta = read_json(folder / f"{key}.json")
    if meta and (folder / f"{key}.npy").exists():
        try:
            xy = load_npy(folder / f"{key}.npy")
            if xy.shape == (n, 2):
                trust = float("nan") if meta["trust"] is None else float(meta["trust"])  # NaN: null
                return Projection(xy, method, params, trust, float(meta["seconds"]), True, key)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged entry is recomputed and overwritten
    return None


def stored(key: str, n: int, method: str, params: dict, cache: str | os.PathLike | None = None) -> Projection | None:
    """The cached map `key` of `n` points (as project stored it), or None when it is not there."""
    return _from_cache(Path(cache or cache_dir()), key, n, method, {k: params[k] for k in sorted(params)})


def project(vectors: np.ndarray, words: Sequence[str], method: str = "tsne",
            cache: str | os.PathLike | None = None, turn=contextlib.nullcontext,
            init: np.ndarray | None = None, **params) -> Projection:
    """The 2-D map of `vectors` (one row per word of `words`), from the disk cache when this
    exact (vectors, words, method, params, init) was projected before. `cache=False` skips the
    disk. `init`: a starting layout (n, 2) for t-SNE, e.g. the final map for a checkpoint's.
    turn(): a context manager held while the map is computed, not while it is read from the
    cache (the app's turn for heavy work, w2v.studio.words.heavy_turn); the cache is read again
    once the turn is taken, in case the request that held it computed this very map."""
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    if len(words) < 2:
        raise W2VError("a map needs at least two words: widen the selection")
    if init is not None and np.shape(init) != (len(words), 2):
        raise ValueError(f"a starting layout of shape {np.shape(init)} for {len(words)} words")
    params = {k: params[k] for k in sorted(params)}
    key = projection_key(vectors, words, method, params, init)
    folder = None if cache is False else Path(cache or cache_dir())
    found = _from_cache(folder, key, len(words), method, params)
    if found is not None:
        return found
    with turn():
        found = _from_cache(folder, key, len(words), method, params)
        if found is not None:
            return found
        t0 = time.perf_counter()
        xy = _compute(np.asarray(vectors, np.float32), method, params, **({} if init is None else {"init": init}))
        seconds = time.perf_counter() - t0
        trust = trustworthiness(np.asarray(vectors, np.float32), xy)
        if folder is not None:
            _store(folder, key, xy, {
                "method": method, "params": params, "n": len(words), "dim": int(np.shape(vectors)[1]),
                "trust": None if trust != trust else round(trust, 5), "seconds": round(seconds, 3),
                "backend": tsne_backend() if method == "tsne" else method, "init": init is not None,
                "created": time.time()})
    return Projection(xy, method, params, trust, seconds, False, key)


def _store(folder: Path, key: str, xy: np.ndarray, meta: dict) -> None:
    """The points, then their sidecar (what _from_cache looks for first), each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(folder / f"{key}.npy", xy)
    atomic_write_json(folder / f"{key}.json", meta)


# --- clusters and alignment -----------------------------------------------------------------
def clusters(x: np.ndarray, k: int = 12, words: Sequence[str] | None = None,
             counts: Sequence[int] | None = None, seed: int = 0,
             label_words: int = 3) -> tuple[np.ndarray, list[str]]:
    """k-means on the unit vectors (or on map coordinates, if given (n, 2)): a label per row, and
    a name per cluster made of its most frequent words (the first in `words` when no counts)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    x = np.asarray(x, np.float32)
    x = x if x.shape[1] == 2 else unit_rows(x)
    k = max(1, min(int(k), len(x)))
    algo = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=2048) if len(x) > 10_000 \
        else KMeans(k, random_state=seed, n_init=3)
    labels = algo.fit_predict(x).astype(np.int32)
    names = []
    rank = np.arange(len(x)) if counts is None else -np.asarray(counts, np.float64)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        top = members[np.argsort(rank[members], kind="stable")[:label_words]]
        names.append(" · ".join(words[i] for i in top) if words is not None else f"cluster {c}")
    return labels, names


def cluster_centres(xy: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Where to draw each cluster's label: the median of its members on the map."""
    k = int(labels.max()) + 1 if len(labels) else 0
    return np.array([np.median(xy[labels == c], axis=0) if (labels == c).any() else [np.nan, np.nan]
                     for c in range(k)], dtype=np.float32).reshape(k, 2)


def procrustes_align(y: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (or reflect), scale and shift `y` onto `ref` (same rows, same points) with
    orthogonal Procrustes: the map of one checkpoint laid over another so that only real
    change moves. Returns the aligned points and the orthogonal matrix R."""
    from scipy.linalg import orthogonal_procrustes
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    a, b = y - y.mean(0), ref - ref.mean(0)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        return ref.astype(np.float32).copy(), np.eye(y.shape[1])
    r, _ = orthogonal_procrustes(a / na, b / nb)
    return (a @ r * (nb / na) + ref.mean(0)).astype(np.float32), r
