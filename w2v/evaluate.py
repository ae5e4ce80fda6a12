"""Benchmarks: word analogies (accuracy) and word-pair similarity (Spearman), gensim's protocol.

Analogies (questions-words.txt): a question a b c d is skipped when any word is outside the
`restrict_vocab` most frequent (30,000), compared case-insensitively; the answer is the single best
3CosAdd candidate among those words, the three question words excluded. Accuracy = correct /
answered, overall and per section: the figure gensim's `evaluate_word_analogies` reports.

Words are compared upper-cased, as gensim does, which matters only where two words differ in case
alone (uploaded vectors such as GoogleNews: "Paris", "paris"): a question word is its most frequent
case variant; among the five best candidates the first that is not a case variant of a question
word is the answer (the fifth when all are); and the answer is right when it equals the expected
word up to case. Where no two words differ only in case this is the plain best candidate.

Similarity (wordsim353.tsv): Spearman correlation between human scores and cosines over the pairs
whose words are both known; coverage says how many pairs that was.

Numpy only (float32 BLAS products, in blocks of questions): no torch, so the app can evaluate
vectors without loading the trainer's framework.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from .errors import W2VError
from .vectors import WordVectors

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_ANALOGIES = DATA_DIR / "questions-words.txt"
DEFAULT_SIMILARITY = DATA_DIR / "wordsim353.tsv"
BATCH = 1024  # analogy questions per product: a (BATCH, restrict_vocab) float32 block, 120 MB at most


ANSWERS = 5  # gensim looks for its answer among this many best candidates


def _case_insensitive_index(wv: WordVectors, restrict_vocab: int) -> dict[str, int]:
    # as gensim: among keys equal up to case, the most frequent (lowest index) wins
    return _upper_index(tuple(wv.index_to_key[:restrict_vocab]))


def _case_rows(wv: WordVectors, ok: dict[str, int], restrict_vocab: int) -> np.ndarray | None:
    """For each of the first `restrict_vocab` words, the row of its most frequent case variant;
    None when every word is its own (no two words differ in case alone)."""
    rows = np.array([ok[w.upper()] for w in wv.index_to_key[:restrict_vocab]], dtype=np.int64)
    return None if np.array_equal(rows, np.arange(len(rows))) else rows


def _answers(scores: np.ndarray, asked: np.ndarray, case_rows: np.ndarray | None) -> np.ndarray:
    """The answer row of each question: scores (n, V) with the question words' rows `asked`
    (n, 3) already excluded. The best candidate; with case variants, gensim's choice among the
    ANSWERS best, as the row of its most frequent case variant."""
    if case_rows is None:
        return scores.argmax(1)
    k = min(ANSWERS, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (n, k)
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1, kind="stable"), 1)
    cand = case_rows[top]  # (n, k)
    fresh = ~(cand[:, :, None] == asked[:, None, :]).any(2)  # not a case variant of a question word
    pick = np.where(fresh.any(1), fresh.argmax(1), k - 1)
    return cand[np.arange(len(cand)), pick]


@functools.lru_cache(maxsize=4)
def _upper_index(words: tuple[str, ...]) -> dict[str, int]:
    """Built once per vocabulary (a trainer scores the same words after every epoch); read only."""
    return {w.upper(): i for i, w in reversed(list(enumerate(words)))}


def read_analogies(path: str | os.PathLike) -> tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...]:
    """The sections of an analogy file, as (name, questions); read once while the file is unchanged
    (a trainer scores after every epoch)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise W2VError(f"analogy file {path} does not exist") from None
    return _read_analogies(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _read_analogies(path: str, mtime_ns: int, size: int) -> tuple:
    sections: list[tuple[str, list]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith(":"):
                    sections.append((line[1:].strip(), []))
                    continue
                parts = line.split()
                if len(parts) != 4:
                    raise W2VError(f"{Path(path).name} line {n}: expected 4 words 'a b c d', got {len(parts)}")
                if not sections:
                    sections.append(("questions", []))
                sections[-1][1].append(tuple(p.upper() for p in parts))
    except FileNotFoundError:
        raise W2VError(f"analogy file {path} does not exist") from None
    return tuple((name, tuple(questions)) for name, questions in sections)


def evaluate_analogies(wv: WordVectors, path: str | os.PathLike = DEFAULT_ANALOGIES,
                       restrict_vocab: int = 30000, batch: int = BATCH, every: int = 1) -> dict:
    """{accuracy, correct, total, skipped, sections: {name: {accuracy, correct, total}}}, over every
    `every`-th question of each section (1: all; a trainer's quick look between epochs)."""
    ok = _case_insensitive_index(wv, restrict_vocab)
    case_rows = _case_rows(wv, ok, restrict_vocab)
    unit = np.ascontiguousarray(wv.unit[:restrict_vocab], dtype=np.float32)
    counts, q, skipped = {}, [], 0
    for name, questions in read_analogies(path):
        questions = questions[::every]
        kept = [(ok[a], ok[b], ok[c], ok[d]) for a, b, c, d in questions
                if a in ok and b in ok and c in ok and d in ok]
        skipped += len(questions) - len(kept)
        counts[name] = len(kept)
        q += kept
    right = _answers_right(unit, np.array(q, dtype=np.int64).reshape(-1, 4), batch, case_rows)
    sections, at = {}, 0
    for name, n in counts.items():  # the questions are in section order
        correct = int(right[at:at + n].sum())
        sections[name] = {"correct": correct, "total": n, "accuracy": correct / n if n else None}
        at += n
    correct_all = int(right.sum())
    return {"accuracy": correct_all / len(q) if q else 0.0, "correct": correct_all,
            "total": len(q), "skipped": skipped, "sections": sections}


def _answers_right(unit: np.ndarray, q: np.ndarray, batch: int, case_rows: np.ndarray | None) -> np.ndarray:
    """Whether each question (a, b, c, d) is answered d: the best 3CosAdd candidate, the question
    words excluded (and with case variants, gensim's choice: see _answers); in blocks of `batch`
    questions whatever their sections."""
    right = np.zeros(len(q), dtype=bool)
    for s in range(0, len(q), batch):
        idx = q[s: s + batch]
        a, b, c, d = idx.T
        query = unit[b] - unit[a] + unit[c]  # 3CosAdd; scaling does not change the argmax
        scores = query @ unit.T  # (n, V), float32
        scores[np.arange(len(idx))[:, None], idx[:, :3]] = -np.inf  # the question words
        right[s: s + batch] = _answers(scores, idx[:, :3], case_rows) == d
    return right


def read_word_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    pairs = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.rstrip("\n").split("\t") if "\t" in line else line.split()
                try:
                    pairs.append((parts[0], parts[1], float(parts[2])))
                except (IndexError, ValueError):
                    raise W2VError(f"{Path(path).name} line {n}: expected 'word1<TAB>word2<TAB>score'") from None
    except FileNotFoundError:
        raise W2VError(f"similarity file {path} does not exist") from None
    return pairs


def spearman(x, y) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(x, y).statistic)


def evaluate_similarity(wv: WordVectors, path: str | os.PathLike = DEFAULT_SIMILARITY,
                        restrict_vocab: int = 300000) -> dict:
    """{spearman, pairs (used), total, coverage}."""
    ok = _case_insensitive_index(wv, restrict_vocab)
    pairs = read_word_pairs(path)
    human, model = [], []
    for a, b, score in pairs:
        a, b = a.upper(), b.upper()
        if a in ok and b in ok:
            human.append(score)
            model.append(float(wv.unit[ok[a]] @ wv.unit[ok[b]]))
    rho = spearman(human, model) if len(human) > 2 else float("nan")
    return {"spearman": rho, "pairs": len(human), "total": len(pairs),
            "coverage": len(human) / len(pairs) if pairs else 0.0}


def evaluate(wv: WordVectors, analogies: str | os.PathLike | None = DEFAULT_ANALOGIES,
             similarity: str | os.PathLike | None = DEFAULT_SIMILARITY, every: int = 1) -> dict:
    """Both benchmarks as one flat dict (the CLI's `evaluate --json`); `every` > 1 scores every
    `every`-th analogy question only (and says so: 'analogy_every')."""
    out: dict = {"analogy_every": every} if analogies and every > 1 else {}
    if analogies:
        a = evaluate_analogies(wv, analogies, every=every)
        out.update(analogy_accuracy=a["accuracy"], analogy_correct=a["correct"],
                   analogy_total=a["total"], analogy_skipped=a["skipped"],
                   analogy_sections={k: v["accuracy"] for k, v in a["sections"].items()})
    if similarity:
        s = evaluate_similarity(wv, similarity)
        out.update(similarity_spearman=s["spearman"], similarity_pairs=s["pairs"],
                   similarity_total=s["total"], similarity_coverage=s["coverage"])
    return out
