import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v.errors import W2VError
from w2v import vectors
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


# ---------------------------------------------------------------- the formats people have

def _glove(wv, path, trailing=""):
    """wv as a GloVe file (no header), or with trailing=" " as fastText writes each line."""
    path.write_text("".join(f"{w} {' '.join(f'{x:.6g}' for x in v)}{trailing}\n"
                            for w, v in zip(wv.index_to_key, wv.vectors)))
    return path


def test_glove_and_fasttext_files_read_as_gensim_reads_them(wv, tmp_path):
    glove = _glove(wv, tmp_path / "glove.txt")
    kv = KeyedVectors.load_word2vec_format(str(glove), no_header=True)
    back = WordVectors.load(glove)
    assert back.index_to_key == kv.index_to_key == wv.index_to_key
    assert np.array_equal(back.vectors, kv.vectors)
    assert vectors.sniff(glove).format == "glove" and vectors.sniff(glove).dim == 16
    vec = tmp_path / "wiki.vec"  # fastText: a header, and a space before each newline
    vec.write_text(f"{len(wv)} 16\n" + _glove(wv, tmp_path / "body", trailing=" ").read_text())
    kv = KeyedVectors.load_word2vec_format(str(vec))
    back = WordVectors.load(vec)
    assert back.index_to_key == kv.index_to_key and np.array_equal(back.vectors, kv.vectors)
    assert vectors.sniff(vec).format == "word2vec" and vectors.sniff(vec).words == 300


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary", "glove"])
def test_limit_reads_the_most_frequent_words_as_gensims_limit(wv, tmp_path, fmt):
    path = tmp_path / "v"
    if fmt == "glove":
        _glove(wv, path)
    else:
        wv.save_word2vec(path, binary=fmt == "word2vec-binary")
    kv = KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary", limit=37,
                                           no_header=fmt == "glove")
    back = WordVectors.load(path, limit=37)
    assert vectors.sniff(path).format == fmt
    assert back.index_to_key == kv.index_to_key == wv.index_to_key[:37]
    assert np.allclose(back.vectors, kv.vectors, atol=1e-6)


@pytest.mark.parametrize("binary", [False, True])
def test_limit_reads_nothing_after_its_words(wv, tmp_path, binary):
    path = tmp_path / "v"
    wv.save_word2vec(path, binary=binary)
    data = path.read_bytes()
    cut = data.index(b"\nw40 " if not binary else b"w40 ")
    path.write_bytes(data[:cut + 1] + b"\xff" * (len(data) - cut - 1))  # garbage after w39
    assert WordVectors.load(path, limit=40).index_to_key == wv.index_to_key[:40]
    with pytest.raises(W2VError):
        WordVectors.load(path, limit=41)


def test_text_rows_parsed_in_groups_agree_with_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "TEXT_ROWS", 7)  # many groups, and rows of every kind in them
    words = ["the", "NA", "null", "nan", '"quoted"', "#hash", "1.5", "café", "東京", "a,b", "x\xa0y"]
    words += [f"w{i}" for i in range(40)]
    rows = np.random.default_rng(2).normal(size=(len(words), 5)).astype(np.float32)
    path = tmp_path / "v.txt"
    path.write_text(f"{len(words)} 5\n" + "".join(f"{w} {' '.join(map(repr, map(float, v)))}\n"
                                                  for w, v in zip(words, rows)), encoding="utf-8")
    kv = KeyedVectors.load_word2vec_format(str(path))
    back = WordVectors.load(path)
    assert back.index_to_key == kv.index_to_key == words
    assert np.array_equal(back.vectors, kv.vectors)


@pytest.mark.parametrize("bad,message", [
    ("w30 0.1 0.2 0.3 0.4", "line 32 has 4 numbers where its header says 5"),
    ("w30 0.1 0.2 0.3 0.4 0.5 0.6", "line 32 has 6 numbers where its header says 5"),
    ("w30 0.1 0.2 x 0.4 0.5", "line 32 holds something that is not a number"),
    ("w30 0.1 0.2 nan 0.4 0.5", "line 32 holds NaN or infinity"),
    ("", "line 32 has 0 numbers"),
])
def test_a_bad_row_inside_a_group_is_named_by_its_line(tmp_path, monkeypatch, bad, message):
    monkeypatch.setattr(vectors, "TEXT_ROWS", 16)
    lines = [f"w{i} 0.1 0.2 0.3 0.4 0.5" for i in range(40)]
    lines[30] = bad
    path = tmp_path / "v.txt"
    path.write_text("40 5\n" + "\n".join(lines) + "\n")
    with pytest.raises(W2VError, match=message):
        WordVectors.load(path)
    path.write_text("\n".join(lines) + "\n")  # the same rows as GloVe: one line earlier
    with pytest.raises(W2VError, match=message.replace("32", "31").replace("header says", "first line has")):
        WordVectors.load(path)


def test_not_a_vectors_file_says_which_formats_are_read(tmp_path):
    path = tmp_path / "prose.txt"
    path.write_text("hello world\nthis is text\n")
    with pytest.raises(W2VError, match="not a word2vec file nor GloVe"):
        WordVectors.load(path)


# ---------------------------------------------------------------- phrases and case

def test_find_a_phrase_typed_as_words_and_another_case():
    wv = WordVectors(["new_york", "New_York", "Paris", "the", "los_angeles"], np.eye(5, dtype=np.float32))
    assert wv.find("the") == "the" and wv.find(" The ") == "the"
    assert wv.find("new york") == "new_york" and wv.find("New  York") == "New_York"
    assert wv.find("NEW YORK") == "new_york"  # lower-cased
    assert wv.find("paris") == "Paris" and wv.find("Los Angeles") == "los_angeles"  # another case
    assert wv.find("new") is None and wv.find("") is None and wv.find("york new") is None
    gn = WordVectors(["Los_Angeles", "los_angeles"], np.eye(2, dtype=np.float32))
    assert gn.find("los angeles") == "los_angeles" and gn.find("LOS ANGELES") == "los_angeles"
    assert WordVectors(["LA_x", "La_x"], np.eye(2, dtype=np.float32)).find("la x") == "LA_x"  # most frequent


@pytest.mark.parametrize("rows", [4, 16, 100])
def test_the_first_bad_line_is_the_one_named(tmp_path, monkeypatch, rows):
    monkeypatch.setattr(vectors, "TEXT_ROWS", rows)  # the bad lines in one group, or in groups parsed at once
    lines = [f"w{i} 0.1 0.2" for i in range(60)]
    lines[9] = "w9 0.1 nan"
    lines[30] = "w30 " + "0.5 " * 10_000  # too long
    lines[50] = "w50 0.1"
    path = tmp_path / "v.txt"
    path.write_text("60 2\n" + "\n".join(lines) + "\n")
    with pytest.raises(W2VError, match="line 11 holds NaN"):
        WordVectors.load(path)
    lines[9] = "w9 0.1 0.2"
    path.write_text("60 2\n" + "\n".join(lines) + "\n")
    with pytest.raises(W2VError, match="line 32 is over"):
        WordVectors.load(path)
