"""w2v.studio.corpus_stats: what the corpus page shows, checked against the trainer's own pipeline."""

import gzip

import numpy as np
import pytest

from w2v.studio import corpus_stats as cs
from w2v.corpus import Vocab, scan_corpus
from w2v.errors import W2VError

TEXT = "the cat sat on the mat\n\nthe dog sat on the log\n\nthe end of the cat story the end\n"


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(TEXT)
    return path


def test_summarize_counts_and_examples(small):
    seen = []
    s = cs.summarize(small, progress=seen.append)
    assert (s.tokens, s.paragraphs) == (20, 3)
    assert s.words[:3] == ["the", "cat", "end"] and s.counts[:3].tolist() == [7, 2, 2]
    assert s.types == len(s.words) == 10 and s.counts.sum() == 20
    assert s.examples == [t.split() for t in TEXT.strip().split("\n\n")]  # passages end at paragraphs
    assert seen[-1] == 20


def test_examples_are_cut_to_length(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"w{i}" for i in range(100)))
    s = cs.summarize(path, n_examples=3, example_len=10)
    assert [len(e) for e in s.examples] == [10, 10, 10] and s.examples[1][0] == "w10"


def test_vocab_at_matches_the_trainer(tmp_path, tiny_corpus):
    s = cs.summarize(tiny_corpus)
    for m in (1, 5, 20):
        vocab, stats = scan_corpus(tiny_corpus, tmp_path / f"ids{m}", min_count=m)
        mine = cs.vocab_at(s, m)
        assert mine.words == vocab.words and mine.counts.tolist() == vocab.counts.tolist()
        assert stats.tokens == s.tokens and stats.types == s.types
    assert len(cs.vocab_at(s, 1, max_vocab=50)) == 50


def test_vocab_curve_and_coverage(small):
    s = cs.summarize(small)
    vc = cs.vocab_curve(s, [1, 2, 3, 8])
    assert vc["vocab_size"] == [10, 5, 1, 0]  # the, cat, end, sat, on / the / none
    assert vc["coverage"][0] == 1.0 and vc["coverage"][2] == pytest.approx(7 / 20)
    assert cs.coverage(s, 2) == pytest.approx((7 + 2 * 4) / 20)


def test_zipf_is_log_spaced_and_keeps_the_ends(tmp_path):
    words = [f"w{i}" for i in range(5000) for _ in range(1 + 5000 // (i + 1))]
    path = tmp_path / "zipf.txt"
    path.write_text(" ".join(words))
    s = cs.summarize(path)
    z = cs.zipf(s, max_points=200)
    assert len(z["rank"]) <= 200 and z["rank"][0] == 1 and z["rank"][-1] == 5000
    assert z["count"] == sorted(z["count"], reverse=True)
    assert len(cs.zipf(cs.summarize(path), max_points=10_000)["rank"]) == 5000


def test_subsampling_numbers():
    vocab = Vocab(["a", "b", "c"], np.array([900, 90, 10]))
    assert cs.kept_share(vocab, 0) == 1.0
    p = vocab.keep_prob(1e-2)
    assert cs.kept_share(vocab, 1e-2) == pytest.approx((900 * p[0] + 90 * p[1] + 10 * p[2]) / 1000)
    assert cs.kept_share(vocab, 1e-2) < 1
    curve = cs.keep_curve(vocab, 1e-2)
    assert np.all(np.diff(curve["keep"]) <= 1e-12) and max(curve["keep"]) <= 1
    dropped = cs.dropped_words(vocab, 1e-2)
    assert [d["word"] for d in dropped] == ["a", "b"]  # c is kept with probability 1
    assert dropped[0]["expected_dropped"] == round(900 * (1 - p[0]))


def test_noise_table_flattens_the_distribution():
    vocab = Vocab(["a", "b", "c"], np.array([900, 90, 10]))
    rows = cs.noise_table(vocab, 3)
    assert rows[0]["unigram"] == pytest.approx(0.9)
    assert rows[0]["unigram^0.75"] < rows[0]["unigram"] and rows[2]["unigram^0.75"] > rows[2]["unigram"]
    assert sum(r["unigram^0.75"] for r in rows) == pytest.approx(1.0)


def test_sentence_pairs_follow_make_pairs():
    vocab = Vocab(["a", "b", "c", "d"], np.array([5, 5, 5, 5]))
    res = cs.sentence_pairs(["a", "b", "zzz", "c", "d"], vocab, window=1)
    assert res["dropped"] == [("zzz", "not in vocabulary")] and res["kept"] == ["a", "b", "c", "d"]
    got = {(p["centre"], p["context"], p["offset"]) for p in res["pairs"]}
    assert got == {("a", "b", 1), ("b", "a", -1), ("b", "c", 1), ("c", "b", -1), ("c", "d", 1), ("d", "c", -1)}
    wide = cs.sentence_pairs(["a", "b", "c", "d"], vocab, window=3)
    assert len(wide["pairs"]) == 12  # every ordered pair of 4 words
    reduced = cs.sentence_pairs(["a", "b", "c", "d"] * 5, vocab, window=4, reduced=True, seed=3)
    assert all(1 <= b <= 4 for b in reduced["windows"]) and len(set(reduced["windows"])) > 1
    for p in reduced["pairs"]:
        assert abs(p["offset"]) <= 4


def test_sentence_pairs_subsampling_drops_frequent_words():
    vocab = Vocab(["the", "x"], np.array([10_000, 1]))
    res = cs.sentence_pairs(["the"] * 30 + ["x"], vocab, window=2, sample=1e-3, seed=0)
    assert "x" in res["kept"] and any(why == "subsampled" for _, why in res["dropped"])
    assert len(res["kept"]) + len(res["dropped"]) == 31


def test_summarize_cached_rereads_a_changed_file(small):
    a = cs.summarize_cached(small)
    assert cs.summarize_cached(small) is a
    small.write_text(TEXT + "more words here\n")
    assert cs.summarize_cached(small).tokens == 23


def test_bad_files_raise(tmp_path):
    bad = tmp_path / "bad.gz"
    data = gzip.compress(" ".join(f"word{i}" for i in range(20_000)).encode())
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(W2VError, match="archive"):
        cs.summarize(bad)
    with pytest.raises(W2VError, match="does not exist"):
        cs.summarize(tmp_path / "missing.txt")


def test_estimated_tokens_is_in_the_right_range(tiny_corpus):
    s = cs.summarize(tiny_corpus)
    assert 0.5 < cs.estimated_tokens(tiny_corpus) / s.tokens < 2
