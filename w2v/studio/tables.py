"""A table corpus (.jsonl, .csv, .tsv) on the Corpus page: its first rows, its columns and the
column most likely to hold the text, for the user to pick the text field from."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import formats
from ..errors import W2VError

PREVIEW_ROWS = 5
PREVIEW_CHARS = 200  # of a value shown in the preview


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[dict]  # the first records, values cut to PREVIEW_CHARS
    guess: str  # the column to offer first


def preview(path: str | os.PathLike, rows: int = PREVIEW_ROWS) -> Preview | None:
    """The preview of a table corpus, None for any other corpus; W2VError when it has no records."""
    if not formats.is_table(path):
        return None
    columns, records = formats.preview(path, rows)
    if not columns:
        raise W2VError(f"{os.path.basename(path)} holds no records: upload a table with a header and rows")
    shown = [{c: _cut(r.get(c)) for c in columns} for r in records]
    return Preview(columns, shown, guess_field(columns, records))


def guess_field(columns: list[str], records: list[dict]) -> str:
    """'text' when there is such a column, else the column whose values hold the most words."""
    named = [c for c in columns if c.lower() in ("text", "body", "content", "review", "sentence")]
    if named:
        return named[0]
    words = {c: sum(len(r[c].split()) for r in records if isinstance(r.get(c), str)) for c in columns}
    return max(columns, key=lambda c: words[c])


def _cut(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"
