"""Reading a corpus, the vocabulary, and the word2vec data pipeline.

The corpus is read once, streamed in blocks (never as a list of lines), and encoded to a flat
int32 file of vocabulary ids: `-1` marks a paragraph boundary (a blank line), which no window
crosses. Each epoch then streams that file in chunks and, per chunk, with numpy only:

    subsample()        drop frequent words with word2vec's keep probability, redrawn every epoch
    reduced_windows()  draw each centre word's window b in 1..window
    make_pairs()       every (centre, context) pair with |offset| <= b inside one paragraph
    AliasSampler       the unigram^0.75 noise distribution, O(1) per draw
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import formats
from .errors import W2VError
from .phrases import IdFile, PairCounter, Phrase, PhraseSettings, run_passes

BOUNDARY = -1  # id of a paragraph boundary in an encoded corpus
FREE_MARGIN = 64 << 20  # bytes a write must leave free on its disk

# Words: runs of letters/digits, keeping inner apostrophes and hyphens ("don't", "well-known").
_WORD = r"[^\W_]+(?:['’\-][^\W_]+)*"
_WORD_RE = re.compile(_WORD)
# With punctuation kept, every other non-space character is a token of its own.
_WORD_PUNCT_RE = re.compile(_WORD + r"|[^\w\s]")
_PARAGRAPH_RE = re.compile(r"\n[ \t\r\f\v]*\n")
_PLAIN_RE = re.compile(r"[a-z ]*")  # text8-like blocks tokenise with str.split()


def tokenize(text: str, keep_punct: bool = False) -> list[str]:
    """Lower-case word tokens of `text`; with `keep_punct`, punctuation marks are tokens too."""
    text = text.lower()
    if not keep_punct and _PLAIN_RE.fullmatch(text):
        return text.split()
    return (_WORD_PUNCT_RE if keep_punct else _WORD_RE).findall(text)


def compression(head: bytes) -> str | None:
    """'gz', 'bz2' or 'xz' from a file's first bytes (its magic number), or None for plain text."""
    if head[:2] == b"\x1f\x8b":
        return "gz"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return None


OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open, None: open}  # by compression(): opens bytes
FORMATS = ".txt, .gz, .bz2, .xz, .zip of .txt files, .jsonl, .csv or .tsv"


