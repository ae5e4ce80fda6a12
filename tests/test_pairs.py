"""The torch engine's device-side input (w2v/pairs.py) against the numpy path it replaces, and its
training steps free of host syncs: checked with CUDA's sync debug mode where CUDA exists, and the
same code path run on the CPU everywhere."""

import contextlib

import numpy as np
import pytest
import torch

from w2v.config import TrainConfig
from w2v.corpus import AliasSampler, Vocab, make_pair_positions
from w2v.engines import TorchEngine
from w2v.pairs import DeviceChunk, NoiseSampler

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _raw(n: int, vocab: int, seed: int = 0) -> np.ndarray:
    """Zipf-like word ids with a paragraph break (-1) every ~40 words."""
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.3, n) - 1, vocab - 1).astype(np.int32)
    ids[rng.random(n) < 1 / 40] = -1
    return ids


@pytest.mark.parametrize("device", DEVICES)
def test_pairs_are_the_numpy_paths_pairs_in_centre_order(device):
    rng = np.random.default_rng(1)
    para = np.cumsum(rng.random(5000) < 0.05).astype(np.int32)
    windows = rng.integers(1, 6, 5000).astype(np.int32)
    chunk = DeviceChunk(torch.zeros(5000, dtype=torch.long, device=device), torch.from_numpy(para).to(device),
                        torch.from_numpy(windows).to(device))
    centre, context = (t.cpu().numpy() for t in chunk.pairs(5))
    c, x = make_pair_positions(para, windows)
    assert sorted(zip(centre, context)) == sorted(zip(c, x))
    assert np.all(np.diff(centre) >= 0)
    assert len(centre) > 20_000  # windows of 1..5 on 5,000 words: the test has pairs to compare


@pytest.mark.parametrize("device", DEVICES)
def test_build_keeps_each_word_with_its_keep_probability_and_drops_boundaries(device):
    raw = _raw(200_000, 50)
    keep = np.linspace(0.1, 1.0, 50).astype(np.float32)
    g = torch.Generator(device).manual_seed(3)
    chunk = DeviceChunk.build(raw, torch.from_numpy(keep).to(device), 5, g)
    ids = chunk.ids.cpu().numpy()
    assert ids.min() >= 0 and chunk.para.shape == chunk.ids.shape == chunk.windows.shape
    w = chunk.windows.cpu().numpy()
    assert w.min() == 1 and w.max() == 5
    words = raw[raw >= 0]
    for word in (0, 1, 2):  # frequent words: kept share close to keep[word]
        share = (ids == word).sum() / (words == word).sum()
        assert abs(share - keep[word]) < 0.03, (word, share, keep[word])
    para = chunk.para.cpu().numpy()  # paragraph numbers follow the -1s of the raw chunk
    assert np.all(np.diff(para) >= 0) and para.max() == (raw < 0).sum() - (raw[-1] < 0)


@pytest.mark.parametrize("device", DEVICES)
def test_noise_draws_follow_the_unigram_075_distribution(device):
    counts = np.array([1000, 400, 100, 50, 10, 1], dtype=np.float64)
    p = counts ** 0.75 / (counts ** 0.75).sum()
    a = AliasSampler(p)
    draws = NoiseSampler(a.prob, a.alias, torch.device(device)).draw((400_000,), torch.Generator(device).manual_seed(0))
    freq = np.bincount(draws.cpu().numpy(), minlength=len(p)) / 400_000
    np.testing.assert_allclose(freq, p, atol=0.004)


def _engine(device: str, mode: str, noise: str = "pair") -> TorchEngine:
    vocab = Vocab.from_counts([f"w{i}" for i in range(300)], np.maximum(100_000 // np.arange(1, 301), 5), min_count=1)
    cfg = TrainConfig(dim=32, device=device, threads=1, engine="torch", mode=mode, noise=noise, batch_size=2048)
    return TorchEngine(cfg, vocab)


@contextlib.contextmanager
def _no_host_sync(device: str):
    """Where CUDA exists, any host sync inside raises; on the CPU there is nothing to sync."""
    if device != "cuda":
        yield
        return
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,noise", [("skipgram", "pair"), ("skipgram", "window"), ("cbow", "pair")])
def test_training_steps_never_wait_for_the_device_and_the_loss_falls(device, mode, noise):
    engine = _engine(device, mode, noise)
    raw = _raw(60_000, 300)
    keep = np.ones(300, np.float32)
    losses = []
    for epoch in range(3):
        chunk = engine.prepare(raw, keep, (0, epoch, 0))
        g = engine._generator((1, epoch))
        centre, context = chunk.pairs(engine.cfg.window)
        steps = engine.window_steps(centre, len(chunk)) if mode == "cbow" else None
        with _no_host_sync(device):
            if mode == "cbow":
                sums = engine.cbow_steps(chunk, centre, context, steps, 0.025, 0.02, g)
            else:
                sums = engine.skipgram_steps(chunk, centre, context, 0.025, 0.02, g)
        n = len(chunk) if mode == "cbow" else centre.shape[0]
        losses.append(sum(sums.tolist()) / n)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] * 0.97, losses
    assert bool(torch.isfinite(engine.in_w).all()) and float(engine.out_w.abs().sum()) > 0


def test_a_host_built_chunk_trains_as_a_device_built_one():
    """train() takes the base engine's numpy chunk too (moved to the device once)."""
    engine = _engine("cpu", "skipgram")
    from w2v.engines import Engine
    chunk = Engine.prepare(engine, _raw(20_000, 300), np.ones(300, np.float32), (0, 0, 0))
    loss = engine.train(chunk, 0.025, 0.02, seed=5)
    assert loss.pairs > 0 and np.isfinite(loss.pos) and np.isfinite(loss.neg)
