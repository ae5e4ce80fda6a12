"""WordVectors: trained vectors with gensim's KeyedVectors API, and the files other tools read.

    wv = WordVectors.from_run("runs/text8")          # input table; table="output"|"average"
    wv["king"]; "king" in wv; len(wv)
    wv.most_similar(positive=["king", "woman"], negative=["man"], topn=10)   # 3CosAdd
    wv.most_similar_cosmul(positive=[...], negative=[...])                   # 3CosMul
    wv.similarity("cat", "dog")
    wv.save_word2vec("v.txt"); wv.save_word2vec("v.bin", binary=True); wv.save_projector("dir")
    WordVectors.load_word2vec("v.bin")   # word2vec text or binary, fastText .vec, GloVe: sniffed
    WordVectors.load("GoogleNews-vectors-negative300.bin", limit=100_000)   # the most frequent only

Similarities are cosines over unit vectors, computed with one float32 BLAS product in numpy.
Numpy only: this module never imports torch, so the app's server stays free of it.
"""

from __future__ import annotations

import collections
import csv
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import W2VError
from .runs import Run, _atomic, load_npy

TABLES = ("input", "output", "average")
MAX_WORD_BYTES = 1000  # a word longer than this marks a corrupt file
NUMBER_BYTES = 32  # room for one number of a text file and its space ("-1.2345678901234567e-308 ")
BLOCK_BYTES = 1 << 20  # binary files are read in blocks of this many bytes
TEXT_ROWS, TEXT_BYTES = 16384, 32 << 20  # text files are parsed in groups of at most these rows, bytes
PARSERS = 2  # groups of a text file parsed at once, in threads
MAX_DIM = 100_000
FORMATS = {  # what sniff() tells apart
    "word2vec": "word2vec text: a header line '<words> <dimensions>', then a word and its numbers a "
                "line (fastText's .vec is the same)",
    "word2vec-binary": "word2vec binary: the header line, then each word, a space and its float32s",
    "glove": "GloVe text: no header, a word and its numbers a line",
}
_NEWLINES = re.compile(rb"\n*")


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (str, int, np.integer)):
        return [x]
    return list(x)


