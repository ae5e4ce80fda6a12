"""Build (once) and load the C++ CPU kernel `_kernel.cpp` through ctypes.

The shared library is compiled with the system's C++ compiler on first use (about two seconds)
into a cache folder keyed by the source's hash, the compiler and the CPU, so later runs load it at
once. No Python build step, no torch headers, nothing downloaded. Where no compiler exists or the
build fails, `load()` returns None and the trainer falls back to the PyTorch path with a warning.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("_kernel.cpp")
_lib = None
_tried = False
_error = ""  # why the kernel could not be built, until a warning has said so


from .cache import cache_dir  # noqa: E402  (the compiled kernel lives in the one cache folder)


def compiler() -> str | None:
    """The C++ compiler to build the kernel with ($CXX first), or None."""
    for cxx in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if cxx and shutil.which(cxx):
            return cxx
    return None


def flags(native: bool) -> list[str]:
    """The kernel's compiler flags; `native`: for this machine's CPU (AVX and FMA where it has them)."""
    common = ["-O3", "-ffast-math", "-fno-finite-math-only", "-std=c++17", "-shared", "-fPIC", "-pthread"]
    return common + (["-march=native"] if native else [])


def library_path(cxx: str) -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join([cxx, *flags(True)]).encode()
                         + platform.machine().encode() + platform.node().encode()).hexdigest()[:16]
    return cache_dir() / f"w2v_kernel_{key}.so"


def build(cxx: str | None = None) -> Path:
    """Compile the kernel into the cache (atomic: a half-built library is never loaded)."""
    cxx = cxx or compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (install g++)")
    out = library_path(cxx)
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".so")
    os.close(fd)
    try:
        err = ""
        for native in (True, False):
            r = subprocess.run([cxx, *flags(native), str(SOURCE), "-o", tmp],
                               capture_output=True, text=True)
            if r.returncode == 0:
                os.replace(tmp, out)
                return out
            err = r.stderr.strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"the C++ kernel did not compile: {err[0]}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(warn: bool = True):
    """The loaded kernel library, or None when it cannot be built (with a warning, once, on the
    first call that asks for one)."""
    global _lib, _tried, _error
    if not _tried:
        _tried = True
        if not os.environ.get("W2V_NO_KERNEL"):
            try:
                _lib = bind(build())
            except (RuntimeError, OSError) as e:
                _error = str(e)
    if _lib is None and _error and warn:
        warnings.warn(f"C++ kernel unavailable ({_error}); training uses the slower PyTorch path",
                      RuntimeWarning, stacklevel=2)
        _error = ""
    return _lib


def bind(path: str | os.PathLike):
    """The compiled kernel at `path`, loaded, its entry point's signature declared."""
    lib = ctypes.CDLL(str(path))
    p = ctypes.c_void_p
    i32, i64 = ctypes.c_int32, ctypes.c_int64
    lib.w2v_train_chunk.argtypes = [p, p, i64, i64, p, p, p, i64, p, p, i32, i32,
                                    ctypes.c_float, ctypes.c_float, i32, ctypes.c_uint64, i32, i32, p]
    lib.w2v_train_chunk.restype = ctypes.c_int32
    if hasattr(lib, "w2v_words_new"):  # (a build of an older kernel, in bench/kernel_ab.py, has none)
        lib.w2v_words_new.argtypes, lib.w2v_words_new.restype = [], p
        lib.w2v_words_free.argtypes, lib.w2v_words_free.restype = [p], None
        lib.w2v_words_encode.argtypes, lib.w2v_words_encode.restype = [p, ctypes.c_char_p, i64, p, i64], i64
        lib.w2v_words_list.argtypes, lib.w2v_words_list.restype = [p, i64, p, i64], i64
    return lib


