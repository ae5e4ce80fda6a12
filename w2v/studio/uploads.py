"""Storing what a browser uploads: a corpus (text, .gz, .bz2, .xz, a .zip of .txt files, a .jsonl,
.csv or .tsv table) or a vectors file.

Both go through `store`: the bytes are written to a hidden temporary file in the target folder,
checked as the trainer or the loader would read them, and only then linked into place under a
sanitised name. A stored file is never replaced: the same file again is reused, another file of
the same name gets `<name>-2`. A refused upload leaves nothing behind and its error names the
upload, never the temporary file.
"""

from __future__ import annotations

import codecs
import lzma
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

from .. import formats
from ..corpus import compression, iter_token_blocks
from ..errors import W2VError
from ..runs import safe_name
from .paths import corpora_dir, vectors_dir

MIN_WORDS = 100  # an upload with fewer words cannot train anything
STALE_SECONDS = 3600  # a temporary upload file this old was left by a crashed server: removed
PIECE = 1 << 20
CORPUS_SUFFIXES = (".txt", ".gz", ".bz2", ".xz", ".zip", ".jsonl", ".csv", ".tsv")
VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".w2v")
TEMP_PREFIX = ".upload-"


def max_text_bytes() -> int:
    """The most text an uploaded corpus may hold once decompressed: $W2V_MAX_CORPUS_MB (MiB),
    default 1024 (about 170 M words: hours of training on a laptop)."""
    return int(float(os.environ.get("W2V_MAX_CORPUS_MB") or 1024) * 2**20)


def max_ratio() -> float:
    """The largest decompressed/compressed size ratio accepted: $W2V_MAX_COMPRESSION_RATIO,
    default 25 (text compresses 3-5x; far above that, an archive is a decompression bomb)."""
    return float(os.environ.get("W2V_MAX_COMPRESSION_RATIO") or 25)


def save_corpus(filename: str, data: bytes | BinaryIO, min_words: int = MIN_WORDS) -> Path:
    """Store an uploaded corpus (any of CORPUS_SUFFIXES: text, a .zip of .txt files, a .jsonl,
    .csv or .tsv table) in the corpora folder; refused (W2VError) when it is empty, binary, not
    UTF-8, a truncated archive, too large once decompressed, compressed implausibly well (each
    member of a zip too), a table with a malformed line, or shorter than `min_words` words (in
    one field of a table). The check streams the file once (decompressing and decoding, never
    tokenising all of it, parsing every record of a table), so it ends in seconds."""
    def check(tmp: Path, name: str) -> str:
        check_text(tmp, name)
        kind = formats.kind(tmp)
        table = None if kind == "zip" else formats.table_kind(name)
        if table:
            formats.check_table(tmp, table, name, min_words)
        else:
            _check_words(tmp, name, min_words)
        if kind == "zip":
            return ".zip"
        with open(tmp, "rb") as f:
            packed = compression(f.read(8))
        return (f".{table}" if table else ".txt") + (f".{packed}" if packed else "")
    return store(corpora_dir(), filename or "corpus", data, CORPUS_SUFFIXES, check, "the corpora folder", "corpus")


def _check_words(tmp: Path, name: str, min_words: int) -> None:
    words = 0
    for block in iter_token_blocks(tmp):  # a corpus has enough words as soon as it has them
        words += len(block) - block.count("")
        if words >= min_words:
            return
    raise W2VError(f"{name} has only {words} words: upload a text with at least {min_words} words")


def save_vectors(filename: str, data: bytes | BinaryIO) -> Path:
    """Store an uploaded word2vec file (text or binary) in the vectors folder; refused when it
    cannot be read as one."""
    def check(tmp: Path, name: str) -> str:
        from ..vectors import WordVectors
        WordVectors.load_word2vec(tmp)
        suffix = Path(name).suffix.lower()
        return suffix if suffix in VECTOR_SUFFIXES else ".txt"
    return store(vectors_dir(), filename or "vectors", data, VECTOR_SUFFIXES, check, "the vectors folder", "vectors")


def check_text(path: Path, name: str) -> int:
    """Stream every text part of `path` once (the file, or each text member of a zip),
    decompressing and decoding: refuse binary content, bytes that are not UTF-8, a truncated
    archive, more than max_text_bytes() of text in all, or a compression ratio above max_ratio()
    (of a member, or of the whole archive); stop at the first of these. Returns the decompressed size."""
    size, limit, ratio = path.stat().st_size, max_text_bytes(), max_ratio()
    total = 0
    try:
        for label, raw, packed in formats.binary_parts(path):
            decoder, part = codecs.getincrementaldecoder("utf-8")("strict"), 0
            while piece := raw.read(PIECE):
                total, part = total + len(piece), part + len(piece)
                if total > limit:
                    raise W2VError(f"{name} holds more than {limit / 2**20:,.0f} MiB of text: upload a "
                                   "smaller corpus (or raise W2V_MAX_CORPUS_MB where the app runs)")
                if total > 16 * PIECE and (part > ratio * packed or total > ratio * size):
                    raise W2VError(f"{label} expands more than {ratio:g}x when decompressed, which text does "
                                   "not: upload the text itself (or raise W2V_MAX_COMPRESSION_RATIO)")
                if b"\x00" in piece:
                    raise W2VError(f"{label} looks like a binary file, not text: upload a plain UTF-8 text file")
                decoder.decode(piece)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise W2VError(f"{name} is not UTF-8 text: convert it to UTF-8 first") from None
    except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as e:
        raise W2VError(f"{name} could not be read ({e.__class__.__name__}); is the archive complete? "
                       "Re-create or re-upload it") from None
    return total


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
    _remove_stale(folder)
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


def _remove_stale(folder: Path) -> None:
    """Temporary upload files a crashed server left behind, older than STALE_SECONDS."""
    for p in folder.glob(TEMP_PREFIX + "*"):
        try:
            if time.time() - p.stat().st_mtime > STALE_SECONDS:
                p.unlink()
        except OSError:
            pass


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
