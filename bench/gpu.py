"""The torch engine on a GPU: words/s and quality at dim 300 on the sample corpus, in under 5 minutes.

    python bench/gpu.py                        # cuda, the sample corpus repeated 4 times, 1 epoch
    python bench/gpu.py --repeat 8 --batch-size 262144
    python bench/gpu.py --device cpu --repeat 1 # the same path on a CPU (slow; checks the script)

The corpus is the bundled sample (2.1 M words) written `--repeat` times into one file, so a run is
long enough for the start-up to matter little; the trainer runs as its own process
(`python -m w2v train --engine torch --device cuda ... --eval none`), then the vectors are scored by
the same evaluator as bench/compare.py. The goal is 10 M raw words/s on one H100. Prints one JSON
line (appended to bench/results/gpu.jsonl) with the card, the words/s the trainer measured and the
wall-clock figure, analogy accuracy and WordSim-353.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from w2v.evaluate import evaluate  # noqa: E402
from w2v.runs import Run  # noqa: E402
from w2v.vectors import WordVectors  # noqa: E402

GOAL_WORDS_PER_SEC = 10_000_000


def card(device: str) -> str:
    """The GPU's name as nvidia-smi gives it, or the device asked for."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else device
    except (OSError, subprocess.TimeoutExpired):
        return device


def torch_version() -> str:
    import torch
    return torch.__version__


def repeated_sample(folder: Path, repeat: int, words: int = 0) -> Path:
    text = gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt", encoding="utf-8").read().strip()
    if words:
        text = " ".join(text.split()[:words])
    path = folder / f"sample-x{repeat}.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(repeat):
            f.write(text + "\n\n")
    return path


def time_steps(device: str, dim: int, pairs: int, vocab: int = 70_000, steps: int = 300) -> dict:
    """The skip-gram SGD step alone (sgns_pairs_step on `pairs` pairs, K = 5): microseconds per
    step and pairs/s, after a warm-up, with the device synchronised only at the ends."""
    import torch
    from w2v.model import sgns_pairs_step
    dev = torch.device(device)
    in_w = (torch.rand(vocab, dim, device=dev) - 0.5) / dim
    out_w = torch.zeros(vocab, dim, device=dev)
    g = torch.Generator(dev).manual_seed(0)
    draw = lambda *shape: torch.randint(0, vocab, shape, generator=g, device=dev)  # noqa: E731
    batches = [(draw(pairs), draw(pairs), draw(pairs, 5)) for _ in range(8)]
    for x, c, n in batches:
        sgns_pairs_step(in_w, out_w, x, c, n, 0.025)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for k in range(steps):
        x, c, n = batches[k % len(batches)]
        sgns_pairs_step(in_w, out_w, x, c, n, 0.025)
    sync()
    seconds = time.perf_counter() - t0
    return {"what": "step", "device": device, "dim": dim, "pairs": pairs, "steps": steps,
            "us_per_step": round(1e6 * seconds / steps, 1), "pairs_per_sec": round(pairs * steps / seconds)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--repeat", type=int, default=4, help="copies of the sample corpus (default 4)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=0, help="pairs per batch (default: the engine's)")
    p.add_argument("--words", type=int, default=0, help="use only this many words of the sample (0 = all)")
    p.add_argument("--mode", default="skipgram", choices=["skipgram", "cbow"])
    p.add_argument("--timeout", type=float, default=280, help="seconds the training may take")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "gpu.jsonl",
                   help="JSON lines file the result is appended to")
    p.add_argument("--steps", type=int, nargs="*", metavar="PAIRS",
                   help="time the SGD step alone at these batch sizes (pairs) instead of training")
    a = p.parse_args()
    if a.steps:
        for pairs in a.steps:
            line = {"card": card(a.device), **time_steps(a.device, a.dim, pairs)}
            print(json.dumps(line))
            with open(a.results, "a") as f:
                f.write(json.dumps(line) + "\n")
        return 0
    with tempfile.TemporaryDirectory(prefix="w2v-gpu-") as tmp:
        corpus = repeated_sample(Path(tmp), a.repeat, a.words)
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), "--engine", "torch",
               "--device", a.device, "--dim", str(a.dim), "--epochs", str(a.epochs), "--eval", "none",
               "--batch-size", str(a.batch_size), "--mode", a.mode, "--quiet"]
        t0 = time.time()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=a.timeout)
        wall = time.time() - t0
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        status = Run(run).status()
        scores = evaluate(WordVectors.from_run(run))
    line = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "card": card(a.device), "device": a.device,
            "torch": torch_version(), "mode": a.mode, "dim": a.dim, "epochs": a.epochs, "repeat": a.repeat, "batch_size": a.batch_size,
            "words": status.get("words_done"), "train_s": status.get("train_seconds"), "wall_s": round(wall, 1),
            "words_per_sec": status.get("words_per_sec"),
            "wall_words_per_sec": round((status.get("words_done") or 0) / wall),
            "goal_words_per_sec": GOAL_WORDS_PER_SEC,
            "analogy": scores.get("analogy_accuracy"), "ws353": scores.get("similarity_spearman")}
    print(json.dumps(line))
    out = a.results
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
