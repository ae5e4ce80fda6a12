"""w2v studio: word2vec (skip-gram and CBOW with negative sampling) in PyTorch.

    from w2v import TrainConfig, train, WordVectors
    train("data/text8-prefix.txt.gz", "runs/text8", TrainConfig(dim=100))
    wv = WordVectors.from_run("runs/text8")
    wv.most_similar("france")

The names below are imported on first use (PEP 562), so `import w2v` costs nothing and loads
neither torch nor the trainer: the app's server imports the numpy-only modules (config, corpus,
runs, vectors, evaluate, projection, studio) and never pays for torch. Only `train`,
`SkipGramNeg` and `NegativeSamplingLoss` bring torch in.
"""

from __future__ import annotations

import importlib
import sys
import types

# public name -> the module that defines it
_WHERE = {
    "TrainConfig": "config",
    "train": "train",
    "WordVectors": "vectors",
    "SkipGramNeg": "model",
    "NegativeSamplingLoss": "model",
    "Vocab": "corpus",
    "tokenize": "corpus",
    "evaluate": "evaluate",
    "evaluate_analogies": "evaluate",
    "evaluate_similarity": "evaluate",
    "Run": "runs",
    "list_runs": "runs",
    "W2VError": "errors",
}

__all__ = ["TrainConfig", "train", "WordVectors", "SkipGramNeg", "NegativeSamplingLoss", "Vocab",
           "tokenize", "evaluate", "evaluate_analogies", "evaluate_similarity", "Run", "list_runs",
           "W2VError"]


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # once resolved, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """`w2v.train` and `w2v.evaluate` name both a function and its module. Importing a submodule
    binds it on its package, which would turn `from w2v import train` into the module once
    anything had imported w2v.train; here the package keeps the function, as the eager package
    did (the module stays in sys.modules, so `from w2v.train import ...` is unchanged)."""

    def __setattr__(self, name: str, value) -> None:
        if (_WHERE.get(name) == name and isinstance(value, types.ModuleType)
                and value.__name__ == f"{self.__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
