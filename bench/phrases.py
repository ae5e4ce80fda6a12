"""Phrase detection against gensim's `Phrases` on the same tokens: the phrase tokens each leaves in
the corpus it trains on (for 1 and 2 passes; gensim's second pass is `Phrases(first[sentences])`),
the first pass's scores, and how long each takes. Both see the corpus as w2v tokenises it, one
sentence per paragraph. (gensim's export_phrases re-scores a second pass's phrases from their
first and last words, so the rewritten corpora are what is compared.)

    python bench/phrases.py [--corpus data/text8-prefix.txt.gz] [--passes 2]

Appends one JSON line per pass count to bench/results/phrases.jsonl.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from w2v import phrases as P  # noqa: E402
from w2v.corpus import iter_token_blocks, scan_corpus  # noqa: E402


def sentences(corpus: str) -> list[list[str]]:
    """The corpus's paragraphs as token lists."""
    out, current = [], []
    for block in iter_token_blocks(corpus):
        for t in block:
            if t:
                current.append(t)
            elif current:
                out.append(current)
                current = []
    return out + ([current] if current else [])


def gensim_passes(sents, passes: int, threshold: float, min_count: int):
    """gensim's phrases after `passes` passes: (the first pass's export_phrases, the phrase tokens
    of the rewritten corpus)."""
    from gensim.models.phrases import Phrases
    first, stream = None, sents
    for _ in range(passes):
        model = Phrases(stream, threshold=threshold, min_count=min_count)
        first = first or model.export_phrases()
        stream = [model[s] for s in stream]
    return first, {w for s in stream for w in s if "_" in w}


def ours(corpus: str, settings: P.PhraseSettings):
    """w2v's phrases as training finds them: (the phrases found, the phrase tokens of the rewritten
    corpus)."""
    with tempfile.TemporaryDirectory() as tmp:
        vocab, stats = scan_corpus(corpus, Path(tmp, "ids"), min_count=1, phrases=settings)
    return stats.phrases, {w for w in vocab.words if "_" in w}


def share(part, whole) -> float:
    return round(len(part) / max(len(whole), 1), 4)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--threshold", type=float, default=10.0)
    p.add_argument("--min-count", type=int, default=5)
    a = p.parse_args()
    sents = sentences(a.corpus)
    for passes in range(1, a.passes + 1):
        t0 = time.time()
        found, our_tokens = ours(a.corpus, P.PhraseSettings(passes, a.threshold, a.min_count))
        t_ours = time.time() - t0
        t0 = time.time()
        first, their_tokens = gensim_passes(sents, passes, a.threshold, a.min_count)
        t_gensim = time.time() - t0
        common = our_tokens & their_tokens
        row = {"corpus": Path(a.corpus).name, "tokens": sum(map(len, sents)), "passes": passes,
               "threshold": a.threshold, "min_count": a.min_count,
               "gensim_phrase_tokens": len(their_tokens), "w2v_phrase_tokens": len(our_tokens),
               "gensim_found_by_w2v": share(common, their_tokens),
               "w2v_not_in_gensim": share(our_tokens - common, our_tokens),
               "w2v_seconds_with_reading": round(t_ours, 2), "gensim_seconds": round(t_gensim, 2),
               "load": round(os.getloadavg()[0], 1)}
        if passes == 1:  # the first pass's scores, phrase by phrase
            scores = {q.text: q.score for q in found}
            row["max_relative_score_difference"] = max((abs(scores[k] - v) / v for k, v in first.items()
                                                        if k in scores), default=0.0)
        print(json.dumps(row))
        with open(ROOT / "bench" / "results" / "phrases.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
