"""Paired A/B of two builds of the kernel: which is faster, on a machine whose speed wanders.

On a shared 2-core machine the same kernel epoch measured anywhere between 3.6 and 5.5 s within an
hour, so two builds timed one after the other tell nothing about a 5-10 % change. This builds the
kernel of a git revision (`--base`, default HEAD) and the working tree's, then alternates short
runs of each, each build going first in every other round: two chunks of the sample corpus, split
into three calls as the trainer makes them (dim 300, window 5, negative 5, sample 1e-3, the default
--noise pool). It reports the median of each build's seconds and the median of the per-round
ratios (new ÷ base), which cancels the machine's drift between rounds.

    python bench/kernel_ab.py                      # the working tree against HEAD
    python bench/kernel_ab.py --base 7e33ce3 --rounds 12 --threads 2

Prints one JSON line and appends it to bench/results/kernel_ab.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from scaling import chunks  # noqa: E402
from w2v import kernel  # noqa: E402
from w2v.corpus import AliasSampler  # noqa: E402
from w2v.tables import initial_tables  # noqa: E402


def build(source: str, out: Path):
    """Compile kernel source text into `out` with the trainer's own flags; the loaded library."""
    src = out.with_suffix(".cpp")
    src.write_text(source)
    cxx = kernel.compiler()
    if cxx is None:
        raise SystemExit("no C++ compiler found (install g++)")
    subprocess.run([cxx, *kernel.flags(True), str(src), "-o", str(out)], check=True)
    return kernel.bind(out)


def seconds(lib, vocab, work, tables, dim: int, threads: int) -> float:
    """One round: the chunks of `work` from copies of `tables`, three kernel calls a chunk."""
    alias = AliasSampler(vocab.noise_dist(0.75))
    in_w, out_w = (t.copy() for t in tables)
    start = time.perf_counter()
    for n, (ids, para, windows) in enumerate(work):
        cut = np.linspace(0, len(ids), 4).astype(int)
        for r in range(3):
            part = slice(cut[r], cut[r + 1])
            kernel.train_chunk(lib, in_w, out_w, ids[part], para[part], windows[part], alias.prob, alias.alias,
                               5, False, 0.025, 0.025, threads, 3 * n + r, noise_pool=2)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="HEAD", help="git revision whose w2v/_kernel.cpp is the base")
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--chunks", type=int, default=2, help="chunks a round trains (from the corpus's third on)")
    p.add_argument("--dim", type=int, default=300)
    a = p.parse_args()
    base_src = subprocess.run(["git", "show", f"{a.base}:w2v/_kernel.cpp"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    vocab, work = chunks(a.corpus, 5, 1e-3)
    work = work[2:2 + a.chunks]
    tables = initial_tables(len(vocab), a.dim, "word2vec", seed=1)
    times: dict[str, list[float]] = {"base": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="w2v-kernel-ab-") as tmp:
        libs = {"base": build(base_src, Path(tmp) / "base.so"),
                "new": build(kernel.SOURCE.read_text(), Path(tmp) / "new.so")}
        for r in range(a.rounds):
            for name in ("base", "new") if r % 2 == 0 else ("new", "base"):  # neither always goes first
                times[name].append(seconds(libs[name], vocab, work, tables, a.dim, a.threads))
    ratios = [n / b for n, b in zip(times["new"], times["base"])]
    row = {"base": a.base, "threads": a.threads, "rounds": a.rounds, "chunks": a.chunks, "dim": a.dim,
           "base_median_s": round(statistics.median(times["base"]), 3),
           "new_median_s": round(statistics.median(times["new"]), 3),
           "new_over_base": round(statistics.median(ratios), 3),
           "ratios_q1_q3": [round(float(q), 3) for q in np.percentile(ratios, [25, 75])],
           "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    print(json.dumps(row))
    with open(ROOT / "bench" / "results" / "kernel_ab.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
