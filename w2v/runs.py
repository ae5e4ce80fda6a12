"""The run directory: the one contract between the trainer, the CLI, the app and the benchmark.

    runs/<name>/
      config.json        the TrainConfig and the corpus it ran on
      vocab.tsv          word <TAB> count, most frequent first (row i = row i of every table)
      corpus.ids         the corpus encoded as int32 vocabulary ids, -1 = paragraph boundary
      metrics.jsonl      one JSON object per event (start, step, epoch, end)
      status.json        state, pid, progress, speed, final scores
      checkpoints/       ckpt-EEE-CCCCCC.npz: both tables and the position (epoch, chunk)
      in_vectors.npy     final input table  (float32)
      out_vectors.npy    final output table (float32)

Every file is written to a temporary name and renamed into place, so a reader (or a process
killed at any moment) sees either the old file or the new one, never half of one. Nothing here
unpickles: numpy files load with allow_pickle=False.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import W2VError

# A run's state, as status.json says it (or as `Run.status` infers it), and its groups: every
# reader takes them from here.
STATES = STARTING, RUNNING, FINISHED, STOPPED, INTERRUPTED, FAILED = (
    "starting", "running", "finished", "stopped", "interrupted", "failed")
ACTIVE = (STARTING, RUNNING)  # a process trains it (while that process lives)
CLOSED = (FINISHED, STOPPED, FAILED)  # written by the trainer itself as it exits
ENDED = CLOSED + (INTERRUPTED,)  # nothing trains it any more ("interrupted": its process died)
RESUMABLE = (STOPPED, INTERRUPTED, FAILED)  # may continue from its last checkpoint
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_CKPT_RE = re.compile(r"^ckpt-(\d{3,})-(\d{6,})\.npz$")


def _atomic(path: str | os.PathLike, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    _atomic(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def atomic_save_npy(path: str | os.PathLike, arr: np.ndarray) -> None:
    _atomic(path, lambda f: np.save(f, np.ascontiguousarray(arr), allow_pickle=False))


def atomic_save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    _atomic(path, lambda f: np.savez(f, **arrays))


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return default  # missing (or below a plain file), or not whole JSON


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours has exited: it is not training any more
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class Run:
    """Paths and readers of one run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    vocab_path = property(lambda self: self.path / "vocab.tsv")
    ids_path = property(lambda self: self.path / "corpus.ids")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    status_path = property(lambda self: self.path / "status.json")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    in_vectors_path = property(lambda self: self.path / "in_vectors.npy")
    out_vectors_path = property(lambda self: self.path / "out_vectors.npy")

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return self.config_path.exists()

    def config(self) -> dict:
        cfg = read_json(self.config_path)
        if cfg is None:
            raise W2VError(f"{self.path} is not a run directory (no config.json): train one with `python -m w2v train`")
        return cfg

    def status(self) -> dict:
        """status.json, with a 'running' job whose process is gone reported as 'interrupted'."""
        st = read_json(self.status_path, {}) or {}
        if st.get("state") in ACTIVE and not pid_alive(st.get("pid")):
            st = {**st, "state": INTERRUPTED}
        return st

    def write_status(self, **fields: Any) -> dict:
        st = read_json(self.status_path, {}) or {}
        st.update(fields, updated=time.time())
        atomic_write_json(self.status_path, st)
        return st

    def append_metric(self, event: dict) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(line)

    def metrics(self, since: int = 0) -> tuple[list[dict], int]:
        """Events from byte offset `since`; returns them and the offset to read from next time.
        A trailing line still being written is left for the next call."""
        try:
            with open(self.metrics_path, "rb") as f:
                f.seek(since)
                data = f.read()
        except FileNotFoundError:
            return [], since
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events, since + end

    def checkpoints(self) -> list[tuple[int, int, Path]]:
        """(epoch, chunk, path) of every checkpoint, oldest first. (e, 0) = start of epoch e."""
        out = []
        if self.checkpoints_dir.is_dir():
            for p in self.checkpoints_dir.iterdir():
                m = _CKPT_RE.match(p.name)
                if m:
                    out.append((int(m.group(1)), int(m.group(2)), p))
        return sorted(out)

    def checkpoint_path(self, epoch: int, chunk: int) -> Path:
        return self.checkpoints_dir / f"ckpt-{epoch:03d}-{chunk:06d}.npz"

    def save_checkpoint(self, epoch: int, chunk: int, in_vectors: np.ndarray,
                        out_vectors: np.ndarray, state: dict) -> Path:
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_path(epoch, chunk)
        atomic_save_npz(path, in_vectors=in_vectors, out_vectors=out_vectors,
                        state=np.array(json.dumps(state)))
        return path

    @staticmethod
    def load_checkpoint(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
        with np.load(path, allow_pickle=False) as z:
            return z["in_vectors"], z["out_vectors"], json.loads(str(z["state"]))


def list_runs(root: str | os.PathLike) -> Iterator[Run]:
    root = Path(root)
    if not root.is_dir():
        return
    for p in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        run = Run(p)
        if p.is_dir() and run.exists():
            yield run


_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, default: str = "run") -> str:
    """A file-system-safe name: letters, digits, dot, dash, underscore; never '.', '..' or hidden."""
    name = _SAFE_RE.sub("-", name).strip(".-_")[:64]
    return name or default
