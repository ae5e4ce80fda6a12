"""Peak memory does not grow with the corpus: train on the sample and on the sample repeated N
times (default 10) and compare the peak RSS of the two `python -m w2v train` processes.

The repeated corpus would keep more words at the same --min-count (every word occurs N times as
often), so its vocabulary is capped at the sample's size: both runs hold the same two tables and
only the corpus length differs.

    python bench/memory.py [--times 10] [--dim 300] [--epochs 1]
"""

import argparse
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from compare import run_measured  # noqa: E402
from w2v.runs import Run  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--times", type=int, default=10)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="w2v-mem-") as tmp:
        big = Path(tmp) / f"corpus-x{a.times}.txt"
        with open(big, "wb") as out:
            for _ in range(a.times):
                with gzip.open(a.corpus, "rb") as f:
                    shutil.copyfileobj(f, out)
                out.write(b"\n")
        max_vocab = 0
        for label, corpus in (("x1", a.corpus), (f"x{a.times}", str(big))):
            sec, rss, _ = run_measured([sys.executable, "-m", "w2v", "train", corpus, "--out", f"{tmp}/{label}",
                                        "--dim", str(a.dim), "--epochs", str(a.epochs), "--threads",
                                        str(a.threads), "--eval", "none", "--quiet", "--max-vocab", str(max_vocab)])
            events, _ = Run(f"{tmp}/{label}").metrics()
            vocab = next(e for e in events if e["event"] == "vocab")
            max_vocab = vocab["vocab_size"]
            rows.append({"corpus": label, "tokens": vocab["tokens"], "vocab_size": max_vocab,
                         "seconds": round(sec, 1), "peak_rss_mb": round(rss)})
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"rss_ratio": round(rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 3)}))


if __name__ == "__main__":
    main()
