"""The lecture notebook's training loop, kept as the baseline the benchmark compares against.

Python lists build the batches (get_target / get_batches, one Python call per word), the model is
w2v's SkipGramNeg with the lecture's uniform(-1, 1) init, NegativeSamplingLoss through autograd,
and Adam updates the full tables every step. It is slow by design: run it time-boxed and
extrapolate (--seconds), as bench/compare.py does.
"""

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from w2v.corpus import iter_token_blocks  # noqa: E402
from w2v.model import NegativeSamplingLoss, SkipGramNeg  # noqa: E402


def get_target(words, idx, window_size=5):
    R = np.random.randint(1, window_size + 1)
    start = idx - R if (idx - R) > 0 else 0
    stop = idx + R
    return list(words[start:idx] + words[idx + 1:stop + 1])


def get_batches(words, batch_size, window_size=5):
    n_batches = len(words) // batch_size
    words = words[:n_batches * batch_size]
    for idx in range(0, len(words), batch_size):
        x, y = [], []
        batch = words[idx:idx + batch_size]
        for ii in range(len(batch)):
            batch_x = batch[ii]
            batch_y = get_target(batch, ii, window_size)
            y.extend(batch_y)
            x.extend([batch_x] * len(batch_y))
        yield x, y


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("corpus")
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--seconds", type=float, default=60, help="stop training after this long and extrapolate")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t_start = time.time()
    words = [w for block in iter_token_blocks(a.corpus) for w in block if w]
    counts = Counter(words)
    vocab = sorted((w for w in counts if counts[w] >= a.min_count), key=counts.get, reverse=True)
    vocab_to_int = {w: i for i, w in enumerate(vocab)}
    int_words = [vocab_to_int[w] for w in words if w in vocab_to_int]
    total = len(int_words)
    freqs = {w: c / total for w, c in Counter(int_words).items()}
    p_drop = {w: 1 - np.sqrt(a.sample / freqs[w]) for w in freqs}
    word_freqs = np.array([freqs[i] for i in range(len(vocab))])
    unigram = word_freqs ** 0.75
    model = SkipGramNeg(len(vocab), a.dim, torch.from_numpy(unigram / unigram.sum()), init="seed")
    criterion = NegativeSamplingLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    setup = time.time() - t_start
    t0 = time.time()
    raw_done = 0
    steps = 0
    timed_out = False
    for _ in range(a.epochs):
        train_words = [w for w in int_words if random.random() < (1 - p_drop[w])]
        raw_per_kept = len(words) / max(len(train_words), 1)
        for input_words, target_words in get_batches(train_words, 512, a.window):
            inputs, targets = torch.LongTensor(input_words), torch.LongTensor(target_words)
            loss = criterion(model.forward_input(inputs), model.forward_output(targets),
                             model.forward_noise(inputs.shape[0], a.negative))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            raw_done += 512 * raw_per_kept
            steps += 1
            if time.time() - t0 > a.seconds:
                timed_out = True
                break
        if timed_out:
            break
    train_time = time.time() - t0
    rate = raw_done / train_time
    total_raw = len(words) * a.epochs
    print(json.dumps({"setup_seconds": setup, "train_seconds": train_time, "raw_words_done": raw_done,
                      "train_words_per_sec": rate, "timed_out": timed_out, "steps": steps,
                      "extrapolated_seconds": setup + total_raw / rate, "tokens": len(words),
                      "loss": float(loss.detach())}))


if __name__ == "__main__":
    main()
