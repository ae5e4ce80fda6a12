"""What the app's pages need from the core, as plain data (this module never imports streamlit)."""

from __future__ import annotations

import os
from pathlib import Path

from .runs import list_runs
from .train import DEFAULT_CORPUS

ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = Path(os.environ.get("W2V_RUNS_DIR") or ROOT / "runs")
CORPORA_DIR = Path(os.environ.get("W2V_CORPORA_DIR") or ROOT / "corpora")
SAMPLE_CORPUS = DEFAULT_CORPUS


def runs_table(root: str | os.PathLike = RUNS_DIR) -> list[dict]:
    """One row per run: name, state, progress, settings and final scores."""
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
