"""w2v.projection: Procrustes, trustworthiness, the disk cache, clusters, t-SNE / PCA."""

import json

import numpy as np
import pytest
from scipy.stats import ortho_group

from w2v import projection
from w2v.errors import W2VError


def blobs(n_per=40, groups=4, dim=20, seed=0):
    """Well-separated Gaussian blobs: (points, blob of each point)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim)) * 5
    labels = np.repeat(np.arange(groups), n_per)
    return (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32), labels


@pytest.mark.parametrize("dim", [2, 7])
def test_procrustes_recovers_a_known_rotation(dim):
    rng = np.random.default_rng(dim)
    y = rng.normal(size=(60, dim))
    q = ortho_group.rvs(dim, random_state=1)
    ref = 2.5 * y @ q + rng.normal(size=dim)  # rotated, scaled, shifted
    aligned, r = projection.procrustes_align(y, ref)
    np.testing.assert_allclose(r, q, atol=1e-6)
    np.testing.assert_allclose(aligned, ref, atol=1e-4)


def test_procrustes_moves_only_what_changed():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(100, 2))
    moved = ref.copy()
    moved[:5] += 3.0  # five points really moved
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    aligned, _ = projection.procrustes_align(moved @ rot, ref)
    shift = np.linalg.norm(aligned - ref, axis=1)
    assert shift[:5].min() > 1.0 and np.median(shift[5:]) < 0.5


def test_trustworthiness_high_for_low_rank_data_and_low_when_shuffled():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 30)) + 0.01 * rng.normal(size=(300, 30))
    y = projection.pca(x)
    assert projection.trustworthiness(x, y) > 0.95
    assert projection.trustworthiness(x, rng.permutation(y)) < 0.65


def test_trustworthiness_on_a_sample_of_large_selections():
    x, _ = blobs(n_per=300, groups=4)
    y = projection.pca(x)
    full = projection.trustworthiness(x, y, sample=10_000)
    sampled = projection.trustworthiness(x, y, sample=400)
    assert abs(full - sampled) < 0.05


@pytest.mark.parametrize("backend", ["sklearn", "opentsne"])
def test_tsne_and_pca_keep_blobs_apart(backend, monkeypatch):
    if backend == "opentsne" and projection.tsne_backend() != "opentsne":
        pytest.skip("openTSNE is not installed")
    monkeypatch.setattr(projection, "tsne_backend", lambda: backend)
    x, labels = blobs()
    for xy in (projection.tsne(x, perplexity=15, seed=0), projection.pca(x)):
        assert xy.shape == (len(x), 2) and xy.dtype == np.float32
        centre = np.array([xy[labels == g].mean(0) for g in range(4)])
        nearest = np.argmin(((xy[:, None] - centre[None]) ** 2).sum(-1), axis=1)
        assert (nearest == labels).mean() > 0.95
    assert projection.tsne(x[:3]).shape == (3, 2)  # too few points for t-SNE: PCA instead


def test_projection_cache_hits_without_recomputing(tmp_path, monkeypatch):
    calls = []
    real = projection._compute
    monkeypatch.setattr(projection, "_compute", lambda *a: calls.append(a[1]) or real(*a))
    x, _ = blobs(n_per=10)
    words = [f"w{i}" for i in range(len(x))]
    first = projection.project(x, words, "pca", cache=tmp_path, seed=0)
    again = projection.project(x, words, "pca", cache=tmp_path, seed=0)
    assert calls == ["pca"] and not first.cached and again.cached
    np.testing.assert_array_equal(first.xy, again.xy)
    assert again.trust == pytest.approx(first.trust, abs=1e-5)
    # a different parameter, word list or vector is a different entry
    projection.project(x, words, "pca", cache=tmp_path, seed=1)
    projection.project(x, words[::-1], "pca", cache=tmp_path, seed=0)
    projection.project(x + 1e-3, words, "pca", cache=tmp_path, seed=0)
    assert len(calls) == 4
    npy = tmp_path / f"{first.key}.npy"
    assert np.load(npy, allow_pickle=False).shape == (len(x), 2)
    meta = json.loads((tmp_path / f"{first.key}.json").read_text())
    assert meta["method"] == "pca" and meta["n"] == len(x)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_damaged_cache_entry_is_recomputed(tmp_path):
    x, _ = blobs(n_per=10)
    words = [f"w{i}" for i in range(len(x))]
    p = projection.project(x, words, "pca", cache=tmp_path)
    (tmp_path / f"{p.key}.npy").write_bytes(b"not numpy")
    again = projection.project(x, words, "pca", cache=tmp_path)
    assert not again.cached
    np.testing.assert_allclose(again.xy, p.xy)
    assert projection.project(x, words, "pca", cache=tmp_path).cached


def test_project_refuses_bad_requests(tmp_path):
    x, _ = blobs(n_per=5)
    words = [f"w{i}" for i in range(len(x))]
    with pytest.raises(W2VError, match="unknown projection"):
        projection.project(x, words, "mds", cache=tmp_path)
    with pytest.raises(W2VError, match="at least two words"):
        projection.project(x[:1], words[:1], "pca", cache=tmp_path)


def test_clusters_find_the_blobs_and_are_named_by_their_most_frequent_words():
    x, labels = blobs(n_per=6, groups=3)
    words = [f"g{g}w{i}" for g in range(3) for i in range(6)]
    counts = np.tile([1, 50, 2, 40, 3, 30], 3)
    found, names = projection.clusters(x, 3, words, counts)
    for g in range(3):  # each blob is exactly one cluster
        assert len(set(found[labels == g])) == 1
        assert names[found[labels == g][0]] == f"g{g}w1 · g{g}w3 · g{g}w5"
    xy = np.c_[labels * 10.0, np.zeros(len(labels))]
    np.testing.assert_allclose(projection.cluster_centres(xy, labels), [[0, 0], [10, 0], [20, 0]])


def test_a_checkpoint_map_started_from_the_final_layout_moves_less():
    x, labels = blobs(n_per=40, groups=8)
    final = projection.tsne(x, perplexity=20, seed=0)
    earlier = x + 0.3 * np.random.default_rng(1).normal(size=x.shape).astype(np.float32)  # an epoch before
    fresh = projection.tsne(earlier, perplexity=20, seed=0)
    started = projection.tsne(earlier, perplexity=20, seed=0, init=final)

    def moved(y):  # median distance a point moves from the final map, once laid over it
        return np.median(np.linalg.norm(projection.procrustes_align(y, final)[0] - final, axis=1))
    assert moved(started) < 0.6 * moved(fresh)  # measured: 1.0 against 2.6
    centre = np.array([started[labels == g].mean(0) for g in range(8)])  # and the blobs stay apart
    assert (np.argmin(((started[:, None] - centre[None]) ** 2).sum(-1), axis=1) == labels).mean() > 0.95


def test_a_starting_layout_is_part_of_the_cache_key(tmp_path):
    x, _ = blobs(n_per=10)
    words = [f"w{i}" for i in range(len(x))]
    plain = projection.project(x, words, "tsne", cache=tmp_path, perplexity=5)
    started = projection.project(x, words, "tsne", cache=tmp_path, init=plain.xy, perplexity=5)
    assert started.key != plain.key and not started.cached
    assert projection.project(x, words, "tsne", cache=tmp_path, init=plain.xy, perplexity=5).cached
    with pytest.raises(ValueError, match="starting layout"):
        projection.project(x, words, "tsne", cache=tmp_path, init=plain.xy[:3], perplexity=5)


@pytest.mark.skipif(projection.tsne_backend() != "opentsne", reason="openTSNE is not installed")
def test_the_settings_a_map_was_made_under_are_part_of_its_key(monkeypatch):
    """A map cached under other t-SNE settings (e.g. before the large-map settings) is not
    served as this one."""
    x, _ = blobs(n_per=10)
    words = [f"w{i}" for i in range(len(x))]
    usual = projection.projection_key(x, words, "tsne", {"perplexity": 5})
    assert projection.projection_key(x, words, "tsne", {"perplexity": 5}) == usual
    monkeypatch.setattr(projection, "LARGE_FROM", 10)  # these 30 points now take the large-map settings
    assert projection.projection_key(x, words, "tsne", {"perplexity": 5}) != usual
    assert projection.projection_key(x, words, "pca", {}) == projection.projection_key(x, words, "pca", {})


def test_very_large_maps_take_the_fast_settings():
    big, small = projection.tsne_plan(100_000), projection.tsne_plan(500)
    assert big["negative_gradient_method"] == "fft" and big["neighbors"] in ("annoy", "pynndescent")
    assert big["n_iter"] < small["n_iter"] and big["early_exaggeration_iter"] < small["early_exaggeration_iter"]
    assert small["negative_gradient_method"] == "bh" and small["neighbors"] == "exact"
    assert projection.tsne_plan(500, init=True)["early_exaggeration_iter"] < small["early_exaggeration_iter"]
    assert projection.available("pca") and not projection.available("mds")


def test_very_large_maps_take_uniform_affinities_over_fewer_neighbours():
    big, below = projection.tsne_plan(100_000), projection.tsne_plan(projection.LARGE_FROM - 1)
    assert big["uniform_k"] == 15 and "uniform_k" not in below  # perplexity 30: 15 neighbours, not 90
    assert projection.tsne_plan(100_000, perplexity=60)["uniform_k"] == 30  # the perplexity still counts
    assert projection.tsne_plan(100_000, perplexity=5)["uniform_k"] == 5
    if big["neighbors"] == "annoy":
        assert big["knn_kwargs"] == {"n_trees": projection.LARGE_TREES} and projection.LARGE_TREES < 50
    assert below["n_iter"] == 500 and below.get("knn_kwargs") is None


@pytest.mark.skipif(projection.tsne_backend() != "opentsne", reason="openTSNE is not installed")
def test_the_large_map_settings_keep_planted_blobs_apart(monkeypatch):
    x, labels = blobs(n_per=150, groups=8, dim=30)  # 1,200 points: Annoy's neighbours, as for large maps
    usual = projection.tsne(x, perplexity=30, seed=0)
    used = []
    uniform = projection._uniform
    monkeypatch.setattr(projection, "_uniform", lambda x, k, *a: used.append(k) or uniform(x, k, *a))
    monkeypatch.setattr(projection, "LARGE_FROM", 1_000)
    fast = projection.tsne(x, perplexity=30, seed=0)
    assert used == [15]
    centre = np.array([fast[labels == g].mean(0) for g in range(8)])
    assert (np.argmin(((fast[:, None] - centre[None]) ** 2).sum(-1), axis=1) == labels).mean() > 0.95
    assert projection.trustworthiness(x, fast) > projection.trustworthiness(x, usual) - 0.02
