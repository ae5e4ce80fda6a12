import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("W2V_CACHE", str(ROOT / ".cache"))


def planted_text(groups: int = 8, size: int = 6, paragraphs: int = 1500, length: int = 12,
                 seed: int = 0) -> tuple[str, list[list[str]]]:
    """Paragraphs that each draw words from one group only: words of a group co-occur, words of
    different groups never do, so a working trainer must put each word nearest its group."""
    rng = random.Random(seed)
    names = [[f"g{g}w{i}" for i in range(size)] for g in range(groups)]
    paras = []
    for _ in range(paragraphs):
        group = names[rng.randrange(groups)]
        paras.append(" ".join(rng.choice(group) for _ in range(length)))
    return "\n\n".join(paras) + "\n", names


@pytest.fixture
def planted(tmp_path):
    text, groups = planted_text()
    path = tmp_path / "planted.txt"
    path.write_text(text)
    return path, groups


def group_precision(wv, groups) -> float:
    """Share of each word's top-(size-1) neighbours that are in its own group."""
    hits = total = 0
    for group in groups:
        members = set(group)
        for w in group:
            near = [n for n, _ in wv.most_similar(w, topn=len(group) - 1)]
            hits += sum(n in members for n in near)
            total += len(near)
    return hits / total


@pytest.fixture
def tiny_corpus(tmp_path):
    """About 60k tokens of the bundled sample: enough for a real vocabulary, fast to train."""
    import gzip
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        text = f.read(400_000)
    path = tmp_path / "tiny.txt"
    path.write_text(text[: text.rfind(" ")] + "\n")
    return path


def end_map_jobs():
    """End the background map jobs a test started (their cache folder goes with the test)."""
    import signal
    from w2v.studio import mapjobs
    for pid in list(mapjobs._procs):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        mapjobs._procs.pop(pid).wait()
