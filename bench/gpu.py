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


def repeated_sample(folder: Path, repeat: int) -> Path:
    text = gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt", encoding="utf-8").read().strip()
    path = folder / f"sample-x{repeat}.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(repeat):
            f.write(text + "\n\n")
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--repeat", type=int, default=4, help="copies of the sample corpus (default 4)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=0, help="pairs per batch (default: the engine's)")
    p.add_argument("--timeout", type=float, default=280, help="seconds the training may take")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="w2v-gpu-") as tmp:
        corpus = repeated_sample(Path(tmp), a.repeat)
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), "--engine", "torch",
               "--device", a.device, "--dim", str(a.dim), "--epochs", str(a.epochs), "--eval", "none",
               "--batch-size", str(a.batch_size), "--quiet"]
        t0 = time.time()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=a.timeout)
        wall = time.time() - t0
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        status = Run(run).status()
        scores = evaluate(WordVectors.from_run(run))
    line = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "card": card(a.device), "device": a.device,
            "dim": a.dim, "epochs": a.epochs, "repeat": a.repeat, "batch_size": a.batch_size,
            "words": status.get("words_done"), "train_s": status.get("train_seconds"), "wall_s": round(wall, 1),
            "words_per_sec": status.get("words_per_sec"),
            "wall_words_per_sec": round((status.get("words_done") or 0) / wall),
            "goal_words_per_sec": GOAL_WORDS_PER_SEC,
            "analogy": scores.get("analogy_accuracy"), "ws353": scores.get("similarity_spearman")}
    print(json.dumps(line))
    out = ROOT / "bench" / "results" / "gpu.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
