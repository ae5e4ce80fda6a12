"""The model's two tables as training starts them: numpy, so the kernel engine never needs torch.

    in_w, out_w = initial_tables(len(vocab), 300, "word2vec", seed=1)

    "word2vec"  input table uniform in ±0.5/dim, output table zero (word2vec.c; gensim 4 draws
                its input table in ±1/dim: on the sample corpus at dim 300 that width scored
                0.079 and 0.076 in analogies against 0.080 and 0.077 here, two seeds each)
    "seed"      both tables uniform in (-1, 1), the lecture's choice (the teaching baseline)

Every engine starts from these (the torch engines copy them onto their device), so one seed
starts the same tables whichever engine trains them.
"""

from __future__ import annotations

import numpy as np

INITS = ("word2vec", "seed")


def initial_tables(n_vocab: int, dim: int, init: str = "word2vec",
                   seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(in_w, out_w), float32 (n_vocab, dim), drawn from `seed` (None: fresh entropy)."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: use 'word2vec' or 'seed'")
    rng = np.random.default_rng(seed)
    shape = (n_vocab, dim)
    if init == "seed":
        return _uniform(rng, shape, 1.0), _uniform(rng, shape, 1.0)
    return _uniform(rng, shape, 0.5 / dim), np.zeros(shape, np.float32)


def _uniform(rng: np.random.Generator, shape: tuple[int, int], half: float) -> np.ndarray:
    """Uniform in (-half, half), float32, made in place (no float64 copy of a large table)."""
    t = rng.random(shape, dtype=np.float32)
    t -= 0.5
    t *= 2 * half
    return t
