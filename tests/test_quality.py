"""Quality floors on real text: every engine and mode must learn word similarity from a prefix of
the bundled sample about as well as gensim (for the kernel) or the kernel (for the torch engine,
at the batch size it uses on a GPU) does on the same text."""

import gzip

import pytest

from conftest import ROOT
from w2v import kernel
from w2v.evaluate import evaluate_similarity
from w2v.train import TrainConfig, train
from w2v.vectors import WordVectors

TOKENS = 300_000  # the first 300k tokens of data/text8-prefix.txt.gz: a vocabulary of 6,110 words
SETTINGS = dict(dim=50, lr=0.05, epochs=5, eval="none")  # the rest are the defaults (skip-gram,
# window 5, 5 noise words, sample 1e-3, min_count 5, min_lr 1e-4)

# WordSim-353 Spearman (w2v.evaluate, 189 of the 353 pairs covered) of gensim 4.4 on the same
# prefix with the same settings (Word2Vec(sg=1, hs=0, vector_size=50, window=5, negative=5,
# min_count=5, sample=1e-3, alpha=0.05, min_alpha=1e-4, epochs=5, workers=2), the text cut into
# sentences of 10,000 tokens): 0.359-0.375 over seeds 1-5, mean 0.368. Our kernel scores
# 0.30-0.34 with two threads (Hogwild: it varies from run to run). A broken trainer falls far
# lower: 1 epoch scores 0.17, a tenth of the learning rate 0.09, window 1 0.10.
GENSIM_SPEARMAN = 0.368
FLOOR = GENSIM_SPEARMAN - 0.10


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        words = f.read(TOKENS * 8).split()[:TOKENS]
    assert len(words) == TOKENS
    path = tmp_path_factory.mktemp("quality") / "prefix.txt"
    path.write_text(" ".join(words) + "\n")
    return path


@pytest.mark.skipif(kernel.load() is None, reason="no C++ compiler: the kernel cannot be built")
def test_kernel_learns_word_similarity_near_gensim(prefix, tmp_path):
    status = train(prefix, tmp_path / "run", TrainConfig(**SETTINGS))
    assert status["state"] == "finished" and status["engine"] == "kernel"
    sim = evaluate_similarity(WordVectors.from_run(tmp_path / "run"))
    assert sim["pairs"] == 189  # the same pairs gensim was scored on
    assert sim["spearman"] > FLOOR, f"WordSim-353 Spearman {sim['spearman']:.3f} below {FLOOR:.3f}"


# The kernel on the same prefix and settings scores 0.30-0.34 in skip-gram and 0.23-0.25 in CBOW
# (two threads, seeds 1-3). The torch engine at 65,536 pairs a batch, the CUDA default, must come
# within 0.03 of the kernel's low end in skip-gram and 0.08 in CBOW: its CBOW scores 0.17-0.21
# here (seeds 1-3; chunks built by torch ops), a little below the kernel's at this rate (on the
# whole sample at --lr 0.05, WordSim 0.334 against the kernel's 0.375; at 0.025 it matches). Before
# each step bounded how far a row repeated in it may move, the engine reached NaN here, and below
# 0.10 at 4,096 pairs.
TORCH_FLOORS = {"skipgram": 0.30 - 0.03, "cbow": 0.23 - 0.08}

# CBOW at its own default learning rate (0.05, word2vec.c's; the other settings as above): the
# kernel scores 0.229-0.247 over seeds 1-3, gensim's CBOW (sg=0, cbow_mean=1) on the same prefix
# 0.212-0.259 at alpha 0.05 and 0.117-0.181 at its default alpha 0.025. Trained at skip-gram's
# 0.025, as CBOW was before it had a rate of its own, the kernel scores 0.173 at seed 1 (0.17-0.22).
KERNEL_CBOW_FLOOR = 0.20


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_torch_engine_at_its_gpu_batch_size_learns_as_the_kernel_does(prefix, tmp_path, mode):
    cfg = TrainConfig(**SETTINGS, mode=mode, engine="torch", device="cpu", batch_size=1 << 16)
    status = train(prefix, tmp_path / "run", cfg)
    assert status["state"] == "finished" and status["engine"] == "torch"
    sim = evaluate_similarity(WordVectors.from_run(tmp_path / "run"))["spearman"]
    assert sim > TORCH_FLOORS[mode], f"WordSim-353 Spearman {sim:.3f} below {TORCH_FLOORS[mode]:.3f}"


@pytest.mark.skipif(kernel.load() is None, reason="no C++ compiler: the kernel cannot be built")
def test_kernel_cbow_at_its_default_rate_learns_word_similarity_as_gensim_does(prefix, tmp_path):
    cfg = TrainConfig(**{k: v for k, v in SETTINGS.items() if k != "lr"}, mode="cbow")
    assert cfg.lr == 0.05
    status = train(prefix, tmp_path / "run", cfg)
    assert status["state"] == "finished" and status["engine"] == "kernel"
    sim = evaluate_similarity(WordVectors.from_run(tmp_path / "run"))["spearman"]
    assert sim > KERNEL_CBOW_FLOOR, f"WordSim-353 Spearman {sim:.3f} below {KERNEL_CBOW_FLOOR:.3f}"
