"""Phrase detection against gensim's `Phrases` on the same tokens: which bigrams each finds, how
their scores compare, and how long each takes, for 1 and 2 passes (gensim's second pass is
`Phrases(first[sentences])`). Both see the corpus as w2v tokenises it, one sentence per paragraph.

    python bench/phrases.py [--corpus data/text8-prefix.txt.gz] [--passes 2]

Appends one JSON line per pass count to bench/results/phrases.jsonl.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from w2v import phrases as P  # noqa: E402
from w2v.corpus import iter_token_blocks  # noqa: E402


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


def gensim_phrases(sents, passes: int, threshold: float, min_count: int) -> dict[str, float]:
    from gensim.models.phrases import Phrases
    found, stream = {}, sents
    for _ in range(passes):
        model = Phrases(stream, threshold=threshold, min_count=min_count)
        found.update(model.export_phrases())
        stream = [model[s] for s in stream]
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--threshold", type=float, default=10.0)
    p.add_argument("--min-count", type=int, default=5)
    a = p.parse_args()
    sents = sentences(a.corpus)
    n_tokens = sum(map(len, sents))
    for passes in range(1, a.passes + 1):
        settings = P.PhraseSettings(passes, a.threshold, a.min_count)
        t0 = time.time()
        ours, _ = P.find(([*s, ""] for s in sents), settings, max_tokens=n_tokens + len(sents))
        t_ours = time.time() - t0
        t0 = time.time()
        theirs = gensim_phrases(sents, passes, a.threshold, a.min_count)
        t_gensim = time.time() - t0
        ours = {q.text: q.score for q in ours}
        common = set(ours) & set(theirs)
        row = {"corpus": Path(a.corpus).name, "tokens": n_tokens, "passes": passes, "threshold": a.threshold,
               "min_count": a.min_count, "gensim_phrases": len(theirs), "w2v_phrases": len(ours),
               "gensim_found_by_w2v": round(len(common) / max(len(theirs), 1), 4),
               "w2v_not_in_gensim": round(len(set(ours) - common) / max(len(ours), 1), 4),
               "max_score_difference": max((abs(ours[k] - theirs[k]) for k in common), default=0.0),
               "w2v_seconds": round(t_ours, 2), "gensim_seconds": round(t_gensim, 2),
               "load": os.getloadavg()[0]}
        print(json.dumps(row))
        with open(ROOT / "bench" / "results" / "phrases.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
