"""Our benchmarks give gensim's numbers on the same vectors."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v.evaluate import evaluate, evaluate_analogies, evaluate_similarity
from w2v.vectors import WordVectors


@pytest.fixture
def structured(tmp_path):
    """Vectors with planted offsets (country -> capital, male -> female) plus noise, so that some
    analogies are right and some wrong, and benchmark files mixing known and unknown words."""
    rng = np.random.default_rng(0)
    d = 20
    base = {}
    pairs = [("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid"),
             ("japan", "tokyo"), ("egypt", "cairo")]
    offset = rng.normal(size=d)
    for a, b in pairs:
        base[a] = rng.normal(size=d)
        base[b] = base[a] + offset + rng.normal(scale=0.7, size=d)
    g = rng.normal(size=d)
    for m, f in [("king", "queen"), ("man", "woman"), ("boy", "girl"), ("father", "mother")]:
        base[m] = rng.normal(size=d)
        base[f] = base[m] + g + rng.normal(scale=0.9, size=d)
    for i in range(200):
        base[f"filler{i}"] = rng.normal(size=d)
    words = list(base)
    wv = WordVectors(words, np.array([base[w] for w in words], dtype=np.float32))
    q = tmp_path / "q.txt"
    lines = [": capitals"]
    for a, b in pairs:
        for c, e in pairs:
            if a != c:
                lines.append(f"{a.title()} {b.title()} {c.title()} {e.title()}")
    lines.append("France Paris Atlantis Poseidonia")  # unknown words: skipped
    lines.append(": family")
    fam = [("king", "queen"), ("man", "woman"), ("boy", "girl"), ("father", "mother")]
    for a, b in fam:
        for c, e in fam:
            if a != c:
                lines.append(f"{a} {b} {c} {e}")
    q.write_text("\n".join(lines) + "\n")
    s = tmp_path / "s.tsv"
    sim_rows = ["# comment"] + [f"{a}\t{b}\t{rng.uniform(0, 10):.2f}" for a, b in pairs + fam]
    sim_rows += [f"filler{i}\tfiller{i + 1}\t{rng.uniform(0, 10):.2f}" for i in range(30)]
    sim_rows.append("unknownword\tparis\t5.0")
    s.write_text("\n".join(sim_rows) + "\n")
    return wv, q, s


def _gensim(wv):
    kv = KeyedVectors(wv.vector_size)
    kv.add_vectors(wv.index_to_key, wv.vectors)
    return kv


def test_analogies_equal_gensims_evaluator(structured):
    wv, q, _ = structured
    ours = evaluate_analogies(wv, q)
    score, sections = _gensim(wv).evaluate_word_analogies(str(q))
    assert 0.1 < ours["accuracy"] < 1.0  # a real mix of right and wrong answers
    assert ours["accuracy"] == pytest.approx(score)
    theirs = {s["section"]: s for s in sections}
    for name in ("capitals", "family"):
        assert ours["sections"][name]["correct"] == len(theirs[name]["correct"])
        assert ours["sections"][name]["total"] == len(theirs[name]["correct"]) + len(theirs[name]["incorrect"])
    assert ours["skipped"] == 1


def test_restrict_vocab_skips_rare_words(structured):
    wv, q, _ = structured
    assert evaluate_analogies(wv, q, restrict_vocab=12)["total"] < evaluate_analogies(wv, q)["total"]


def test_similarity_equals_gensims_evaluator(structured):
    wv, _, s = structured
    ours = evaluate_similarity(wv, s)
    _, spearman, oov = _gensim(wv).evaluate_word_pairs(str(s))
    assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-9)
    assert ours["pairs"] == 40 and ours["total"] == 41
    assert 100 * (1 - ours["coverage"]) == pytest.approx(oov)


def test_evaluate_flat_keys(structured):
    wv, q, s = structured
    out = evaluate(wv, q, s)
    assert {"analogy_accuracy", "similarity_spearman", "analogy_sections", "similarity_coverage"} <= set(out)


@pytest.fixture
def mixed_case(tmp_path):
    """A word2vec file of mixed-case words, as uploaded vectors are: each word in two or three
    spellings ("berlin", "Berlin", "BERLIN") with nearly the same vector, in a frequency order
    where sometimes a capitalised spelling comes first, plus planted capital offsets; and the
    analogy questions in lower case."""
    rng = np.random.default_rng(5)
    d = 16
    pairs = [("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid"),
             ("japan", "tokyo"), ("egypt", "cairo"), ("peru", "lima"), ("kenya", "nairobi")]
    offset = rng.normal(size=d)
    words, vecs = [], []
    for a, b in pairs:
        va = rng.normal(size=d)
        for w, v in ((a, va), (b, va + offset + rng.normal(scale=0.6, size=d))):
            spellings = [w, w.title(), w.upper()][: 2 + int(rng.integers(2))]
            rng.shuffle(spellings)
            for s in spellings:
                words.append(s)
                vecs.append(v + rng.normal(scale=0.05, size=d))
    for i in range(100):
        words.append(f"filler{i}")
        vecs.append(rng.normal(size=d))
    path = tmp_path / "mixed.txt"
    WordVectors(words, np.array(vecs)).save_word2vec(path)
    q = tmp_path / "q.txt"
    q.write_text(": capitals\n" + "".join(f"{a} {b} {c} {e}\n" for a, b in pairs for c, e in pairs if a != c))
    return path, q


def test_mixed_case_vectors_score_as_gensim_scores_them(mixed_case):
    path, q = mixed_case
    wv = WordVectors.load(path)
    # the best candidate is often a spelling of a question word, which gensim passes over
    best = wv.most_similar(positive=["paris", "germany"], negative=["france"], topn=1)[0][0]
    assert best.lower() == "germany"
    ours = evaluate_analogies(wv, q)
    score, _ = KeyedVectors.load_word2vec_format(str(path)).evaluate_word_analogies(str(q), restrict_vocab=30000)
    assert 0.3 < ours["accuracy"] < 1 and ours["total"] == 56
    assert ours["accuracy"] == pytest.approx(score)


def test_every_nth_question_scores_a_fixed_share_and_says_so(structured):
    """The trainer's quick look between epochs: every 4th question of each section (capitals has
    31 questions, one skipped; family 12), the same ones every time."""
    wv, q, s = structured
    part = evaluate(wv, q, s, every=4)
    assert (part["analogy_every"], part["analogy_total"] + part["analogy_skipped"]) == (4, 8 + 3)
    assert part == evaluate(wv, q, s, every=4) and "analogy_every" not in evaluate(wv, q, s)
    q.write_text(q.read_text().split(": family")[0])  # a changed file is read again
    assert evaluate_analogies(wv, q)["total"] == 30