class WordVectors:
    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: Sequence[int] | None = None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
        self.index_to_key = list(words)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self._unit: np.ndarray | None = None
        self._lower: dict[str, int] | None = None

    # --- mapping behaviour -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word) -> bool:
        return word in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index(word)]

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def index(self, word: str) -> int:
        try:
            return self.key_to_index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary") from None

    @property
    def unit(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, 1e-12)
        return self._unit

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        return (self.unit if norm else self.vectors)[self.index(word)]

    # --- similarity ----------------------------------------------------------------------------
    def similarity(self, a: str, b: str) -> float:
        return float(self.get_vector(a, norm=True) @ self.get_vector(b, norm=True))

    def cosine_to_all(self, query: np.ndarray, restrict_vocab: int | None = None) -> np.ndarray:
        """Cosine of each of the (first `restrict_vocab`) vocabulary words with `query`; query
        may be one vector (d,) or a batch (n, d), and should be unit length."""
        unit = self.unit if restrict_vocab is None else self.unit[:restrict_vocab]
        q = np.asarray(query, dtype=np.float32)
        if q.ndim == 1:
            return unit @ q  # (V,): one matrix-vector product, as gensim's dot(vectors, mean)
        return q @ unit.T  # (n, V)

    def _terms(self, positive, negative) -> tuple[list[tuple[int, float]], set[int]]:
        terms = []
        for items, weight in ((_as_list(positive), 1.0), (_as_list(negative), -1.0)):
            for item in items:
                if isinstance(item, tuple):
                    item, w = item
                    terms.append((item, w))
                else:
                    terms.append((item, weight))
        if not terms:
            raise ValueError("give at least one positive or negative word")
        out, exclude = [], set()
        for item, w in terms:
            if isinstance(item, (int, np.integer)):
                idx = int(item)
            elif isinstance(item, str):
                idx = self.index(item)
            else:
                raise TypeError("words must be strings (or vocabulary indices)")
            out.append((idx, w))
            exclude.add(idx)
        return out, exclude

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int | None):
        if topn is None:
            return scores
        k = min(topn + len(exclude), len(scores))
        best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best if i not in exclude][:topn]

    def most_similar(self, positive=None, negative=None, topn: int | None = 10,
                     restrict_vocab: int | None = None):
        """3CosAdd: words closest to the mean of the unit vectors of `positive` minus those of
        `negative`, the query words excluded. [(word, cosine)], best first (gensim's answer)."""
        terms, exclude = self._terms(positive, negative)
        mean = sum(w * self.unit[i] for i, w in terms) / len(terms)
        mean = mean / max(np.linalg.norm(mean), 1e-12)
        return self._top(self.cosine_to_all(mean, restrict_vocab), exclude, topn)

    def most_similar_cosmul(self, positive=None, negative=None, topn: int | None = 10,
                            restrict_vocab: int | None = None):
        """3CosMul (Levy & Goldberg 2014): Π (1+cos(w, p))/2 / (Π (1+cos(w, n))/2 + 1e-6)."""
        terms, exclude = self._terms(positive, negative)
        pos = [i for i, w in terms if w > 0]
        neg = [i for i, w in terms if w < 0]
        sims = (1 + self.cosine_to_all(self.unit[pos + neg], restrict_vocab)) / 2  # (P+N, V)
        scores = np.prod(sims[: len(pos)], axis=0) / (np.prod(sims[len(pos):], axis=0) + 1e-6)
        return self._top(scores, exclude, topn)

    def similar_by_vector(self, vector: np.ndarray, topn: int = 10):
        v = np.asarray(vector, dtype=np.float32)
        return self._top(self.cosine_to_all(v / max(np.linalg.norm(v), 1e-12)), set(), topn)

    def find(self, text: str) -> str | None:
        """The vocabulary word that `text` names, or None: `text` as typed or lower-cased, else
        the phrase token of its words joined by '_' ("new york" -> "new_york", as word2phrase
        and gensim's Phrases write them), else either in another case (the most frequent
        spelling: "new york" -> "New_York")."""
        forms = [f for f in dict.fromkeys([(text or "").strip(), self.phrase(text)]) if f]
        for form in forms:
            for w in (form, form.lower()):
                if w in self.key_to_index:
                    return w
        for form in forms:
            if form.lower() in self._folded():
                return self.index_to_key[self._folded()[form.lower()]]
        return None

    def phrase(self, text: str) -> str:
        """`text` as one token: its words joined by '_' (what `find` looks for, and what a
        suggestion should resemble)."""
        return "_".join((text or "").split())

    def _folded(self) -> dict[str, int]:
        """Lower-cased word -> the row of its most frequent spelling (built on first use)."""
        if self._lower is None:
            self._lower = {w.lower(): i for i, w in reversed(list(enumerate(self.index_to_key)))}
        return self._lower

    def closest_words(self, word: str, n: int = 5) -> list[str]:
        """Vocabulary words spelled most like `word` (for 'did you mean')."""
        import difflib
        return difflib.get_close_matches(word, self.index_to_key, n=n, cutoff=0.6)

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, table: str = "input",
                 checkpoint: str | os.PathLike | None = None) -> "WordVectors":
        """Vectors of a run: its final tables, or those of `checkpoint` (a path, or 'latest')."""
        from .corpus import Vocab
        if table not in TABLES:
            raise W2VError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
        run = Run(run_dir)
        run.config()
        if not run.vocab_path.exists():
            raise W2VError(f"run {run.name} has no vocabulary yet: wait for training to start")
        vocab = Vocab.load(run.vocab_path)
        if checkpoint is None and run.in_vectors_path.exists():
            vin = load_npy(run.in_vectors_path)
            vout = load_npy(run.out_vectors_path) if table != "input" else None
        else:
            ckpts = run.checkpoints()
            if checkpoint in (None, "latest"):
                if not ckpts:
                    raise W2VError(f"run {run.name} has no vectors or checkpoints yet: "
                                   "wait for its first epoch, or resume it")
                checkpoint = ckpts[-1][2]
            vin, vout, _ = Run.load_checkpoint(checkpoint)
        vec = vin if table == "input" else vout if table == "output" else (vin + vout) / 2
        return cls(vocab.words, vec, vocab.counts)

    @classmethod
    def load(cls, path: str | os.PathLike, table: str = "input", limit: int | None = None) -> "WordVectors":
        """A run directory or a vectors file (word2vec text or binary, fastText .vec, GloVe);
        with `limit`, only its `limit` most frequent words (the first in the file)."""
        p = Path(path)
        if p.is_dir():
            wv = cls.from_run(p, table)
            return wv if not limit or limit >= len(wv) else wv.head(limit)
        return cls.load_word2vec(p, max_words=limit)

    def head(self, n: int) -> "WordVectors":
        """The first (most frequent) `n` words."""
        return WordVectors(self.index_to_key[:n], self.vectors[:n],
                           None if self.counts is None else self.counts[:n])

    @classmethod
    def load_word2vec(cls, path: str | os.PathLike, binary: bool | None = None,
                      max_words: int | None = None) -> "WordVectors":
        """Read a vectors file: word2vec text (fastText's .vec is the same) or binary, or GloVe
        text (no header line); the format is sniffed (binary when not given). `max_words`: only
        the first words (the most frequent), as gensim's `limit`.

        A header is checked against the file's size before anything is allocated, so a file
        that claims a billion rows is refused at once."""
        info = sniff(path, binary)
        n = info.words if info.header else None
        if max_words:
            n = max_words if n is None else min(n, max_words)
        with open(path, "rb") as f:
            f.seek(info.start)
            if info.binary:
                words, vecs = _read_binary(f, n, info.dim, Path(path).name)
            else:
                words, vecs = _read_text(f, n, info.dim, Path(path).name, 2 if info.header else 1)
        return cls(words, vecs)

    # --- saving --------------------------------------------------------------------------------
    def save_word2vec(self, path: str | os.PathLike, binary: bool = False) -> None:
        """word2vec's format (gensim's KeyedVectors.load_word2vec_format reads both)."""
        for w in self.index_to_key:
            if not w or any(c.isspace() for c in w):
                raise W2VError(f"word {w!r} contains whitespace and cannot be written in word2vec format")

        def write(f):
            f.write(f"{len(self)} {self.vector_size}\n".encode())
            vec = np.ascontiguousarray(self.vectors, dtype="<f4")
            for w, v in zip(self.index_to_key, vec):
                if binary:
                    f.write(w.encode("utf-8") + b" " + v.tobytes() + b"\n")
                else:
                    f.write((w + " " + " ".join(f"{x:.6g}" for x in v) + "\n").encode("utf-8"))
        _atomic(path, write)

    def save_projector(self, directory: str | os.PathLike, words: Iterable[str] | None = None) -> tuple[Path, Path]:
        """vectors.tsv and metadata.tsv for the TensorFlow Embedding Projector ("Load" button)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        idx = [self.index(w) for w in words] if words is not None else range(len(self))
        with_counts = self.counts is not None

        def vec(f):
            for i in idx:
                f.write(("\t".join(f"{x:.6g}" for x in self.vectors[i]) + "\n").encode())

        def meta(f):
            if with_counts:
                f.write(b"word\tcount\n")
            for i in idx:
                w = self.index_to_key[i].replace("\t", " ")
                f.write((f"{w}\t{self.counts[i]}\n" if with_counts else f"{w}\n").encode("utf-8"))
        _atomic(d / "vectors.tsv", vec)
        _atomic(d / "metadata.tsv", meta)
        return d / "vectors.tsv", d / "metadata.tsv"


def text_line_limit(d: int) -> int:
    """The longest line (newline included) a text file of `d` dimensions may hold: a word, then
    d numbers of bounded width. A longer line is refused before it is split into numbers."""
    return MAX_WORD_BYTES + d * NUMBER_BYTES + 2


@dataclass(frozen=True)
class VectorsFile:
    """What a vectors file's first line says (see `sniff`)."""
    format: str  # a key of FORMATS
    words: int  # from the header; GloVe has none, so there it is estimated from the file's size
    dim: int
    start: int  # where the first word starts
    size: int  # bytes

    @property
    def header(self) -> bool:
        return self.format != "glove"

    @property
    def binary(self) -> bool:
        return self.format == "word2vec-binary"


