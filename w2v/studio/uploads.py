"""Storing what a browser uploads: a corpus (text, .gz, .bz2, .xz) or a vectors file.

Both go through `store`: the bytes are written to a hidden temporary file in the target folder,
checked as the trainer or the loader would read them, and only then linked into place under a
sanitised name. A stored file is never replaced: the same file again is reused, another file of
the same name gets `<name>-2`. A refused upload leaves nothing behind and its error names the
upload, never the temporary file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from ..corpus import compression, iter_token_blocks
from ..errors import W2VError
from ..runs import safe_name
from .paths import corpora_dir, vectors_dir

MIN_WORDS = 100  # an upload with fewer words cannot train anything
CORPUS_SUFFIXES = (".txt", ".gz", ".bz2", ".xz")
VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".w2v")
TEMP_PREFIX = ".upload-"


def save_corpus(filename: str, data: bytes | BinaryIO, min_words: int = MIN_WORDS) -> Path:
    """Store an uploaded corpus in the corpora folder; refused (W2VError) when it is empty,
    binary, not UTF-8, a truncated archive, or shorter than `min_words` words."""
    def check(tmp: Path, name: str) -> str:
        with open(tmp, "rb") as f:
            head = f.read(8192)
        kind = compression(head)
        if kind is None and b"\x00" in head:
            raise W2VError(f"{name} looks like a binary file, not text: upload a plain UTF-8 text file")
        words = sum(len(block) - block.count("") for block in iter_token_blocks(tmp))
        if words < min_words:
            raise W2VError(f"{name} has only {words} words: upload a text with at least {min_words} words")
        return ".txt" + (f".{kind}" if kind else "")
    return store(corpora_dir(), filename or "corpus", data, CORPUS_SUFFIXES, check, "the corpora folder", "corpus")


def save_vectors(filename: str, data: bytes | BinaryIO) -> Path:
    """Store an uploaded word2vec file (text or binary) in the vectors folder; refused when it
    cannot be read as one."""
    def check(tmp: Path, name: str) -> str:
        from ..vectors import WordVectors
        WordVectors.load_word2vec(tmp)
        suffix = Path(name).suffix.lower()
        return suffix if suffix in VECTOR_SUFFIXES else ".txt"
    return store(vectors_dir(), filename or "vectors", data, VECTOR_SUFFIXES, check, "the vectors folder", "vectors")


def store(folder: Path, filename: str, data: bytes | BinaryIO, suffixes: tuple[str, ...],
          check: Callable[[Path, str], str], what: str, default: str = "upload") -> Path:
    """Write `data` to a temporary file in `folder`, run `check(tmp, name)` (which returns the
    suffix to store under, or raises W2VError), then link it into place without overwriting."""
    name = Path(str(filename).replace("\\", "/")).name
    stem = safe_name(_strip(name, suffixes), default)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=".tmp")
    except OSError as e:
        raise W2VError(f"cannot write to {what} {folder} ({e.strerror or e}): make it a folder you can "
                       "write to, with free disk space") from None
    tmp = Path(tmp)
    try:
        _write(fd, data)
        if tmp.stat().st_size == 0:
            raise W2VError(f"{name or 'the upload'} is empty: upload a file with something in it")
        suffix = check(tmp, name)
        os.chmod(tmp, 0o644)
        return _link(tmp, folder, stem, suffix)
    except W2VError as e:  # the temporary name would only confuse: name the upload instead
        raise W2VError(str(e).replace(str(tmp), name).replace(tmp.name, name)) from None
    except OSError as e:
        raise W2VError(f"cannot store {name} in {what} ({e.strerror or e}): free some disk space") from None
    finally:
        tmp.unlink(missing_ok=True)


def _strip(name: str, suffixes: tuple[str, ...]) -> str:
    """'news.txt.gz' -> 'news': every known suffix comes off the end."""
    changed = True
    while changed:
        changed = False
        for s in suffixes:
            if name.lower().endswith(s) and len(name) > len(s):
                name, changed = name[: -len(s)], True
    return name


def _write(fd: int, data: bytes | BinaryIO) -> None:
    with os.fdopen(fd, "wb") as f:
        if isinstance(data, (bytes, bytearray, memoryview)):
            f.write(data)
        else:
            if hasattr(data, "seek"):
                data.seek(0)
            shutil.copyfileobj(data, f, 1 << 20)
        f.flush()
        os.fsync(f.fileno())


def _link(tmp: Path, folder: Path, stem: str, suffix: str) -> Path:
    """Hard-link `tmp` as `<stem><suffix>` (or `<stem>-k<suffix>`): unlike a rename it never
    replaces a file stored meanwhile. An identical stored file is returned instead."""
    target, k = folder / f"{stem}{suffix}", 1
    while True:
        if target.exists() and target.stat().st_size == tmp.stat().st_size and _same(target, tmp):
            return target
        try:
            os.link(tmp, target)
            return target
        except FileExistsError:
            k += 1
            target = folder / f"{stem}-{k}{suffix}"


def _same(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True