def check_exists(path: str | os.PathLike) -> Path:
    """`path` as a Path, or a W2VError when it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise W2VError(f"corpus {p} does not exist: give the path of a text file ({FORMATS})")
    if p.is_dir():
        raise W2VError(f"corpus {p} is a directory: give the path of a text file ({FORMATS})")
    return p


def iter_blocks(path: str | os.PathLike, block_chars: int = 1 << 20, text_field: str = "") -> Iterator[str]:
    """Yield the text of `path` (any of formats.kind's formats; a table's `text_field`) in blocks
    of about `block_chars`, each cut after whitespace.

    Decoding, decompression and binary-content errors become a one-line W2VError."""
    name = check_exists(path).name
    try:
        carry = ""
        for piece in _sized(formats.iter_pieces(path, text_field), block_chars):
            if "\x00" in piece:
                raise W2VError(f"{name} looks like a binary file, not text: upload a plain UTF-8 text file")
            block = carry + piece
            cut = max(block.rfind(" "), block.rfind("\n"), block.rfind("\t"))
            if cut < 0:
                carry = block
                if len(carry) > 64 * block_chars:
                    raise W2VError(f"{name} has no whitespace in {len(carry):,} characters: is it text?")
                continue
            carry = block[cut + 1:]
            yield block[: cut + 1]
        if carry:
            yield carry
    except UnicodeDecodeError as e:
        raise W2VError(f"{name} is not UTF-8 text (byte {e.start} of a block): convert it to UTF-8 first") from None
    except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise W2VError(f"corpus {path} does not exist") from None
        raise W2VError(f"{name} could not be read ({e.__class__.__name__}: {e}); "
                       "is the archive complete? Re-create or re-upload it") from None


def _sized(pieces: Iterator[str], chars: int) -> Iterator[str]:
    """Pieces of text re-cut to about `chars` each (a table's many short records become blocks)."""
    buf, size = [], 0
    for piece in pieces:
        while len(piece) > chars:  # a large piece (a text file's read) goes out as it came
            if buf:
                yield "".join(buf)
                buf, size = [], 0
            yield piece[:chars]
            piece = piece[chars:]
        buf.append(piece)
        size += len(piece)
        if size >= chars:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


def iter_token_blocks(path: str | os.PathLike, keep_punct: bool = False,
                      block_chars: int = 1 << 20, text_field: str = "") -> Iterator[list[str]]:
    """Token lists of consecutive blocks; an empty string marks a paragraph boundary."""
    for block in iter_blocks(path, block_chars, text_field):
        yield block_tokens(block, keep_punct)


def block_tokens(block: str, keep_punct: bool = False) -> list[str]:
    """A block's tokens; an empty string marks a paragraph boundary."""
    parts = _PARAGRAPH_RE.split(block) if "\n" in block else [block]
    tokens: list[str] = []
    for k, part in enumerate(parts):
        if k:
            tokens.append("")
        tokens.extend(tokenize(part, keep_punct))
    return tokens


@dataclass
class Vocab:
    """Words ordered by decreasing frequency (ties alphabetically), with their counts."""

    words: list[str]
    counts: np.ndarray  # int64, same order as words

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def total(self) -> int:
        """Number of corpus tokens that are in the vocabulary."""
        return int(self.counts.sum())

    @classmethod
    def from_counts(cls, words: list[str], counts, min_count: int = 5,
                    max_size: int | None = None) -> "Vocab":
        counts = np.asarray(counts, dtype=np.int64)
        keep = np.flatnonzero(counts >= min_count)
        order = sorted(keep.tolist(), key=lambda i: (-counts[i], words[i]))
        if max_size:
            order = order[:max_size]
        return cls([words[i] for i in order], counts[order])

    def keep_prob(self, sample: float) -> np.ndarray:
        """word2vec's subsampling keep probability (sqrt(f/t) + 1) * t/f, capped at 1."""
        if not sample or sample <= 0:
            return np.ones(len(self), dtype=np.float32)
        f = self.counts / max(self.total, 1)
        return np.minimum((np.sqrt(f / sample) + 1.0) * sample / f, 1.0).astype(np.float32)

    def noise_dist(self, power: float = 0.75) -> np.ndarray:
        """The negative-sampling distribution: unigram counts raised to `power`, normalised."""
        p = self.counts.astype(np.float64) ** power
        return p / p.sum()

    def save(self, path: str | os.PathLike) -> None:
        from .runs import atomic_write_text
        atomic_write_text(path, "".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        words, counts = [], []
        with open(path, encoding="utf-8") as f:
            for line in f:
                w, c = line.rstrip("\n").rsplit("\t", 1)
                words.append(w)
                counts.append(int(c))
        return cls(words, np.array(counts, dtype=np.int64))


@dataclass
class CorpusStats:
    tokens: int  # all word tokens in the file
    types: int  # distinct word types in the file
    paragraphs: int
    phrases: list[Phrase] = field(default_factory=list)  # found by --phrases, pass by pass


def scan_corpus(path: str | os.PathLike, ids_path: str | os.PathLike, keep_punct: bool = False,
                min_count: int = 5, max_size: int | None = None,
                progress: Callable[[int], None] | None = None, text_field: str = "",
                phrases: PhraseSettings | None = None) -> tuple[Vocab, CorpusStats]:
    """Read `path` once: build the vocabulary and write the corpus as int32 ids to `ids_path`.

    Tokens get provisional ids in order of first appearance while the file streams (written to a
    temporary file, so memory holds one block at a time); with `phrases`, that file is rewritten
    once per pass with the detected phrases joined (w2v.phrases); once the counts are known they
    are remapped to vocabulary ids, out-of-vocabulary tokens are dropped, and boundaries stay -1."""
    index: dict[str, int] = {"": BOUNDARY}
    ids_path = Path(ids_path)
    ids_path.parent.mkdir(parents=True, exist_ok=True)
    phrases = phrases or PhraseSettings()
    pairs = PairCounter() if phrases.passes else None
    with tempfile.NamedTemporaryFile(dir=ids_path.parent, prefix=".scan-", delete=False) as tmp:
        try:
            counts, stats = _encode(path, tmp, index, keep_punct, text_field, progress, pairs)
            tmp.close()
            if phrases.passes:
                space = lambda n: ensure_free_space(ids_path.parent, n, "joining phrases")  # noqa: E731
                counts, stats.phrases = run_passes(IdFile(tmp.name, space), index, counts, pairs, phrases)
            vocab = _vocab(path, index, counts, min_count, max_size)
            remap = np.full(len(index), -2, dtype=np.int32)  # slot 0 is the boundary
            remap[0] = BOUNDARY
            for new_id, w in enumerate(vocab.words):
                remap[index[w] + 1] = new_id
            ensure_free_space(ids_path.parent, os.path.getsize(tmp.name), "encoding the corpus")
            _remap_file(tmp.name, ids_path, remap)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)
    return vocab, stats


class _BlockIds:
    """Blocks of text as provisional ids, new words joining `index` in order of first appearance.
    While every block so far was plain (ASCII letters and spaces, the text8 kind) and punctuation
    is not kept, the kernel's word map reads them: it splits them on spaces as the tokenizer's own
    fast path does, several times faster than a Python dictionary, and Python copies each block's
    new words into `index`. From the first block that is not plain, the tokenizer and `index` read
    the rest (with the same ids)."""

    def __init__(self, index: dict[str, int], keep_punct: bool):
        self.index, self.keep_punct, self.plain = index, keep_punct, None
        if not keep_punct:
            from . import kernel
            lib = kernel.load(warn=False)
            self.plain = kernel.WordIds(lib) if lib is not None else None

    def __call__(self, block: str) -> np.ndarray:
        if self.plain:
            ids = self.plain.encode(block)
            if ids is not None:
                for word in self.plain.words(len(self.index) - 1):  # the map has seen every block: same ids
                    self.index[word] = len(self.index) - 1
                return ids
            self.close()
        tokens = block_tokens(block, self.keep_punct)
        get = self.index.setdefault
        return np.fromiter((get(t, len(self.index) - 1) for t in tokens), dtype=np.int32, count=len(tokens))

    def close(self) -> None:
        if self.plain:
            self.plain.close()
            self.plain = None

    def __enter__(self) -> "_BlockIds":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _encode(path, tmp, index: dict[str, int], keep_punct: bool, text_field: str,
            progress: Callable[[int], None] | None, pairs: PairCounter | None) -> tuple[np.ndarray, CorpusStats]:
    """Stream the corpus into `tmp` as provisional ids (new words join `index`): (word counts,
    stats). With `pairs`, adjacent pairs are counted too, for phrases."""
    counts = np.zeros(0, dtype=np.int64)
    n_tokens, n_par = 0, 1
    with _BlockIds(index, keep_punct) as block_ids:
        for block in iter_blocks(path, text_field=text_field):
            prov = block_ids(block)
            ensure_free_space(Path(tmp.name).parent, 2 * 4 * len(prov), "encoding the corpus")
            prov.tofile(tmp)
            if pairs is not None:
                pairs.add(prov)
            words = prov[prov >= 0]
            n_par += len(prov) - len(words)
            n_tokens += len(words)
            if len(index) - 1 > len(counts):
                counts = np.concatenate([counts, np.zeros(len(index) - 1 - len(counts) + 1024, np.int64)])
            counts += np.bincount(words, minlength=len(counts))[: len(counts)]
            if progress:
                progress(n_tokens)
    if n_tokens == 0:
        raise W2VError(f"{Path(path).name} contains no words: give a text file with words in it")
    return counts, CorpusStats(tokens=n_tokens, types=len(index) - 1, paragraphs=n_par)


def _vocab(path, index: dict[str, int], counts: np.ndarray, min_count: int, max_size: int | None) -> Vocab:
    """The vocabulary of the counted words; a W2VError when fewer than two words are kept."""
    types = [w for w in index if w]
    counts = counts[: len(types)]
    vocab = Vocab.from_counts(types, counts, min_count, max_size)
    if len(vocab) < 2:
        best = int(counts.max())
        raise W2VError(f"only {len(vocab)} word type(s) occur at least {min_count} times "
                       f"(the most frequent occurs {best} times): lower --min-count or use a larger corpus")
    return vocab


def ensure_free_space(folder: str | os.PathLike, needed: int, doing: str) -> None:
    """Refuse (W2VError) to write `needed` more bytes into `folder` when that would leave less
    than FREE_MARGIN free: a full disk fails clearly, before a half-written file."""
    import shutil
    free = shutil.disk_usage(folder).free
    if free < needed + FREE_MARGIN:
        raise W2VError(f"the disk holding {folder} has {free / 2**20:,.0f} MiB free, too little for "
                       f"{doing} (about {needed / 2**20:,.0f} MiB more): free some disk space")


def _remap_file(src: str, dst: Path, remap: np.ndarray, chunk: int = 1 << 20) -> None:
    tmp_dst = dst.with_name(dst.name + ".tmp")
    try:
        with open(src, "rb") as fi, open(tmp_dst, "wb") as fo:
            while True:
                prov = np.fromfile(fi, dtype=np.int32, count=chunk)
                if not len(prov):
                    break
                ids = remap[prov + 1]
                ids[ids >= BOUNDARY].tofile(fo)
            fo.flush()
            os.fsync(fo.fileno())
        os.replace(tmp_dst, dst)
    finally:
        tmp_dst.unlink(missing_ok=True)


def read_chunk(ids_path: str | os.PathLike, index: int, chunk_tokens: int) -> np.ndarray:
    """Chunk `index` of an encoded corpus (a rank reads only its own chunks)."""
    with open(ids_path, "rb") as f:
        f.seek(index * chunk_tokens * 4)
        return np.fromfile(f, dtype=np.int32, count=chunk_tokens)


def count_chunks(ids_path: str | os.PathLike, chunk_tokens: int) -> int:
    n = os.path.getsize(ids_path) // 4
    return max(1, -(-n // chunk_tokens))


def subsample(chunk: np.ndarray, keep_prob: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Drop boundaries and subsampled words. Returns (kept ids, paragraph index of each)."""
    boundary = chunk < 0
    para = np.cumsum(boundary, dtype=np.int32)
    valid = ~boundary
    p = keep_prob[np.where(valid, chunk, 0)]
    keep = valid & (rng.random(len(chunk), dtype=np.float32) < p)
    return chunk[keep], para[keep]


def reduced_windows(n: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """Each centre word's effective window b, uniform in 1..window (word2vec's reduced window)."""
    return rng.integers(1, window + 1, size=n, dtype=np.int32)


def make_pair_positions(para: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of all (centre, context) pairs: the context lies within b[centre] positions of
    the centre, in the same paragraph. One numpy pass per offset 1..max(b), no loop per word."""
    centres, contexts = [], []
    n = len(para)
    for o in range(1, min(int(b.max(initial=0)), n - 1) + 1):
        same = para[:-o] == para[o:]
        right = np.flatnonzero(same & (b[:-o] >= o))  # centre i, context i + o
        left = np.flatnonzero(same & (b[o:] >= o))  # centre i + o, context i
        centres += [right, left + o]
        contexts += [right + o, left]
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


def make_pairs(ids: np.ndarray, para: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (centre word, context word) id pairs of a subsampled chunk (see make_pair_positions)."""
    c, x = make_pair_positions(para, b)
    return ids[c].astype(np.int64), ids[x].astype(np.int64)


class AliasSampler:
    """Walker's alias method: O(1) draws from a discrete distribution, vectorised."""

    def __init__(self, p: np.ndarray):
        p = np.asarray(p, dtype=np.float64)
        n = len(p)
        scaled = p / p.sum() * n
        prob = np.ones(n, dtype=np.float64)
        alias = np.arange(n, dtype=np.int32)
        small = [i for i in range(n) if scaled[i] < 1.0]
        large = [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[s] = scaled[s]
            alias[s] = g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        self.prob = prob.astype(np.float32)
        self.alias = alias

    def sample(self, size, rng: np.random.Generator) -> np.ndarray:
        j = rng.integers(0, len(self.prob), size=size, dtype=np.int32)
        return np.where(rng.random(size, dtype=np.float32) < self.prob[j], j, self.alias[j])
