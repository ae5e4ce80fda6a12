"""The corpora a page can pick from: the bundled sample first, then the stored uploads (newest
first), and which of them is the current choice."""

from __future__ import annotations

import os
from pathlib import Path

from . import paths
from .uploads import CORPUS_SUFFIXES


def sample() -> Path:
    """The bundled sample corpus."""
    return Path(paths.SAMPLE_CORPUS)


def list_corpora() -> list[Path]:
    """The bundled sample, then the stored uploads (newest first)."""
    d = paths.corpora_dir()
    stored = [p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")  # nor uploads under way
              and p.name.endswith(CORPUS_SUFFIXES)] if d.is_dir() else []
    return [sample()] + sorted(stored, key=lambda p: p.stat().st_mtime, reverse=True)


def choice(current: str | os.PathLike | None) -> tuple[list[str], int]:
    """The corpora as strings and the index of `current` among them (the sample when `current`
    is unset or no longer stored)."""
    options = [str(p) for p in list_corpora()]
    current = str(current) if current else None
    return options, options.index(current) if current in options else 0
