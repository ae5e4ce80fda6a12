import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v.errors import W2VError
from w2v.vectors import WordVectors


@pytest.fixture
def wv():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    return WordVectors(words, rng.normal(size=(300, 16)).astype(np.float32), counts=np.arange(300, 0, -1))


def _gensim(wv):
    kv = KeyedVectors(wv.vector_size)
    kv.add_vectors(wv.index_to_key, wv.vectors)
    return kv


def test_mapping_behaviour(wv):
    assert len(wv) == 300 and "w5" in wv and "nope" not in wv
    assert np.array_equal(wv["w5"], wv.vectors[5])
    assert list(wv)[:2] == ["w0", "w1"]
    with pytest.raises(KeyError, match="not in the vocabulary"):
        wv["nope"]


@pytest.mark.parametrize("method,pos,neg,atol", [
    ("most_similar", ["w1"], [], 1e-5), ("most_similar", ["w1", "w2"], ["w3"], 1e-5),
    ("most_similar", ["w10"], ["w20", "w30"], 1e-5), ("most_similar", [], ["w7"], 1e-5),
    ("most_similar_cosmul", ["w1", "w2"], ["w3"], 1e-4), ("most_similar_cosmul", ["w4"], [], 1e-4)])
def test_most_similar_and_cosmul_match_gensim(wv, method, pos, neg, atol):
    ours = getattr(wv, method)(positive=pos, negative=neg, topn=10)
    theirs = getattr(_gensim(wv), method)(positive=pos, negative=neg, topn=10)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=atol)


def test_similarity_and_restrict_vocab(wv):
    kv = _gensim(wv)
    assert wv.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-6)
    assert all(wv.key_to_index[w] < 50 for w, _ in wv.most_similar("w1", topn=20, restrict_vocab=50))


def test_closest_words_for_misspellings(wv):
    assert "w12" in wv.closest_words("w12x")


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_round_trip_through_gensim(wv, tmp_path, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    wv.save_word2vec(path, binary=binary)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == wv.index_to_key
    assert np.allclose(kv.vectors, wv.vectors, atol=1e-5)
    kv_path = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(kv_path), binary=binary)
    back = WordVectors.load_word2vec(kv_path)  # binary or text is sniffed
    assert back.index_to_key == wv.index_to_key
    assert np.allclose(back.vectors, wv.vectors, atol=1e-5)


def test_unicode_words_round_trip(tmp_path):
    wv = WordVectors(["café", "naïve", "東京"], np.eye(3, dtype=np.float32))
    for binary in (False, True):
        wv.save_word2vec(tmp_path / "u", binary=binary)
        assert WordVectors.load_word2vec(tmp_path / "u").index_to_key == ["café", "naïve", "東京"]


def test_projector_tsv(wv, tmp_path):
    vec, meta = wv.save_projector(tmp_path / "proj")
    rows = vec.read_text().splitlines()
    assert len(rows) == 300 and len(rows[0].split("\t")) == 16
    assert np.allclose([float(x) for x in rows[3].split("\t")], wv.vectors[3], atol=1e-5)
    lines = meta.read_text().splitlines()
    assert lines[0] == "word\tcount" and lines[1] == "w0\t300"


def test_lying_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "lie.bin"
    path.write_bytes(b"1000000000 300\n" + b"a " + b"\x00" * 1200)
    with pytest.raises(W2VError, match="header"):
        WordVectors.load_word2vec(path)
    path.write_bytes(b"1000000000 300\nthe 0.1 0.2\n")
    with pytest.raises(W2VError, match="header"):
        WordVectors.load_word2vec(path)


def test_ragged_rows_and_garbage_are_refused(tmp_path):
    path = tmp_path / "ragged.txt"
    path.write_text("2 3\na 0.1 0.2 0.3\nb 0.1 0.2\n")
    with pytest.raises(W2VError, match="line 3 has 2 numbers"):
        WordVectors.load_word2vec(path)
    path.write_text("hello world\n")
    with pytest.raises(W2VError, match="not a word2vec file"):
        WordVectors.load_word2vec(path)