class WordIds:
    """The kernel's word → id map for reading plain text (letters and spaces only, the text8 kind):
    the ids of a block's words, new words numbered in order of first appearance."""

    def __init__(self, lib):
        self.lib, self.handle = lib, lib.w2v_words_new()
        if not self.handle:
            raise MemoryError("the kernel's word map could not be allocated")

    def encode(self, text: str) -> np.ndarray | None:
        """The ids of `text`'s words (split on spaces, lower-cased), or None where `text` holds
        anything but ASCII letters and spaces (then nothing is added)."""
        if not text.isascii():
            return None
        data = text.encode("ascii")
        out = np.empty(len(data) // 2 + 1, dtype=np.int32)
        n = self.lib.w2v_words_encode(self.handle, data, len(data), out.ctypes.data, len(out))
        if n == -1:
            return None
        if n < 0:
            raise MemoryError("the kernel's word map could not grow")
        return out[:n]

    def words(self, start: int = 0) -> list[str]:
        """The words with ids from `start` on, in id order."""
        need = self.lib.w2v_words_list(self.handle, start, None, 0)
        buf = ctypes.create_string_buffer(max(need, 1))
        self.lib.w2v_words_list(self.handle, start, buf, need)
        return buf.raw[:need].decode("ascii").split("\n")[:-1]

    def close(self) -> None:
        if self.handle:
            self.lib.w2v_words_free(self.handle)
            self.handle = None

    def __enter__(self) -> "WordIds":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ptr(a) -> int:
    if hasattr(a, "data_ptr"):  # a torch tensor
        return a.data_ptr()
    return a.ctypes.data


def train_chunk(lib, in_w, out_w, ids: np.ndarray, para: np.ndarray, reduced: np.ndarray,
                alias_prob: np.ndarray, alias_idx: np.ndarray, negative: int, cbow: bool,
                lr_start: float, lr_end: float, threads: int, seed: int,
                loss_every: int = 8, noise_pool: int = -1) -> np.ndarray:
    """Train one chunk in place on the float32 tables `in_w`, `out_w` (numpy or CPU torch).

    noise_pool: -1 = K fresh noise words per pair (word2vec.c), 0 = the window's pairs share K
    (two dense products per window), m > 0 = each pair picks K from the window's m·K.
    Returns [positive loss sum, negative loss sum, tracked pairs, pairs trained]: NaN or infinite
    sums when the tables overflowed (a learning rate far too high). Raises ValueError on arguments
    the kernel cannot train (word ids outside the tables: nothing is written), MemoryError when its
    buffers cannot be allocated."""
    _check_tables(in_w, out_w)
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    para = np.ascontiguousarray(para, dtype=np.int32)
    reduced = np.ascontiguousarray(reduced, dtype=np.int32)
    alias_prob = np.ascontiguousarray(alias_prob, dtype=np.float32)
    alias_idx = np.ascontiguousarray(alias_idx, dtype=np.int32)
    V = in_w.shape[0]
    if not len(para) == len(reduced) == len(ids) or not len(alias_prob) == len(alias_idx) == V:
        raise ValueError(f"the chunk's arrays ({len(ids)}, {len(para)}, {len(reduced)}) or the noise table "
                         f"({len(alias_prob)}, {len(alias_idx)}) do not match the tables' {V} rows")
    stats = np.zeros(4, dtype=np.float64)
    code = lib.w2v_train_chunk(_ptr(in_w), _ptr(out_w), V, in_w.shape[1], _ptr(ids), _ptr(para),
                               _ptr(reduced), len(ids), _ptr(alias_prob), _ptr(alias_idx), negative,
                               int(cbow), lr_start, lr_end, threads, seed & (2**64 - 1), loss_every,
                               int(noise_pool), _ptr(stats))
    if code == 2:
        raise ValueError(f"word ids must lie in 0..{V - 1}, got {int(ids.min())}..{int(ids.max())}")
    if code == 3:
        raise MemoryError("the kernel's buffers could not be allocated")
    if code:
        raise ValueError(f"the kernel refused its sizes (dim {in_w.shape[1]}, negative {negative}, "
                         f"noise pool {noise_pool})")
    return stats


def _check_tables(in_w, out_w) -> None:
    """Both tables: 2-D, float32, C-contiguous, of one shape (the kernel indexes them as such)."""
    for t in (in_w, out_w):
        contiguous = t.is_contiguous() if hasattr(t, "is_contiguous") else t.flags.c_contiguous
        if not (str(t.dtype).endswith("float32") and contiguous and len(t.shape) == 2):
            raise ValueError(f"the tables must be 2-D contiguous float32 arrays, got {t.dtype} {tuple(t.shape)}")
    if tuple(in_w.shape) != tuple(out_w.shape):
        raise ValueError(f"the tables differ in shape: {tuple(in_w.shape)} and {tuple(out_w.shape)}")
