"""The run directory: the one contract between the trainer, the CLI, the app and the benchmark.

    runs/<name>/
      config.json        the TrainConfig and the corpus it ran on
      vocab.tsv          word <TAB> count, most frequent first (row i = row i of every table)
      corpus.ids         the corpus encoded as int32 vocabulary ids, -1 = paragraph boundary
      metrics.jsonl      one JSON object per event (start, step, epoch, end)
      status.json        state, pid (with its host and start time), progress, speed, final scores
      .lock              the run's own lock (Run.lock): held by the process training or deleting it
      checkpoints/       ckpt-EEE-CCCCCC.npz: both tables and the position (epoch, chunk)
      in_vectors.npy     final input table  (float32)
      out_vectors.npy    final output table (float32)

Every file is written to a temporary name and renamed into place, so a reader (or a process
killed at any moment) sees either the old file or the new one, never half of one. Nothing here
unpickles: numpy files load with allow_pickle=False.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import W2VError

# A run's state, as status.json says it (or as `Run.status` infers it), and its groups: every
# reader takes them from here.
STATES = STARTING, RUNNING, FINISHED, STOPPED, INTERRUPTED, FAILED, DIVERGED = (
    "starting", "running", "finished", "stopped", "interrupted", "failed", "diverged")
ACTIVE = (STARTING, RUNNING)  # a process trains it (while that process lives)
CLOSED = (FINISHED, STOPPED, FAILED, DIVERGED)  # written by the trainer itself as it exits
ENDED = CLOSED + (INTERRUPTED,)  # nothing trains it any more ("interrupted": its process died)
RESUMABLE = (STOPPED, INTERRUPTED, FAILED)  # may continue from its last checkpoint ("diverged" would again)
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


# ---- which process a record (status.json, a lock) names: pid, host and the process's start time

HOST = socket.gethostname()
ALIVE, DEAD, ELSEWHERE = "alive", "dead", "elsewhere"  # what process_state says


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3 on of /proc/PID/stat (Linux; after the command name, which may hold spaces), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].decode("ascii", "replace").split()
    except (OSError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks after boot (field 22 of /proc/PID/stat): a pid the
    system gives again to a later process comes with a later start. None where unknown."""
    fields = _proc_stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def identity(pid: int | None = None) -> dict:
    """{'pid', 'host', 'pid_start'} of process `pid` (this process by default): written next to every
    pid, so that a reader tells it from a later process given the same number, or from a process
    on another machine that shares the runs folder."""
    pid = os.getpid() if pid is None else int(pid)
    return {"pid": pid, "host": HOST, "pid_start": process_start(pid)}


def job_pid(value: Any) -> int | None:
    """`value` as the pid of a job, or None: 0, 1 and negative numbers name no job (os.kill would
    address a process group, init or every process), nor does anything but an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else None


def elsewhere(record: dict) -> str | None:
    """The host a record's process runs on, when that is not this machine (not ours to judge or signal)."""
    host = record.get("host")
    return host if isinstance(host, str) and host and host != HOST else None


def process_state(record: dict) -> str:
    """ALIVE, DEAD or ELSEWHERE: whether the process a record names by (host, pid, pid_start) still
    runs. A record from another host is ELSEWHERE; one without host or start time (written before
    they were recorded) is judged by its pid alone."""
    if elsewhere(record):
        return ELSEWHERE
    pid = job_pid(record.get("pid"))
    if pid is None:
        return DEAD
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return DEAD
    except PermissionError:
        pass  # it exists, run by another user
    fields = _proc_stat(pid)
    if fields is None:
        return ALIVE  # no /proc: the pid is all there is to go by
    if fields[:1] == ["Z"]:  # a zombie child of ours has exited: it is not training any more
        return DEAD
    start = record.get("pid_start")
    return DEAD if start is not None and fields[19:20] not in ([], [str(start)]) else ALIVE  # reused pid


def pid_alive(pid: Any, start: int | None = None) -> bool:
    """Whether process `pid` of this machine runs (and, given `start`, is the one that started then)."""
    return process_state({"pid": pid, "pid_start": start}) == ALIVE


def may_signal(record: dict) -> int | None:
    """The pid a record names when this process may signal it: alive on this machine, not init,
    not this process. None otherwise."""
    pid = job_pid(record.get("pid"))
    return pid if pid != os.getpid() and process_state(record) == ALIVE else None


class Run:
    """Paths and readers of one run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    vocab_path = property(lambda self: self.path / "vocab.tsv")
    ids_path = property(lambda self: self.path / "corpus.ids")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    status_path = property(lambda self: self.path / "status.json")
    lock_path = property(lambda self: self.path / ".lock")
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
        """status.json, with a 'running' job whose process is gone reported as 'interrupted'. A job
        of another host keeps the state it wrote (this machine cannot tell): `elsewhere(status)`."""
        st = read_json(self.status_path, {})
        st = st if isinstance(st, dict) else {}
        if st.get("state") in ACTIVE and process_state(st) == DEAD:
            st = {**st, "state": INTERRUPTED}
        return st

    def write_status(self, **fields: Any) -> dict:
        """Merge `fields` into status.json. A `pid` comes with its process's host and start time."""
        st = read_json(self.status_path, {})
        st = st if isinstance(st, dict) else {}
        if fields.get("pid") is not None:
            fields = {**fields, **identity(fields["pid"])}
        st.update(fields, updated=time.time())
        atomic_write_json(self.status_path, st)
        return st

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's own lock for the block: an exclusive, non-blocking flock on RUN/.lock
        (released when the block ends or the holder dies; never deleted while the run exists).
        The trainer holds it for its whole life; deleting a run takes it too. Raises W2VError
        naming the holder when another process holds it; the run directory must exist."""
        import fcntl
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666 & ~_UMASK)
        except (FileNotFoundError, NotADirectoryError):
            raise W2VError(f"there is no run directory {self.name} to lock") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise W2VError(self._in_use()) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(identity()).encode())
            yield
        finally:
            os.close(fd)

    def locked(self) -> bool:
        """Whether a process holds the run's lock (this one included, in another `lock()` block).
        It tries the lock for an instant: check with it now and then, never in a polling loop."""
        import fcntl
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def _in_use(self) -> str:
        held = read_json(self.lock_path, {})
        held = held if isinstance(held, dict) else {}
        who = f"process {held.get('pid')}" + (f" on host {held['host']}" if elsewhere(held) else "")
        return (f"run {self.name} is in use by {who if held.get('pid') else 'another process'} (training, "
                "resuming or being deleted): stop that job or wait for it, then try again")

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
