"""How the kernel scales with threads: one epoch of the sample corpus (dim 300, window 5,
negative 5, sample 1e-3, the default --noise pool) trained on the same chunks with 1, 2, 4, ...
threads, each count timed `--repeat` times, interleaved so that a machine's drift hits every count
alike. Only the kernel is timed: reading the corpus and drawing the chunks happen once, before.

    python bench/scaling.py                       # 1 and 2 threads (the 2-core machine)
    python bench/scaling.py --threads 1 2 4 8 16  # a bigger machine

Prints one JSON line per thread count (best and median seconds, words/s, speed-up over one
thread, parallel efficiency) and appends them to bench/results/scaling.jsonl, then what
Amdahl's law makes of the 1- and 2-thread figures for 4, 8 and 16 threads: the fraction of the
work that did not parallelise (f = 2/S2 - 1, which lumps together every loss to contention) and
S(n) = 1 / (f + (1 - f)/n). Hogwild threads contend for the rows of frequent words, so more
threads lose more than a fixed fraction: the model is an upper bound, to compare with a measured
run where a machine with more cores is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from w2v import kernel  # noqa: E402
from w2v.corpus import AliasSampler, count_chunks, read_chunk, reduced_windows, scan_corpus, subsample  # noqa: E402
from w2v.tables import initial_tables  # noqa: E402
from w2v.train import CHUNK_TOKENS  # noqa: E402


def chunks(corpus: str, window: int, sample: float):
    """The vocabulary and one epoch's chunks (ids, paragraphs, reduced windows), drawn once."""
    with tempfile.TemporaryDirectory(prefix="w2v-scaling-") as tmp:
        ids = Path(tmp) / "corpus.ids"
        vocab, _ = scan_corpus(corpus, ids)
        keep, rng = vocab.keep_prob(sample), np.random.default_rng(0)
        out = []
        for c in range(count_chunks(ids, CHUNK_TOKENS)):
            kept, para = subsample(read_chunk(ids, c, CHUNK_TOKENS), keep, rng)
            out.append((kept, para, reduced_windows(len(kept), window, rng)))
    return vocab, out


def epoch_seconds(lib, vocab, work, dim: int, negative: int, threads: int, lr: float = 0.025) -> float:
    """Seconds the kernel takes to train every chunk once on `threads` threads, from fresh tables."""
    alias = AliasSampler(vocab.noise_dist(0.75))
    in_w, out_w = initial_tables(len(vocab), dim, "word2vec", seed=1)
    start = time.perf_counter()
    for n, (ids, para, windows) in enumerate(work):
        kernel.train_chunk(lib, in_w, out_w, ids, para, windows, alias.prob, alias.alias, negative, False,
                           lr, lr, threads, n, noise_pool=2)
    return time.perf_counter() - start


def amdahl(s2: float, counts=(4, 8, 16)) -> dict:
    """Amdahl's law fitted to the 2-thread speed-up: {threads: modelled speed-up}."""
    f = min(max(2 / s2 - 1, 0.0), 1.0)
    return {"serial_fraction": round(f, 3), **{str(n): round(1 / (f + (1 - f) / n), 2) for n in counts}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--json-out", default=str(ROOT / "bench" / "results" / "scaling.jsonl"))
    a = p.parse_args()
    lib = kernel.load()
    if lib is None:
        raise SystemExit("the C++ kernel did not build here (install g++)")
    vocab, work = chunks(a.corpus, 5, 1e-3)
    words = sum(len(c[0]) for c in work)
    times: dict[int, list[float]] = {n: [] for n in a.threads}
    for _ in range(a.repeat):
        for n in a.threads:
            times[n].append(epoch_seconds(lib, vocab, work, a.dim, a.negative, n))
    base = min(times[min(a.threads)]) * min(a.threads)
    rows = []
    for n in a.threads:
        best = min(times[n])
        rows.append({"bench": "scaling", "threads": n, "cpus": os.cpu_count(), "machine": platform.processor()
                     or platform.machine(), "dim": a.dim, "words": words, "best_s": round(best, 3),
                     "median_s": round(statistics.median(times[n]), 3), "words_per_s": round(words / best),
                     "speedup": round(base / best, 2), "efficiency": round(base / best / n, 2),
                     "load": [round(x, 2) for x in os.getloadavg()], "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    for r in rows:
        print(json.dumps(r))
    by = {r["threads"]: r for r in rows}
    if 1 in by and 2 in by:
        print(json.dumps({"bench": "scaling_model", "amdahl_from_1_and_2": amdahl(by[2]["speedup"])}))
    if a.json_out:
        with open(a.json_out, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
