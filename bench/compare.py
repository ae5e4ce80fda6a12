"""Speed and quality, side by side in one sitting: w2v vs gensim vs the lecture's loop.

    python bench/compare.py                      # the sample corpus, dim 300, 5 epochs, 2 threads
    python bench/compare.py --corpus my.txt.gz --dim 100 --epochs 3 --systems w2v,gensim
    python bench/compare.py --mode cbow --dim 100 --epochs 3 --systems w2v,gensim,w2v:0.025,gensim:0.05
    python bench/compare.py --systems w2v,w2v-eval --repeat 2   # what --eval epoch costs

Every system trains as its own process, timed from launch to exit (imports, reading, vocabulary
and training all count), with its peak RSS from the kernel's accounting. Vectors are then scored by
the same evaluator (analogies restricted to the 30,000 most frequent words, WordSim-353 Spearman).
The lecture's loop is slow by design: it trains for --seed-seconds and its time is extrapolated.
Each system trains at its own default learning rate (ours: the --mode's default, gensim: 0.025);
a system written NAME:LR trains at LR instead, so both rates can be compared in one sitting.
Our runs use --eval none, as gensim evaluates nothing either; `w2v-eval` is the defaults with the
trainer's own --eval epoch (benchmarks between epochs), and the line under the table says what that
costs against `w2v`. Prints one JSON line per system, then a markdown table; --json-out also saves
the lines.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from w2v.evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY, evaluate  # noqa: E402
from w2v.runs import Run  # noqa: E402
from w2v.vectors import WordVectors  # noqa: E402


# A small launcher forks and execs the command, then reads the child's own peak RSS (wait4).
# Spawning the command straight from this process would count this process's memory too: the
# kernel carries the high-water mark of the forked copy over the exec.
_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Run cmd as its own process: (wall seconds, peak RSS in MB, stdout); its CPU seconds (user +
    system, every thread) go to CPU_SECONDS[-1]."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", _LAUNCHER, str(rss_file), *cmd], capture_output=True,
                           text=True, cwd=ROOT)
        seconds = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        rss, cpu = rss_file.read_text().split()
        CPU_SECONDS.append(round(float(cpu), 2))
        return seconds, int(rss) / 1024, p.stdout


CPU_SECONDS: list[float] = []


def scores(wv: WordVectors) -> dict:
    s = evaluate(wv, DEFAULT_ANALOGIES, DEFAULT_SIMILARITY)
    return {"analogy": round(s["analogy_accuracy"], 4), "ws353": round(s["similarity_spearman"], 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "text8-prefix.txt.gz"))
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--mode", choices=("skipgram", "cbow"), default="skipgram")
    p.add_argument("--systems", default="w2v,w2v-eval,w2v-pair,w2v-window,gensim,seed",
                   help="comma list of: w2v (the defaults, --noise pool, --eval none), w2v-eval (the defaults "
                        "with --eval epoch), w2v-pair, w2v-window, gensim, seed; NAME:LR trains NAME at "
                        "learning rate LR")
    p.add_argument("--seed-seconds", type=float, default=60, help="time box for the lecture's loop")
    p.add_argument("--repeat", type=int, default=1, help="run each system N times (interleaved)")
    p.add_argument("--json-out", help="also append the JSON lines to this file")
    a = p.parse_args()
    common = ["--dim", a.dim, "--window", a.window, "--negative", a.negative, "--min-count", a.min_count,
              "--sample", a.sample, "--epochs", a.epochs, "--threads", a.threads]
    common = [str(x) for x in common]
    py = sys.executable
    results = []
    tokens = pairs = None
    with tempfile.TemporaryDirectory(prefix="w2v-bench-") as tmp:
        for rep in range(a.repeat):
            for name in a.systems.split(","):
                system, _, lr = name.partition(":")
                row = {"system": name, "corpus": Path(a.corpus).name, "dim": a.dim, "epochs": a.epochs,
                       "threads": a.threads, "mode": a.mode, "lr": float(lr) if lr else None, "repeat": rep}
                if system.startswith("w2v"):
                    out = Path(tmp) / f"{name.replace(':', '-at-')}-{rep}"
                    variant = system.split("-", 1)[1] if "-" in system else ""
                    noise = variant if variant in ("pair", "window") else "pool"
                    row["eval"] = "epoch" if variant == "eval" else "none"
                    sec, rss, _ = run_measured([py, "-m", "w2v", "train", a.corpus, "--out", str(out), *common,
                                                "--mode", a.mode, *(["--lr", lr] if lr else []),
                                                "--noise", noise, "--eval", row["eval"], "--quiet"])
                    events, _ = Run(out).metrics()
                    tokens = next(e["tokens"] for e in events if e["event"] == "vocab")
                    pairs = [e for e in events if e["event"] == "step"][-1].get("pairs")
                    row.update(seconds=sec, cpu_seconds=CPU_SECONDS[-1], peak_rss_mb=rss,
                               **scores(WordVectors.from_run(out)))
                elif system == "gensim":
                    out = Path(tmp) / f"{name.replace(':', '-at-')}-{rep}.bin"
                    cbow = ["--cbow"] if a.mode == "cbow" else []
                    sec, rss, _ = run_measured([py, str(ROOT / "bench" / "gensim_train.py"), a.corpus,
                                                "--out", str(out), *common, *cbow, *(["--alpha", lr] if lr else [])])
                    row.update(seconds=sec, peak_rss_mb=rss, **scores(WordVectors.load_word2vec(out)))
                elif system == "seed" and a.mode == "cbow":
                    raise SystemExit("the lecture's loop trains skip-gram only: drop seed from --systems")
                elif system == "seed":
                    sec, rss, out = run_measured([py, str(ROOT / "bench" / "seed_loop.py"), a.corpus, *common,
                                                  "--seconds", str(a.seed_seconds)])
                    info = json.loads(out.strip().splitlines()[-1])
                    tokens = tokens or info["tokens"]
                    row.update(seconds=info["extrapolated_seconds"], peak_rss_mb=rss, analogy=None, ws353=None,
                               extrapolated=info["timed_out"], measured_seconds=sec)
                else:
                    raise SystemExit(f"unknown system {system!r}")
                results.append(row)
                print(f"# {name}: {row['seconds']:.1f} s", file=sys.stderr, flush=True)
    for row in results:
        row["raw_words_per_sec"] = round(tokens * a.epochs / row["seconds"])
        row["pairs_per_sec"] = round(pairs / row["seconds"]) if pairs else None
        row["seconds"] = round(row["seconds"], 2)
        row["peak_rss_mb"] = round(row["peak_rss_mb"])
        row["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
        print(json.dumps(row))
    if a.json_out:
        with open(a.json_out, "a") as f:
            for row in results:
                f.write(json.dumps(row) + "\n")
    g = [r for r in results if r["system"] == "gensim"]
    base = sum(r["raw_words_per_sec"] for r in g) / len(g) if g else None
    print("\n| system | seconds | raw words/s | vs gensim | pairs/s | peak RSS MB | analogy | WS353 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        rel = f"{r['raw_words_per_sec'] / base:.2f}×" if base else "–"
        name = r["system"] + (" (time-boxed, extrapolated)" if r.get("extrapolated") else "")
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"| {name} | {r['seconds']:.1f} | {r['raw_words_per_sec']:,} | {rel} | "
              f"{r['pairs_per_sec'] or 0:,} | {r['peak_rss_mb']:,} | {fmt(r['analogy'])} | {fmt(r['ws353'])} |")
    print()
    print_ratios(results)
    print_eval_cost(results)


def print_ratios(results: list[dict]) -> None:
    """Each system's speed against gensim repeat by repeat (gensim's seconds in that repeat over
    the system's), and their median: the figure a drifting machine moves least."""
    gensim = {r["repeat"]: r["seconds"] for r in results if r["system"] == "gensim"}
    for name in dict.fromkeys(r["system"] for r in results if r["system"] != "gensim"):
        ratios = [gensim[r["repeat"]] / r["seconds"] for r in results
                  if r["system"] == name and r["repeat"] in gensim and not r.get("extrapolated")]
        if ratios:
            print(f"{name} vs gensim, repeat by repeat: {', '.join(f'{x:.2f}×' for x in ratios)}; "
                  f"median {statistics.median(ratios):.2f}×")


def print_eval_cost(results: list[dict]) -> None:
    """What --eval epoch costs: w2v-eval's mean wall and CPU seconds against w2v's (--eval none),
    same sitting (on a shared machine the CPU seconds are the steadier measure)."""
    for key in ("seconds", "cpu_seconds"):
        mean = {s: [r[key] for r in results if r["system"] == s] for s in ("w2v", "w2v-eval")}
        if all(mean.values()):
            none, epoch = (sum(v) / len(v) for v in mean.values())
            print(f"--eval epoch: {epoch:.1f} {key.replace('_', ' ')} against {none:.1f} with --eval none: "
                  f"{epoch / none:.3f}× ({100 * (epoch / none - 1):+.1f} %)")


if __name__ == "__main__":
    main()
