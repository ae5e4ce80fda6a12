"""What the app's pages need from the core, as plain data (this module never imports streamlit)."""

from __future__ import annotations

import os
from pathlib import Path

from .runs import list_runs
from .train import DEFAULT_CORPUS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = DEFAULT_CORPUS


def runs_dir() -> Path:
    """The runs folder: $W2V_RUNS_DIR (read at each call), else runs/ in the project."""
    return Path(os.environ.get("W2V_RUNS_DIR") or ROOT / "runs")


def corpora_dir() -> Path:
    """Uploaded corpora: $W2V_CORPORA_DIR, else corpora/ in the project."""
    return Path(os.environ.get("W2V_CORPORA_DIR") or ROOT / "corpora")


def vectors_dir() -> Path:
    """Uploaded word2vec files: $W2V_VECTORS_DIR, else vectors/ in the project."""
    return Path(os.environ.get("W2V_VECTORS_DIR") or ROOT / "vectors")


def runs_table(root: str | os.PathLike | None = None) -> list[dict]:
    """One row per run: name, state, progress, settings and final scores."""
    root = root or runs_dir()
    rows = []
    for run in list_runs(root):
        cfg = run.config().get("train", {})
        st = run.status()
        scores = st.get("scores") or {}
        rows.append({
            "run": run.name,
            "state": st.get("state", "unknown"),
            "progress": round(100 * float(st.get("progress") or 0), 1),
            "mode": cfg.get("mode"),
            "dim": cfg.get("dim"),
            "epochs": cfg.get("epochs"),
            "words/s": st.get("words_per_sec"),
            "analogy": scores.get("analogy_accuracy"),
            "WS353": scores.get("similarity_spearman"),
        })
    return rows
