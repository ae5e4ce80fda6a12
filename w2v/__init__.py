"""w2v studio: word2vec (skip-gram and CBOW with negative sampling) in PyTorch.

    from w2v import TrainConfig, train, WordVectors
    train("data/text8-prefix.txt.gz", "runs/text8", TrainConfig(dim=100))
    wv = WordVectors.from_run("runs/text8")
    wv.most_similar("france")
"""

from .corpus import Vocab, tokenize
from .errors import W2VError
from .evaluate import evaluate, evaluate_analogies, evaluate_similarity
from .model import NegativeSamplingLoss, SkipGramNeg
from .runs import Run, list_runs
from .train import TrainConfig, train
from .vectors import WordVectors

__all__ = ["TrainConfig", "train", "WordVectors", "SkipGramNeg", "NegativeSamplingLoss", "Vocab",
           "tokenize", "evaluate", "evaluate_analogies", "evaluate_similarity", "Run", "list_runs",
           "W2VError"]
