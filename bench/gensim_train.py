"""Train gensim's Word2Vec on a corpus and save its vectors: the reference for bench/compare.py.

Run as its own process so that its whole wall time (imports, reading, vocabulary, training) is
measured the same way as `python -m w2v train`.
"""

import argparse
import logging

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

p = argparse.ArgumentParser()
p.add_argument("corpus")
p.add_argument("--out", required=True, help="word2vec binary file to write")
p.add_argument("--dim", type=int, default=100)
p.add_argument("--window", type=int, default=5)
p.add_argument("--negative", type=int, default=5)
p.add_argument("--min-count", type=int, default=5)
p.add_argument("--sample", type=float, default=1e-3)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--cbow", action="store_true")
p.add_argument("--alpha", type=float, default=0.025, help="starting learning rate (gensim's default 0.025)")
a = p.parse_args()
logging.basicConfig(level=logging.WARNING)
model = Word2Vec(LineSentence(a.corpus), vector_size=a.dim, window=a.window, negative=a.negative,
                 min_count=a.min_count, sample=a.sample, epochs=a.epochs, workers=a.threads,
                 seed=a.seed, sg=0 if a.cbow else 1, hs=0, alpha=a.alpha)
model.wv.save_word2vec_format(a.out, binary=True)