def sniff(path: str | os.PathLike, binary: bool | None = None) -> VectorsFile:
    """The format, words and dimensions of a vectors file, from its first line (and whether what
    follows is binary, unless `binary` says); W2VError for anything else, or for a header that
    the file's size belies."""
    p = Path(path)
    if not p.exists():
        raise W2VError(f"{p} does not exist: give a run directory or a word2vec vectors file")
    if p.is_dir():
        raise W2VError(f"{p} is a directory but not a run: give a run directory or a vectors file")
    size = p.stat().st_size
    with open(p, "rb") as f:
        first = f.readline(text_line_limit(MAX_DIM) + 1)
        body = f.read(min(4096, size))
    header = _header(first)
    if header is None:
        return VectorsFile("glove", max(1, size // max(len(first), 1)), _glove_dim(first, p.name), 0, size)
    n, d = header
    if n <= 0 or d <= 0 or d > MAX_DIM:
        raise W2VError(f"{p.name} has an impossible header ({n} words × {d} dims)")
    binary = _looks_binary(body) if binary is None else binary
    if binary and n * d * 4 > size:
        raise W2VError(f"{p.name} claims {n:,} × {d} vectors ({n * d * 4:,} bytes) but has "
                       f"{size:,} bytes: the file is truncated or its header is wrong")
    if not binary and n * (2 * d + 1) > size:
        raise W2VError(f"{p.name} claims {n:,} words of {d} numbers but is only "
                       f"{size:,} bytes: the file is truncated or its header is wrong")
    return VectorsFile("word2vec-binary" if binary else "word2vec", n, d, len(first), size)


def _header(first: bytes) -> tuple[int, int] | None:
    """(words, dimensions) of a word2vec header line; None when `first` is not one."""
    parts = first.split()
    try:
        return (int(parts[0]), int(parts[1])) if len(parts) == 2 else None
    except ValueError:
        return None


def _glove_dim(first: bytes, name: str) -> int:
    """The dimensions of a GloVe file whose first line is `first` (a word and its numbers)."""
    parts = first.rstrip().split(b" ")
    try:
        if b"\x00" in first or len(parts) < 2 or len(first) > text_line_limit(MAX_DIM):
            raise ValueError
        parts[0].decode("utf-8")
        np.array(parts[1:], dtype=np.float32)
    except ValueError:  # UnicodeDecodeError too
        raise W2VError(f"{name} is not a word2vec file nor GloVe: the first line must be "
                       "'<number of words> <dimensions>' (word2vec, fastText .vec) or a word and "
                       "its numbers (GloVe)") from None
    return len(parts) - 1


def _looks_binary(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        text = body[: e.start].decode("utf-8")
        if len(body) - e.start > 4:  # not just a multi-byte character cut at the end
            return True
    first = text.split("\n", 1)[0].split(" ")[1:]
    try:
        [float(x) for x in first if x]
        return "\x00" in text or len(first) == 0
    except ValueError:
        return True


def _finite(vecs: np.ndarray, name: str, where) -> None:
    """Refuse NaN or infinity (they break PCA and t-SNE later): W2VError naming where(row)."""
    bad = ~np.isfinite(vecs.sum(axis=1, dtype=np.float64))  # float64 sums never overflow here
    if bad.any():
        raise W2VError(f"{name} {where(int(bad.argmax()))} holds NaN or infinity: vectors must be "
                       "finite numbers, so fix or remove that word (or train again)")


def _read_text(f, n: int | None, d: int, name: str, first: int = 2):
    """`n` rows of a text file (a word and `d` numbers a line; with n None, up to the end, as
    GloVe has no header), its first row on line `first`: groups of lines (_text_groups) parsed
    PARSERS at a time (pandas' parser releases the GIL), each group's rows kept in order."""
    said = "its header says" if first > 1 else "its first line has"  # where d comes from
    words: list[str] = []
    vecs = np.empty((n, d), np.float32) if n is not None else None
    pieces: list[np.ndarray] = []

    def keep(job) -> None:  # the next group's rows, or its complaint
        w, v = job.result()
        if vecs is None:
            pieces.append(v)
        else:
            vecs[len(words):len(words) + len(w)] = v
        words.extend(w)

    with ThreadPoolExecutor(PARSERS) as pool:
        pending: collections.deque = collections.deque()
        for line, group, problem in _text_groups(f, n, d, name, first, said):
            if problem is not None:
                while pending:  # a complaint about an earlier line comes first
                    keep(pending.popleft())
                raise problem
            pending.append(pool.submit(_text_rows, group, d, name, line, said))
            if len(pending) > PARSERS:
                keep(pending.popleft())
        while pending:
            keep(pending.popleft())
    if n is not None and len(words) < n:
        raise W2VError(f"{name} ends after {len(words):,} of the {n:,} words its header promises")
    return words, vecs if vecs is not None else np.concatenate(pieces or [np.empty((0, d), np.float32)])


def _text_groups(f, n: int | None, d: int, name: str, first: int, said: str):
    """(line number, lines, None) for each group of at most TEXT_ROWS lines (TEXT_BYTES bytes)
    of the `n` rows (None: all) of f, read one line at a time; then, for a line longer than
    text_line_limit(d), (its number, [], the W2VError that refuses it)."""
    limit, line, left = text_line_limit(d), first, n
    group, size = [], 0
    while left is None or left > 0:
        row = f.readline(limit + 1)
        if len(row) > limit:
            if group:  # the rows before it first: a complaint about one of them comes first
                yield line, group, None
            yield line + len(group), [], W2VError(
                f"{name} line {line + len(group)} is over {limit:,} bytes, too long for a word and the "
                f"{d} numbers {said}: the file is corrupt or its header is wrong")
            return
        if row:
            group.append(row)
            size += len(row)
            left = None if left is None else left - 1
        if group and (not row or left == 0 or len(group) == TEXT_ROWS or size >= TEXT_BYTES):
            yield line, group, None
            line, group, size = line + len(group), [], 0
        if not row:
            return


def _text_rows(lines: list[bytes], d: int, name: str, first: int, said: str):
    """The words and (len(lines), d) vectors of text rows, the first on line `first`: by pandas'
    C parser, or, where it does not give exactly that (a ragged row, a word that is not a
    number, NaN), line by line, which names the line that is wrong."""
    import pandas as pd
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # inf or NaN: read one by one below
            df = pd.read_csv(io.BytesIO(b"".join(lines)), sep=_separator(lines[0]), header=None, engine="c",
                             quoting=csv.QUOTE_NONE, na_filter=False, encoding_errors="replace",
                             dtype={0: str, **dict.fromkeys(range(1, d + 1), np.float32)})
        if df.shape == (len(lines), d + 1):
            vecs = df.iloc[:, 1:].to_numpy(np.float32)
            if np.isfinite(vecs).all():
                return df[0].tolist(), vecs
    except (ValueError, OverflowError):
        pass
    return _text_rows_one_by_one(lines, d, name, first, said)


def _separator(line: bytes) -> str:
    """pandas' separator for rows like `line`: one space, or (fastText ends each line with a
    space) a run of whitespace, which parses about a quarter slower."""
    return r"\s+" if line.rstrip(b"\r\n").endswith(b" ") else " "


def _text_rows_one_by_one(lines: list[bytes], d: int, name: str, first: int, said: str):
    words, vecs = [], np.empty((len(lines), d), dtype=np.float32)
    for i, line in enumerate(lines):
        parts = line.decode("utf-8", errors="replace").rstrip().split(" ")
        if len(parts) != d + 1:
            raise W2VError(f"{name} line {first + i} has {len(parts) - 1} numbers where {said} {d}: "
                           "the file is ragged or corrupt")
        words.append(parts[0])
        try:
            with np.errstate(over="ignore"):  # a number beyond float32 becomes inf, refused below
                vecs[i] = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise W2VError(f"{name} line {first + i} holds something that is not a number") from None
    _finite(vecs, name, lambda i: f"line {first + i}")
    return words, vecs


def _scan(buf: bytes, row: int, want: int, words: list) -> tuple[list[int], int]:
    """The words of a binary file's block `buf` (at most `want`), appended to `words`, and where
    each one's vector starts; then where the first word not wholly in `buf` starts (newlines
    before a word are skipped, as gensim does)."""
    starts, pos = [], 0
    while len(starts) < want:
        pos = _NEWLINES.match(buf, pos).end()
        end = buf.find(b" ", pos, pos + MAX_WORD_BYTES + 1)
        if end < 0 or len(buf) - end - 1 < row:
            break
        words.append(buf[pos:end].decode("utf-8", errors="replace"))
        starts.append(end + 1)
        pos = end + 1 + row
    return starts, pos


def _binary_end(buf: bytes, i: int, n: int, name: str) -> W2VError:
    """Why the rest `buf` of a binary file holds no whole word i (0-based) and its vector."""
    end = buf.find(b" ", 0, MAX_WORD_BYTES + 1)
    if end < 0 and len(buf) > MAX_WORD_BYTES:
        return W2VError(f"{name} word {i + 1:,} is over {MAX_WORD_BYTES} bytes long: the file is corrupt")
    if end < 0:
        return W2VError(f"{name} ends after {i:,} of the {n:,} words its header promises")
    return W2VError(f"{name} ends inside the vector of word {i + 1:,}")


def _read_binary(f, n: int, d: int, name: str):
    """Read in blocks: each block's words found with bytes.find, its vectors copied at once."""
    from numpy.lib.stride_tricks import sliding_window_view
    words, vecs = [], np.empty((n, d), dtype=np.float32)
    row, buf, i = 4 * d, b"", 0
    while i < n:
        more = f.read(max(BLOCK_BYTES, row + MAX_WORD_BYTES + 1))
        buf += more
        starts, pos = _scan(buf, row, n - i, words)
        if starts:
            rows = sliding_window_view(np.frombuffer(buf, dtype=np.uint8), row)[starts]
            vecs[i:i + len(starts)] = rows.view("<f4")
            i += len(starts)
        buf = buf[pos:]
        if i < n and (not more or len(buf) > MAX_WORD_BYTES + 1 + row and not starts):
            raise _binary_end(buf, i, n, name)
    _finite(vecs, name, lambda i: f"word {words[i][:40]!r} (number {i + 1:,})")
    return words, vecs
