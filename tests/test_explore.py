"""w2v.studio's sources, words, concordance, compare and mapview on a tiny run trained here on planted text (words of a group co-occur, groups never)."""

import ast
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import planted_text
from w2v.studio import compare, mapview, sources, uploads, words
from w2v.studio.concordance import Corpus
from w2v.errors import W2VError
from w2v.runs import atomic_save_npy, atomic_write_json
from w2v.train import TrainConfig, train
from w2v.vectors import WordVectors


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """runs/tiny: a planted corpus of 8 groups × 6 words, 2 epochs, 16 dimensions."""
    root = tmp_path_factory.mktemp("explore")
    text, groups = planted_text(paragraphs=600)
    (root / "planted.txt").write_text(text)
    run = root / "runs" / "tiny"
    train(root / "planted.txt", run, TrainConfig(dim=16, epochs=2, min_count=1, sample=0, threads=1,
                                                 eval="none", seed=3))
    return run, groups


@pytest.fixture
def env(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_RUNS_DIR", str(tiny_run[0].parent))
    monkeypatch.setenv("W2V_VECTORS_DIR", str(tmp_path / "vectors"))
    monkeypatch.setenv("W2V_CACHE", str(tmp_path / "cache"))
    return tiny_run


@pytest.fixture(scope="module")
def wv(tiny_run):
    return sources.load_vectors("run", str(tiny_run[0]))


def test_sources_list_runs_with_checkpoints_and_uploaded_files(env, wv, tmp_path):
    run, _ = env
    (src,) = sources.sources()
    assert src.kind == "run" and src.path == str(run) and "tiny" in src.label
    assert [label for label, _ in src.checkpoints] == ["epoch 0", "epoch 1", "epoch 2"]
    wv.save_word2vec(tmp_path / "w.txt")
    saved = uploads.save_vectors("../../my vectors!.txt", (tmp_path / "w.txt").read_bytes())
    assert saved.parent == tmp_path / "vectors" and saved.name == "my-vectors.txt"
    assert [s.kind for s in sources.sources()] == ["run", "file"]
    loaded = sources.load_vectors("file", str(saved))
    assert loaded.index_to_key == wv.index_to_key


def test_a_bad_upload_is_refused_and_not_kept(env, tmp_path):
    with pytest.raises(W2VError, match="not a word2vec file"):
        uploads.save_vectors("junk.txt", b"hello world\n")
    assert not any((tmp_path / "vectors").iterdir())


def test_tables_and_checkpoints(env, wv):
    run, _ = env
    out = sources.load_vectors("run", str(run), "output")
    avg = sources.load_vectors("run", str(run), "average")
    np.testing.assert_allclose(avg.vectors, (wv.vectors + out.vectors) / 2, rtol=1e-6)
    ckpts = sources.run_checkpoints(run)
    first = sources.load_vectors("run", str(run), "input", ckpts[0][1])
    last = sources.load_vectors("run", str(run), "input", ckpts[-1][1])
    assert not np.allclose(first.vectors, wv.vectors)
    np.testing.assert_allclose(last.vectors, wv.vectors)
    with pytest.raises(W2VError, match="unknown table"):
        sources.load_vectors("run", str(run), "both")


def test_lookup_suggests_close_spellings_instead_of_failing(wv):
    assert words.lookup(wv, " G0W1 ") == ("g0w1", [])
    word, hints = words.lookup(wv, "g0w")
    assert word is None and set(hints) >= {f"g0w{i}" for i in range(6)}
    assert words.lookup(wv, "zzzzzzz") == (None, [])
    with pytest.raises(W2VError, match="did you mean g1w2"):
        words.neighbours(wv, "g1w2x")


def test_every_word_field_finds_a_phrase_typed_as_words():
    wv = WordVectors(["new_york", "los_angeles", "the", "New_Jersey", "a"], np.eye(5, dtype=np.float32))
    assert words.lookup(wv, "New York") == ("new_york", [])
    assert words.lookup(wv, "new jersey") == ("New_Jersey", [])  # another case: GoogleNews' phrases
    assert words.lookup(wv, "new yrok") == (None, ["new_york"])
    assert words.known(wv, "los angeles", "the") == ["los_angeles", "the"]  # analogies, similarity, map
    assert words.neighbours(wv, "los angeles", 2).word[0] in wv


def test_neighbours_of_a_planted_word_are_its_group(wv, tiny_run):
    _, groups = tiny_run
    df = words.neighbours(wv, "g3w0", 5)
    assert list(df.columns) == ["word", "similarity", "frequency"]
    assert set(df.word) == set(groups[3]) - {"g3w0"}
    assert df.similarity.is_monotonic_decreasing and (df.frequency > 0).all()


def test_breadcrumb_appends_and_cuts_back():
    trail = words.visit([], "a")
    trail = words.visit(words.visit(trail, "b"), "c")
    assert trail == ["a", "b", "c"]
    assert words.visit(trail, "a") == ["a"]
    assert len(words.visit([str(i) for i in range(12)], "x")) == 12


def test_analogy_asks_b_minus_a_plus_c_as_gensim_does(wv):
    from gensim.models import KeyedVectors
    kv = KeyedVectors(wv.vector_size)
    kv.add_vectors(wv.index_to_key, wv.vectors)
    res = words.analogy(wv, "g0w0", "g1w0", "g2w0", topn=5)
    want = kv.most_similar(positive=["g1w0", "g2w0"], negative=["g0w0"], topn=5)
    assert [w for w, _ in res["3CosAdd"]] == [w for w, _ in want]
    want = kv.most_similar_cosmul(positive=["g1w0", "g2w0"], negative=["g0w0"], topn=5)
    assert [w for w, _ in res["3CosMul"]] == [w for w, _ in want]
    with pytest.raises(W2VError, match="'g9w9' is not in the vocabulary"):
        words.analogy(wv, "g0w0", "g9w9", "g2w0")
    assert words.similarity(wv, "g0w0", "g0w1") == pytest.approx(wv.similarity("g0w0", "g0w1"))


def test_concordance_and_shared_contexts_come_from_the_run_corpus(tiny_run):
    run, groups = tiny_run
    corpus = Corpus.of_run(run)
    lines = corpus.concordance("g2w3", n=5, width=4)
    assert len(lines) == 5
    for line in lines:
        assert "[g2w3]" in line
        assert set(line.replace("[", "").replace("]", "").split()) <= set(groups[2])  # never crosses a paragraph
    shared = corpus.shared_contexts("g2w3", "g2w4")
    assert len(shared) and set(shared.context) <= set(groups[2]) - {"g2w3", "g2w4"}
    assert (shared["with g2w3"] > 0).all() and (shared["with g2w4"] > 0).all()
    assert corpus.shared_contexts("g2w3", "g5w0").empty  # different groups never share a paragraph
    counts = corpus.context_counts("g2w3", window=2)
    assert counts.sum() > 0 and counts[[corpus.index[w] for w in groups[5]]].sum() == 0
    assert corpus.concordance("nope") == []


def test_compare_finds_the_words_whose_neighbours_changed(wv):
    vec = wv.vectors.copy()
    i, j = wv.key_to_index["g0w0"], wv.key_to_index["g5w0"]
    vec[[i, j]] = vec[[j, i]]  # two words trade places
    other = WordVectors(wv.index_to_key, vec, wv.counts)
    same = compare.compare(wv, wv, k=5)
    assert (same["overlap@5"] == 1.0).all() and len(same) == len(wv)
    df = compare.compare(wv, other, k=5)
    assert set(df.word[:2]) == {"g0w0", "g5w0"} and (df["overlap@5"][:2] == 0).all()
    assert df["overlap@5"].iloc[-1] == 1.0
    row = df[df.word == "g0w0"].iloc[0]
    assert set(row["neighbours B"].split()) == set(row["only in B"].split())
    with pytest.raises(W2VError, match="share only"):
        compare.compare(wv, WordVectors(["x", "y"], np.eye(2)))


def test_stored_scores_of_the_run_and_of_a_checkpoint(tmp_path):
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    atomic_write_json(run / "config.json", {"train": {}})
    atomic_write_json(run / "status.json", {"state": "finished", "scores": {"analogy_accuracy": 0.5}})
    (run / "metrics.jsonl").write_text(
        '{"event":"epoch","epoch":1,"checkpoint":"ckpt-001-000000.npz","scores":{"analogy_accuracy":0.2}}\n')
    assert sources.stored_scores("run", str(run)) is None  # no final vectors yet
    atomic_save_npy(run / "in_vectors.npy", np.zeros((2, 2), np.float32))
    assert sources.stored_scores("run", str(run)) == {"analogy_accuracy": 0.5}
    ck = str(run / "checkpoints" / "ckpt-001-000000.npz")
    assert sources.stored_scores("run", str(run), ck) == {"analogy_accuracy": 0.2}
    assert sources.stored_scores("file", "x.txt") is None
    table = compare.scores_table({"a": 0.5, "sections": {}}, {"a": 0.7, "b": 1})
    assert table.score.tolist() == ["a", "b"] and table.B.tolist() == [0.7, 1]
    assert table.A[0] == 0.5 and np.isnan(table.A[1])


def test_map_words_choices(wv):
    assert mapview.map_words(wv, "frequent", n=10) == list(range(10))
    assert len(mapview.map_words(wv, "frequent", n=0)) == len(wv)
    idx = mapview.map_words(wv, "search", search="^g4")
    assert sorted(wv.index_to_key[i] for i in idx) == [f"g4w{i}" for i in range(6)]
    idx = mapview.map_words(wv, "neighbours", word="g6w2", k=5)
    assert {wv.index_to_key[i] for i in idx} == {f"g6w{i}" for i in range(6)}
    assert mapview.map_words(wv, "search", search="W1$") == mapview.matching(wv.index_to_key, "w1$")
    with pytest.raises(W2VError, match="fewer than two"):
        mapview.map_words(wv, "search", search="g[01]")  # not a regular expression: no word holds it
    with pytest.raises(W2VError, match="fewer than two"):
        mapview.map_words(wv, "search", search="nothing")


def test_map_exports(wv):
    idx = mapview.map_words(wv, "search", search="^g1")
    words = [wv.index_to_key[i] for i in idx]
    xy = np.arange(2 * len(idx), dtype=np.float32).reshape(-1, 2)
    table = mapview.map_table(wv, idx, xy, np.zeros(len(idx), int), k=3)
    assert list(table.columns) == ["word", "x", "y", "cluster", "frequency", "neighbours"]
    assert table.neighbours[0].split() == [w for w, _ in wv.most_similar(words[0], topn=3)]
    with zipfile.ZipFile(io.BytesIO(mapview.projector_zip(wv, words))) as z:
        meta = z.read("metadata.tsv").decode().splitlines()
        assert meta[0] == "word\tcount" and [m.split("\t")[0] for m in meta[1:]] == words
        assert len(z.read("vectors.tsv").decode().splitlines()) == len(words)
    fig = mapview.map_figure(words, xy, np.zeros(len(idx)), "c", highlight=[1, 2], focus=0)
    assert [t.name for t in fig.data] == ["words", "highlighted", "selected"]
    assert [c[0] for c in fig.data[0].customdata] == words
    assert fig.data[1].text == (words[1], words[2]) and fig.data[2].customdata[0][0] == words[0]
    assert "plotly" in mapview.figure_html(fig)
    big = np.random.default_rng(0).normal(size=(400, 2))
    shaded = mapview.map_figure([f"w{i}" for i in range(400)], big, np.zeros(400), "c", density=True)
    assert [t.type for t in shaded.data] == ["histogram2dcontour", "scattergl"]
    assert shaded.data[1].text is None  # many points: words on hover only


def test_nearest_rows_agree_with_most_similar(wv):
    rows = np.arange(len(wv))
    near = words.nearest_rows(wv.unit, rows, 5, block=7)  # several blocks
    assert near.shape == (len(wv), 5)
    for i in (0, 13, len(wv) - 1):
        want = [w for w, _ in wv.most_similar(wv.index_to_key[i], topn=5)]
        assert [wv.index_to_key[j] for j in near[i]] == want
    assert (near != rows[:, None]).all()  # a word is never its own neighbour
    assert words.nearest_rows(wv.unit, np.zeros(0, np.int64), 5).shape == (0, 5)


def test_first_words_of_a_page(wv):
    assert words.first_word(wv, "g2w2") == "g2w2"
    assert words.first_word(wv) == wv.index_to_key[0]  # no king, france or computer here
    assert words.analogy_defaults(wv) == wv.index_to_key[:3]
    assert len(words.neighbours_figure(words.neighbours(wv, "g0w0", 5)).data[0].y) == 5


def test_a_choice_of_vectors_and_its_recorded_scores(env, tmp_path):
    run, _ = env
    (src,) = sources.sources()
    assert src.checkpoint_labels() == ["final", "epoch 0", "epoch 1", "epoch 2"]
    assert sources.default_checkpoint(src) == 0
    assert src.checkpoint_labels()[sources.default_checkpoint(src, before_last=True)] == "epoch 1"
    final = sources.choose(src, "output", "final")
    assert final == (src.kind, src.path, "output", None, sources.stamp(run), None) and hash(final)
    epoch = sources.choose(src, "input", "epoch 1")
    assert epoch.checkpoint == dict(src.checkpoints)["epoch 1"]
    np.testing.assert_allclose(sources.load_vectors(*epoch).vectors,
                               sources.load_vectors("run", str(run), "input", epoch.checkpoint).vectors)
    assert sources.recorded_scores(final) is None  # only the input table's scores are stored
    f = sources.Source("file", str(tmp_path / "v.txt"), "v.txt")
    assert sources.choose(f, "average", "epoch 1") == ("file", f.path, "input", None, 0, sources.DEFAULT_WORDS)
    assert sources.choose(f, limit=7).limit == 7
    assert sources.default_checkpoint(f, before_last=True) == 0
    assert Corpus.of_source("file", f.path) is None


def test_the_map_timeline_and_its_alignment(env, wv):
    (src,) = sources.sources()
    final = sources.choose(src, "input")
    assert mapview.timeline(src) == ["epoch 0", "epoch 1", "epoch 2", "final"]
    assert mapview.timeline(sources.Source("file", "v.txt", "v")) == []
    assert mapview.at_stop(src, final, "final") is None
    at = mapview.at_stop(src, final, "epoch 0")
    spec = {"mode": "search", "search": "^g1"}
    base = mapview.project(wv, spec, "pca", {"seed": 0})
    early = mapview.project(wv, spec, "pca", {"seed": 0}, sources.load_vectors(*at))
    assert early.key != base.key and early.xy.shape == base.xy.shape  # the same words, other points
    assert mapview.aligned(base, base) is base.xy
    xy = mapview.aligned(early, base)
    assert np.linalg.norm(xy - base.xy) <= np.linalg.norm(early.xy - base.xy) + 1e-6
    seen = set()
    assert mapview.computed_now(base, seen) != base.cached and not mapview.computed_now(base, seen)


def test_map_colours_highlights_and_clicks(wv):
    words_ = ["g0w0", "g0w1", "G1w0", "g2w0"]
    assert mapview.marked(words_, ["g0w1", "zz"], " g1") == [1, 2]
    assert mapview.marked(words_) == []
    assert mapview.clicked_word({"selection": {"points": [{"customdata": ["g0w1"]}]}}) == "g0w1"
    assert mapview.clicked_word(None) is None and mapview.clicked_word({"selection": {"points": []}}) is None
    colour, title = mapview.colour(wv, [0, 1])
    assert title == "log10 count" and colour[0] >= colour[1]
    bare = WordVectors(wv.index_to_key, wv.vectors)
    assert mapview.colour(bare, [0, 9])[1] == "−log10 rank"
    labels, names = mapview.clusters(wv, list(range(12)), 3)
    assert len(labels) == 12 and len(names) == 3


def test_compare_find_a_word(wv):
    df = compare.compare(wv, wv, k=5)
    assert compare.find(df, " G0W0 ").word.tolist() == ["g0w0"]
    assert compare.find(df, "nope").empty
    phrased = df.assign(word=df.word.where(df.word != "g0w0", "new_york"))
    assert compare.find(phrased, " New  York ").word.tolist() == ["new_york"]
    assert compare.overlap_column(5) in df.columns


@pytest.mark.parametrize("module", ["sources", "words", "concordance", "compare", "mapview"])
def test_studio_modules_import_neither_torch_nor_streamlit(module):
    path = Path(__file__).resolve().parent.parent / "w2v" / "studio" / f"{module}.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    assert not names & {"torch", "streamlit"}


def test_what_a_page_says_of_a_vectors_file_read_up_to_a_limit(tmp_path):
    wv = WordVectors([f"w{i}" for i in range(50)], np.ones((50, 4), np.float32))
    wv.save_word2vec(tmp_path / "v.bin", binary=True)
    info, default = sources.file_limit(tmp_path / "v.bin")
    assert (info.format, info.words, info.dim, default) == ("word2vec-binary", 50, 4, 50)
    assert sources.limit_text(info, 50) == "All 50 words of this word2vec binary file."
    assert sources.limit_text(info, 20).startswith("Its 20 most frequent words (the first in the file) of 50")
    (tmp_path / "g.txt").write_text("".join(f"w{i} 1 2 3\n" for i in range(50)))
    info, default = sources.file_limit(tmp_path / "g.txt")
    assert (info.format, info.dim, default) == ("glove", 3, sources.DEFAULT_WORDS)
    assert "of about 54" in sources.limit_text(info, 10)  # estimated from the first line: 490 bytes // 9
