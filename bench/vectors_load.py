"""How long the most frequent words of a big vectors text file take to load: a generated file of
about 1 GB (word2vec text, 300 dimensions, six decimals a number, as GloVe and fastText write),
its first --words read by `WordVectors.load(path, limit=N)` and, side by side in the same sitting,
by gensim's `KeyedVectors.load_word2vec_format(path, limit=N)`; each in its own process, timed
inside it (imports apart), with its CPU seconds and the machine's load average.

    python bench/vectors_load.py [--file /tmp/w2v-vectors-1g.txt] [--size-mb 1024] [--words 100000]

The file is written once where --file says (not in the project) and reused by later runs.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "vectors_load.jsonl"
DIM = 300

LOADERS = {
    "w2v": "from w2v.vectors import WordVectors as W; load = lambda p, n: W.load(p, limit=n)",
    "gensim": "from gensim.models import KeyedVectors as K; load = lambda p, n: K.load_word2vec_format(p, limit=n)",
}
TIMED = """
import os, resource, sys, time
{imports}
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
wv = load(sys.argv[1], int(sys.argv[2]))
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print(f"{{len(wv)}} {{t1 - t0:.3f}} {{cpu:.3f}} {{os.getloadavg()[0]:.2f}}")
"""


def make_file(path: Path, size_mb: int) -> int:
    """A word2vec text file of about size_mb MiB: 10,000 distinct random rows repeated under new
    words. Returns its number of words."""
    rng = np.random.default_rng(0)
    rows = [" ".join(f"{x:.6f}" for x in r) for r in rng.normal(0, 0.3, size=(10_000, DIM))]
    per_row = sum(len(r) for r in rows) / len(rows) + 10
    n = int(size_mb * 2**20 / per_row) // 10_000 * 10_000
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w") as f:
        f.write(f"{n} {DIM}\n")
        for k in range(n // 10_000):
            f.writelines(f"w{k}_{i} {r}\n" for i, r in enumerate(rows))
    tmp.rename(path)
    return n


def timed(system: str, path: Path, words: int) -> dict:
    code = TIMED.format(imports=LOADERS[system])
    out = subprocess.run([sys.executable, "-c", code, str(path), str(words)], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    loaded, seconds, cpu, load = int(out[0]), float(out[1]), float(out[2]), float(out[3])
    return {"system": system, "words": loaded, "seconds": seconds, "cpu_seconds": cpu, "load_avg": load}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", default="/tmp/w2v-vectors-1g.txt")
    p.add_argument("--size-mb", type=int, default=1024)
    p.add_argument("--words", type=int, default=100_000)
    p.add_argument("--systems", default="w2v,gensim")
    a = p.parse_args()
    path = Path(a.file)
    if not path.exists():
        print(f"writing {path} ({a.size_mb} MiB)…", file=sys.stderr)
        make_file(path, a.size_mb)
    size = path.stat().st_size
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for system in a.systems.split(","):
        row = {"bench": "vectors_load", "file_bytes": size, "dim": DIM, "limit": a.words,
               "cores": os.cpu_count(), "machine": platform.machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
               **timed(system, path, a.words)}
        print(json.dumps(row))
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
