"""Phrases: gensim's scorer and joining, pass by pass, bounded counting, and the run's phrases.tsv."""

import gzip
import random
import subprocess
import sys

import numpy as np
import pytest
from gensim.models.phrases import Phrases

from conftest import ROOT
from w2v import phrases as P
from w2v.corpus import Vocab, iter_token_blocks, scan_corpus

SAMPLE = ROOT / "data" / "text8-prefix.txt.gz"


def planted(paragraphs=300, seed=0):
    """Random filler words with 'new york' and 'san francisco bay' planted: the pairs of each are
    far more frequent together than their words' counts predict."""
    rng = random.Random(seed)
    filler = [f"w{i}" for i in range(200)]
    paras = []
    for _ in range(paragraphs):
        words = [rng.choice(filler) for _ in range(12)]
        words[rng.randrange(6)] = "new york"
        if rng.random() < 0.5:
            words[6 + rng.randrange(5)] = "san francisco bay"
        paras.append(" ".join(words))
    return "\n\n".join(paras) + "\n"


def sentences(text):
    return [p.split() for p in text.split("\n\n") if p.strip()]


def test_planted_pairs_become_phrases_and_one_token_in_the_vocabulary(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(planted())
    vocab, stats = scan_corpus(path, tmp_path / "ids", min_count=1, phrases=P.PhraseSettings(passes=1))
    texts = {p.text for p in stats.phrases}
    assert {"new_york", "san_francisco"} <= texts and not any(t.startswith("w") for t in texts)
    assert vocab.counts[vocab.index["new_york"]] == 300 and "new" not in vocab and "york" not in vocab
    ids = np.fromfile(tmp_path / "ids", dtype=np.int32)
    assert (ids >= 0).sum() == vocab.total  # the encoded corpus holds the joined tokens


def test_a_second_pass_finds_the_longer_phrase():
    found, _ = P.find([t.split() if t else [""] for t in planted().split("\n\n")], P.PhraseSettings(passes=2), 10**6)
    by_pass = {p.passno: {q.text for q in found if q.passno == p.passno} for p in found}
    assert "san_francisco" in by_pass[1] and "san_francisco_bay" in by_pass[2]


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_joining_is_gensims_word_for_word_even_across_pieces(tmp_path, chunk):
    rng = random.Random(3)
    words = "a b c d e".split()
    sents = [[rng.choice(words) for _ in range(rng.randrange(1, 30))] for _ in range(200)]
    model = Phrases(sents, min_count=1, threshold=0.1)
    theirs = [w for s in sents for w in model[s] + [""]]
    index = {"": -1}
    ids = np.array([index.setdefault(w, len(index) - 1) for s in sents for w in s + [""]], np.int32)
    ids.tofile(tmp_path / "ids")
    pairs = P.PairCounter()
    pairs.add(ids)
    counts = np.bincount(ids[ids >= 0]).astype(np.int64)
    _, found = P.run_passes(P.IdFile(tmp_path / "ids", chunk=chunk), index, counts, pairs,
                            P.PhraseSettings(1, threshold=0.1, min_count=1))
    assert {p.text: p.score for p in found} == pytest.approx(model.export_phrases())
    words_of = {i: w for w, i in index.items()}
    assert [words_of[i] for i in np.fromfile(tmp_path / "ids", dtype=np.int32)] == theirs


def test_pair_counts_stay_bounded_and_keep_the_frequent_pairs():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5000, 200_000).astype(np.int32)
    ids[::10], ids[1::10] = 1, 2  # the pair (1, 2) 20,000 times
    pairs = P.PairCounter(bound=1000, buffer=4096)
    for piece in np.array_split(ids, 37):
        pairs.add(piece)
    pairs.merge()
    assert len(pairs.keys) <= 1000 and pairs.pruned_at > 0
    assert pairs.counts[np.searchsorted(pairs.keys, (1 << 32) | 2)] >= 19_000


def test_on_real_text_one_pass_finds_what_gensim_finds():
    """The quality bar: on a 300k-token prefix of the sample, at gensim's defaults (threshold 10,
    min_count 5), at least 90% of gensim's phrases are found and at most 10% of ours are not its."""
    tokens = []
    for block in iter_token_blocks(SAMPLE):
        tokens += block
        if len(tokens) >= 300_000:
            break
    tokens = tokens[:300_000]
    ours, n = P.find([tokens], P.PhraseSettings(passes=1), max_tokens=len(tokens))
    theirs = Phrases([tokens], threshold=10.0, min_count=5).export_phrases()
    ours = {p.text: p.score for p in ours}
    common = set(ours) & set(theirs)
    assert n == 300_000 and len(theirs) > 500
    assert len(common) >= 0.9 * len(theirs) and len(ours) - len(common) <= 0.1 * len(ours)
    assert max(abs(ours[k] - theirs[k]) / theirs[k] for k in common) < 1e-9


def test_training_with_phrases_writes_phrases_tsv(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(planted())
    run = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), "--phrases", "2",
                        "--phrase-threshold", "5", "--phrase-min-count", "3", "--min-count", "1", "--dim", "8",
                        "--epochs", "1", "--eval", "none", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (run / P.FILE).read_text().startswith(P.HEADER)
    found = {q.text: q for q in P.read_tsv(run / P.FILE)}
    assert found["new_york"].count == 300 and found["new_york"].passno == 1
    assert found["san_francisco_bay"].passno == 2
    vocab = Vocab.load(run / "vocab.tsv")
    assert "new_york" in vocab and "san_francisco_bay" in vocab
    assert '"phrases": 2' in (run / "config.json").read_text()


def test_without_phrases_nothing_is_joined_nor_written(tmp_path):
    path = tmp_path / "c.txt"
    with gzip.open(SAMPLE, "rt") as f:
        path.write_text(f.read(100_000))
    vocab, stats = scan_corpus(path, tmp_path / "ids", min_count=1)
    assert stats.phrases == [] and not any("_" in w for w in vocab.words)


def test_a_corpus_without_pairs_finds_no_phrase(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\n\n".join(["alpha", "beta"] * 50) + "\n")  # one word a paragraph: no pair at all
    vocab, stats = scan_corpus(path, tmp_path / "ids", min_count=1, phrases=P.PhraseSettings(passes=2))
    assert stats.phrases == [] and vocab.words == ["alpha", "beta"]
