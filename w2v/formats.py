"""The corpus formats people have, as text: plain text (.txt, or compressed .gz/.bz2/.xz), a .zip
of .txt files, and tables (.jsonl, .csv, .tsv, compressed or not) of which one field is the text.

    kind(path)                      'text' | 'zip' | 'jsonl' | 'csv' | 'tsv'
    binary_parts(path)              (label, raw bytes stream, compressed size) per text part
    iter_pieces(path, text_field)   the text, piece by piece, a paragraph boundary between documents
    preview(path)                   the first records of a table: (columns, rows)

A zip's members are read in the archive's order, never extracted: a member named `../x.txt` or
`/etc/x.txt` is only a name. Members that are not `.txt` files (folders, images, nested archives,
macOS `__MACOSX/` and `._` files) are skipped. A table yields only the values of `text_field`, one
document per record: its field names and other columns never reach the vocabulary.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import W2VError

TABLES = (".jsonl", ".csv", ".tsv")
COMPRESSED = (".gz", ".bz2", ".xz")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members, an empty archive
MAX_LINE_CHARS = 64 << 20  # a table's line longer than this is refused, never held
PIECE_CHARS = 1 << 20
MAX_COLUMNS = 1000  # field names held while checking a table


def kind(path: str | os.PathLike) -> str:
    """'zip' (by its first bytes), a table kind by the name ('.csv', '.tsv', '.jsonl', also under
    .gz/.bz2/.xz), or 'text'."""
    p = Path(path)
    with open(p, "rb") as f:
        if f.read(4) in ZIP_MAGIC:
            return "zip"
    return table_kind(p.name) or "text"


def table_kind(name: str) -> str | None:
    """'jsonl', 'csv' or 'tsv' when a file's name says it is a table (under any compression)."""
    name = name.lower()
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    return Path(name).suffix.lstrip(".") if name.endswith(TABLES) else None


def is_table(path: str | os.PathLike) -> bool:
    return Path(path).is_file() and kind(path) in ("jsonl", "csv", "tsv")


def is_text_member(info: zipfile.ZipInfo) -> bool:
    """A zip member read as corpus text: a .txt file, not macOS metadata."""
    base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return (not info.is_dir() and base.lower().endswith(".txt") and not base.startswith("._")
            and "__MACOSX/" not in info.filename)


def text_members(archive: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """The archive's text members in order; W2VError when it has none."""
    members = [m for m in archive.infolist() if is_text_member(m)]
    if not members:
        others = [m.filename for m in archive.infolist() if not m.is_dir()][:3]
        raise W2VError(f"{name} holds no .txt file ({'only ' + ', '.join(others) if others else 'it is empty'}): "
                       "zip the text files themselves")
    return members


def binary_parts(path: str | os.PathLike) -> Iterator[tuple[str, BinaryIO, int]]:
    """(label, decompressed byte stream, compressed size) of each part of `path` that holds text:
    every text member of a zip, else the (decompressed) file itself. Each stream is closed after
    the next part is asked for."""
    p = Path(path)
    name = p.name
    if kind(p) != "zip":
        with open_bytes(p) as raw:
            yield name, raw, p.stat().st_size
        return
    with _open_zip(p) as archive:
        for info in text_members(archive, name):
            with _open_member(archive, info, name) as raw:
                yield f"{name}: {info.filename}", raw, info.compress_size


def open_bytes(p: Path) -> BinaryIO:
    """A file that is not a zip, decompressed as its first bytes say."""
    from .corpus import OPENERS, compression  # corpus imports this module
    with open(p, "rb") as f:
        kind_ = compression(f.read(6))
    return OPENERS[kind_](p, "rb")


def iter_pieces(path: str | os.PathLike, text_field: str = "",
                piece_chars: int = PIECE_CHARS) -> Iterator[str]:
    """The text of `path` in pieces (no cut promised at whitespace), strict UTF-8. Between two zip
    members and between two records of a table comes a blank line: a paragraph boundary."""
    k = kind(path)
    if k in ("jsonl", "csv", "tsv"):
        yield from _table_pieces(path, k, text_field)
        return
    for i, (_, raw, _) in enumerate(binary_parts(path)):
        if i:
            yield "\n\n"
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline=None)
        while piece := text.read(piece_chars):
            yield piece


def preview(path: str | os.PathLike, rows: int = 5) -> tuple[list[str], list[dict]]:
    """A table's columns (the header of a CSV/TSV, the fields of the first JSON lines in order of
    appearance) and its first `rows` records, for picking the text field."""
    columns: dict[str, None] = {}
    records = []
    for record in _records(Path(path), kind(path)):
        columns.update(dict.fromkeys(list(record)[:MAX_COLUMNS]))
        records.append(record)
        if len(records) >= rows:
            break
    return list(columns), records


