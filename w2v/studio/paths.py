"""The app's folders, from the environment (read at each call, so tests and servers can point
them elsewhere): runs, uploaded corpora, uploaded vectors, and the cache."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_CORPUS = ROOT / "data" / "text8-prefix.txt.gz"


def _folder(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default)


def runs_dir() -> Path:
    """Training runs: $W2V_RUNS_DIR, else runs/ in the project."""
    return _folder("W2V_RUNS_DIR", ROOT / "runs")


def corpora_dir() -> Path:
    """Uploaded corpora: $W2V_CORPORA_DIR, else corpora/ in the project."""
    return _folder("W2V_CORPORA_DIR", ROOT / "corpora")


def vectors_dir() -> Path:
    """Uploaded vectors files: $W2V_VECTORS_DIR, else vectors/ in the project."""
    return _folder("W2V_VECTORS_DIR", ROOT / "vectors")
