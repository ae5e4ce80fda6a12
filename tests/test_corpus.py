import bz2
import gzip
import itertools

import numpy as np
import pytest

from w2v.corpus import (AliasSampler, Vocab, block_tokens, iter_blocks, iter_token_blocks, make_pair_positions,
                        make_pairs, read_chunk, reduced_windows, scan_corpus, subsample, tokenize)
from w2v.errors import W2VError


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("The cat's well-known; Dog. 42 cafés!") == ["the", "cat's", "well-known", "dog", "42", "cafés"]


def test_tokenize_keeps_punctuation_as_tokens():
    assert tokenize("Hello, world!", keep_punct=True) == ["hello", ",", "world", "!"]


def test_tokenize_plain_fast_path_matches_regex():
    text = "anarchism originated as a term of abuse"
    assert tokenize(text) == text.split()


@pytest.mark.parametrize("opener,suffix", [(open, ".txt"), (gzip.open, ".gz"), (bz2.open, ".bz2")])
def test_blocks_stream_every_format_and_cut_at_whitespace(tmp_path, opener, suffix):
    words = [f"w{i % 97}" for i in range(20000)]
    path = tmp_path / f"c{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(" ".join(words))
    blocks = list(iter_blocks(path, block_chars=1000))
    assert len(blocks) > 10
    assert [w for b in blocks for w in b.split()] == words


