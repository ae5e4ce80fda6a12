"""The one cache folder: the compiled kernel and cached map projections live under it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$W2V_CACHE, else $XDG_CACHE_HOME/w2v-studio, else ~/.cache/w2v-studio."""
    root = os.environ.get("W2V_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "w2v-studio"