def check_table(path: str | os.PathLike, k: str, name: str, min_words: int) -> list[str]:
    """Parse every record of a table (a malformed line is refused, naming it): its columns, or a
    W2VError when it has no record or no field holds `min_words` words."""
    from .corpus import tokenize
    columns: dict[str, None] = {}
    words: dict[str, int] = {}
    for record in _records(Path(path), k, name):
        if len(columns) < MAX_COLUMNS:
            columns.update(dict.fromkeys(list(record)[:MAX_COLUMNS]))
        if max(words.values(), default=0) < min_words:
            for key, value in record.items():
                if isinstance(value, str) and key in columns:
                    words[key] = words.get(key, 0) + len(tokenize(value))
    if not columns:
        raise W2VError(f"{name} holds no records: upload a {k.upper()} file with a header and rows"
                       if k != "jsonl" else f"{name} holds no records: upload one JSON object per line")
    if max(words.values(), default=0) < min_words:
        raise W2VError(f"{name} has fewer than {min_words} words in every field: upload a table with at "
                       f"least {min_words} words of text in one field")
    return list(columns)


def _open_zip(p: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise W2VError(f"{p.name} is not a readable zip archive ({e}): re-create or re-upload it") from None


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> BinaryIO:
    try:
        return archive.open(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as e:  # encrypted, unknown method
        raise W2VError(f"{name}: {info.filename} cannot be read ({e}): zip plain .txt files, "
                       "without a password, with the usual (deflate) compression") from None


# ---------------------------------------------------------------- tables

def _table_pieces(path, k: str, text_field: str) -> Iterator[str]:
    """The value of `text_field` of every record, a blank line after each (PIECE_CHARS at a time)."""
    p = Path(path)
    if not text_field:
        columns, _ = preview(p)
        raise W2VError(f"{p.name} is a {k.upper()} table: name the field that holds the text with "
                       f"--text-field (its fields: {_listed(columns)})")
    buf, size = [], 0
    for n, record in enumerate(_records(p, k), 1):
        text = _field(record, text_field, p.name, k, n)
        buf.append(text + "\n\n")
        size += len(text) + 2
        if size >= PIECE_CHARS:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


def _field(record: dict, field: str, name: str, k: str, n: int) -> str:
    where = f"line {n}" if k == "jsonl" else f"row {n}"
    if field not in record:
        raise W2VError(f"{name}, {where}, has no field {field!r} (its fields: {_listed(list(record))}): "
                       "pick one of those with --text-field")
    value = record[field]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise W2VError(f"{name}, {where}: field {field!r} holds {type(value).__name__} {str(value)[:40]!r}, "
                       "not text: pick the field that holds the text with --text-field")
    return value


def _listed(columns: list[str], most: int = 12) -> str:
    shown = ", ".join(repr(c) for c in columns[:most])
    return (shown + (", …" if len(columns) > most else "")) or "none"


def _records(p: Path, k: str, name: str | None = None) -> Iterator[dict]:
    """The records of a table, each as {field: value}; errors name the file as `name`."""
    name = name or p.name
    with io.TextIOWrapper(open_bytes(p), encoding="utf-8", errors="strict",
                          newline="" if k != "jsonl" else None) as text:
        yield from (_json_records(text, name) if k == "jsonl" else _csv_records(text, name, k))


def _bounded_lines(text: io.TextIOBase, name: str) -> Iterator[str]:
    n = 0
    while line := text.readline(MAX_LINE_CHARS):
        n += 1
        if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
            raise W2VError(f"{name}, line {n}, is longer than {MAX_LINE_CHARS >> 20} M characters: is it a table?")
        yield line


def _json_records(text: io.TextIOBase, name: str) -> Iterator[dict]:
    for n, line in enumerate(_bounded_lines(text, name), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise W2VError(f"{name}, line {n}, is not valid JSON ({e}): one JSON object per line, please") from None
        if not isinstance(record, dict):
            raise W2VError(f"{name}, line {n}, is a JSON {type(record).__name__}, not an object with fields: "
                           "one JSON object per line, please")
        yield record


def _csv_records(text: io.TextIOBase, name: str, k: str) -> Iterator[dict]:
    reader = csv.reader(_bounded_lines(text, name), delimiter="\t" if k == "tsv" else ",", strict=True)
    header = None
    try:
        for row in reader:
            if not row:
                continue
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise W2VError(f"{name}, line {reader.line_num}, has {len(row)} fields where the header has "
                               f"{len(header)}: fix that line (quote a value that holds a "
                               f"{'tab' if k == 'tsv' else 'comma'})")
            yield dict(zip(header, row))
    except csv.Error as e:
        raise W2VError(f"{name}, line {reader.line_num}, is not valid {k.upper()} ({e}): fix that line") from None