def test_paragraph_boundaries_are_marked(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("a b\nc\n\n  \nd e\n")
    tokens = [t for block in iter_token_blocks(path) for t in block]
    assert tokens == ["a", "b", "c", "", "d", "e"]


@pytest.mark.parametrize("content,message", [
    (b"", "no words"),
    (b"\x00\x01\x02binary\x00" * 100, "binary"),
    (b"caf\xe9 au lait " * 10, "not UTF-8"),
])
def test_bad_corpora_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(W2VError, match=message):
        scan_corpus(path, tmp_path / "ids", min_count=1)
    assert not (tmp_path / "ids").exists()


def test_truncated_gzip_is_refused(tmp_path):
    path = tmp_path / "t.gz"
    data = gzip.compress(("word " * 50000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(W2VError, match="archive"):
        scan_corpus(path, tmp_path / "ids", min_count=1)


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(W2VError, match="does not exist"):
        list(iter_blocks(tmp_path / "nope.txt"))
    with pytest.raises(W2VError, match="directory"):
        list(iter_blocks(tmp_path))


def test_no_word_reaches_min_count(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("alpha beta gamma delta")
    with pytest.raises(W2VError, match="min-count"):
        scan_corpus(path, tmp_path / "ids", min_count=2)


def test_vocab_orders_by_frequency_and_applies_limits():
    v = Vocab.from_counts(["b", "a", "c", "d"], [5, 5, 9, 1], min_count=2)
    assert v.words == ["c", "a", "b"]  # ties alphabetical
    assert v.counts.tolist() == [9, 5, 5]
    assert Vocab.from_counts(["b", "a", "c"], [5, 5, 9], min_count=1, max_size=2).words == ["c", "a"]


def test_vocab_roundtrip(tmp_path):
    v = Vocab(["x", "y"], [3, 2])
    v.save(tmp_path / "v.tsv")
    w = Vocab.load(tmp_path / "v.tsv")
    assert w.words == v.words and w.counts.tolist() == [3, 2]


def test_keep_probability_is_word2vecs_formula():
    v = Vocab(["the", "cat", "rare"], [9000, 900, 100])
    t = 1e-2
    f = np.array([0.9, 0.09, 0.01])
    expected = np.minimum((np.sqrt(f / t) + 1) * t / f, 1)
    assert np.allclose(v.keep_prob(t), expected, rtol=1e-6)
    assert v.keep_prob(t)[2] == 1.0 and v.keep_prob(t)[0] < 0.2
    assert np.all(v.keep_prob(0) == 1)


def test_scan_encodes_corpus_and_counts(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b a c\n\nb a zz\n")
    vocab, stats = scan_corpus(path, tmp_path / "ids", min_count=2)
    assert vocab.words == ["a", "b"] and vocab.counts.tolist() == [3, 2]
    assert stats.tokens == 7 and stats.types == 4
    ids = np.fromfile(tmp_path / "ids", dtype=np.int32)
    assert ids.tolist() == [0, 1, 0, -1, 1, 0]  # c and zz dropped, boundary kept
    assert np.concatenate([read_chunk(tmp_path / "ids", k, 4) for k in range(2)]).tolist() == ids.tolist()
    assert read_chunk(tmp_path / "ids", 1, 4).tolist() == [1, 0]  # the last chunk is short


def test_the_kernels_word_map_reads_plain_text_as_the_tokenizer_does():
    from w2v import kernel
    lib = kernel.load()
    if lib is None:
        pytest.skip("no C++ compiler")
    index = {"": -1}
    with kernel.WordIds(lib) as words:
        for text in ["the Cat  sat ", " on the MAT", "", "   "]:
            ids = words.encode(text)
            want = [index.setdefault(t, len(index) - 1) for t in block_tokens(text)]
            assert ids.tolist() == want
            assert words.words() == list(index)[1:]  # new words in order of first appearance
        assert words.words(2) == ["sat", "on", "mat"]
        for not_plain in ["a, b", "tab\tcat", "line\nbreak", "café", "\u212a"]:  # (K, the Kelvin sign, lower-cases to k)
            assert words.encode(not_plain) is None
        assert words.words() == ["the", "cat", "sat", "on", "mat"]  # nothing added


def test_a_corpus_read_partly_by_the_kernel_encodes_as_the_tokenizer_alone(tmp_path, monkeypatch):
    """Plain blocks go to the kernel's word map; from the first block that is not plain the
    Python tokenizer reads the rest: the ids, the vocabulary and the counts are the same as the
    tokenizer's alone, paragraph boundaries included."""
    rng = np.random.default_rng(0)
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(3000)]
    plain = lambda n: " ".join(words[i] for i in rng.zipf(1.3, n) % 3000)  # noqa: E731
    text = plain(300_000) + "\n\nThe cat, said she.\n\n" + plain(300_000) + " " + plain(300_000).upper()
    (tmp_path / "c.txt").write_text(text)
    from w2v import kernel
    if kernel.load() is None:
        pytest.skip("no C++ compiler")
    encoded, encode = [], kernel.WordIds.encode
    monkeypatch.setattr(kernel.WordIds, "encode", lambda self, t: encoded.append(encode(self, t)) or encoded[-1])
    vocab, stats = scan_corpus(tmp_path / "c.txt", tmp_path / "fast.ids", min_count=1)
    assert [ids is not None for ids in encoded] == [True, False]  # a plain block, then the mixed one
    monkeypatch.setattr(kernel, "load", lambda warn=True: None)  # the tokenizer alone
    want_vocab, want_stats = scan_corpus(tmp_path / "c.txt", tmp_path / "slow.ids", min_count=1)
    assert len(text) > 3 * (1 << 20)  # several blocks: plain ones before the mixed one, and after
    assert vocab.words == want_vocab.words and vocab.counts.tolist() == want_vocab.counts.tolist()
    assert stats == want_stats and stats.paragraphs == 3
    fast, slow = np.fromfile(tmp_path / "fast.ids", np.int32), np.fromfile(tmp_path / "slow.ids", np.int32)
    assert np.array_equal(fast, slow) and (fast == -1).sum() == 2


def test_subsample_rate_matches_keep_probability_and_redraws():
    keep = np.array([0.25, 1.0], dtype=np.float32)
    chunk = np.array([0, 1] * 50000 + [-1] + [0] * 10, dtype=np.int32)
    ids, para = subsample(chunk, keep, np.random.default_rng(0))
    assert abs((ids == 0).sum() / 50010 - 0.25) < 0.01
    assert (ids == 1).sum() == 50000  # keep probability 1: never dropped
    assert -1 not in ids and para.max() == 1
    ids2, _ = subsample(chunk, keep, np.random.default_rng(1))
    assert not np.array_equal(ids, ids2)


def test_reduced_windows_cover_one_to_window():
    b = reduced_windows(100000, 5, np.random.default_rng(0))
    assert b.min() == 1 and b.max() == 5
    assert np.allclose(np.bincount(b)[1:] / len(b), 0.2, atol=0.01)


def test_every_pair_within_the_window_and_no_other():
    rng = np.random.default_rng(3)
    n = 200
    para = np.repeat(np.arange(5), 40).astype(np.int32)
    b = reduced_windows(n, 4, rng)
    c, x = make_pair_positions(para, b)
    got = sorted(zip(c.tolist(), x.tolist()))
    want = sorted((i, j) for i, j in itertools.product(range(n), range(n))
                  if i != j and abs(i - j) <= b[i] and para[i] == para[j])
    assert got == want
    ids = np.arange(n, dtype=np.int32) * 3
    ci, xi = make_pairs(ids, para, b)
    assert sorted(zip(ci.tolist(), xi.tolist())) == sorted((3 * i, 3 * j) for i, j in want)


def test_alias_sampler_draws_the_distribution():
    p = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    s = AliasSampler(p).sample(400000, np.random.default_rng(0))
    assert np.allclose(np.bincount(s, minlength=5) / len(s), p, atol=0.004)
    assert (s == 4).sum() == 0


def test_noise_distribution_is_unigram_to_the_three_quarters():
    v = Vocab(["a", "b"], [16, 1])
    assert np.allclose(v.noise_dist(), np.array([8, 1]) / 9)
