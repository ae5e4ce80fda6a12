"""The run directory: the one contract between the trainer, the CLI, the app and the benchmark.

    runs/<name>/
      config.json        the TrainConfig and the corpus it ran on
      vocab.tsv          word <TAB> count, most frequent first (row i = row i of every table)
      corpus.ids         the corpus encoded as int32 vocabulary ids, -1 = paragraph boundary
      metrics.jsonl      one JSON object per event (vocab, start, step, epoch, stopped, end, and
                         diverged, bad_checkpoint); a resume drops those after its checkpoint
                         (and a continued run its 'end')
      status.json        state, pid (with its host and start time), progress, speed, final scores
      .lock              the run's own lock (Run.lock): held by the process training or deleting it
      checkpoints/       ckpt-EEE-CCCCCC.npz: both tables and the position (epoch, chunk); at most
                         12 start-of-epoch ones and the latest are kept
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
import zipfile
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


def _atomic(path: str | os.PathLike, write, durable: bool = True) -> None:
    """Write `path` whole or not at all (a temporary file renamed over it); `durable`: on disk
    before the rename (fsync), which a file rewritten every few seconds can do without."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, durable: bool = True) -> None:
    _atomic(path, lambda f: f.write(text.encode("utf-8")), durable)


def atomic_write_json(path: str | os.PathLike, obj: Any, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n", durable)


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
        # Rewritten every round while a run trains: whole for every reader (the rename), but not
        # synced to disk each time (a sync stalls training; after a crash the pid tells the state).
        atomic_write_json(self.status_path, st, durable=False)
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

    def rewind_metrics(self, words_done: int) -> None:
        """Drop the events written after training stood at `words_done` (the checkpoint a run
        resumes from) and an 'end' (a finished run continued): metrics.jsonl keeps its lines up to
        the first such event, and no
        half-written last line, rewritten atomically in its format; a resumed run's step events
        then never go back."""
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return
        end = 0
        while (nl := data.find(b"\n", end)) >= 0 and not _past(data[end:nl], words_done):
            end = nl + 1
        if end < len(data):
            _atomic(self.metrics_path, lambda f: f.write(data[:end]))

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

    def remove_checkpoints(self, paths: list[Path]) -> None:
        for p in paths:
            Path(p).unlink(missing_ok=True)

    @staticmethod
    def load_checkpoint(path: str | os.PathLike, shape: tuple[int, int] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Both tables and the state of a checkpoint. Raises DamagedCheckpoint when it does not
        load whole (truncated, not a zip, a table missing) or, given `shape` (the run's (V, dim)),
        when its tables are not float32 of that shape or its state does not say where training
        stood. The tables' headers are read before their data: a header claiming a huge table
        allocates nothing."""
        path = Path(path)
        try:
            if shape is not None:
                _check_tables(path, tuple(shape))
            with np.load(path, allow_pickle=False) as z:
                in_w, out_w, state = z["in_vectors"], z["out_vectors"], json.loads(str(z["state"]))
        except (OSError, EOFError, ValueError, KeyError, TypeError, MemoryError, zipfile.BadZipFile) as e:
            raise DamagedCheckpoint(path, f"{e.__class__.__name__}: {e}") from None
        if shape is not None:
            _check_state(path, state)
        return in_w, out_w, state


class DamagedCheckpoint(W2VError):
    """A checkpoint that does not load whole, or whose tables or state are not its run's."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"checkpoint {self.path.name} is damaged ({reason}): pick another checkpoint, or "
                         "resume the run, which falls back to its last good checkpoint")


def _check_tables(path: Path, shape: tuple[int, int]) -> None:
    """Both tables of checkpoint `path` are float32 of `shape`, from their .npy headers alone."""
    fmt = np.lib.format
    with zipfile.ZipFile(path) as zf:
        for name in ("in_vectors", "out_vectors"):
            with zf.open(f"{name}.npy") as f:
                version = fmt.read_magic(f)
                read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
                if read is None:
                    raise ValueError(f"{name} is in .npy format {version}")
                found, _, dtype = read(f)
            if found != shape or dtype != np.dtype(np.float32):
                raise DamagedCheckpoint(path, f"{name} is {dtype} of shape {found}, the run needs float32 of "
                                              f"shape {shape}")


def _check_state(path: Path, state: Any) -> None:
    """A checkpoint's state says where training stood (whole numbers), as its name does."""
    keys = ("epoch", "chunk", "words_done")
    if not isinstance(state, dict) or not all(type(state.get(k)) is int and state[k] >= 0 for k in keys):
        raise DamagedCheckpoint(path, "its state does not say where training stood")
    m = _CKPT_RE.match(path.name)
    if m and (state["epoch"], state["chunk"]) != (int(m.group(1)), int(m.group(2))):
        raise DamagedCheckpoint(path, f"its state is epoch {state['epoch']}, chunk {state['chunk']}")


def _past(line: bytes, words_done: int) -> bool:
    """Whether a metrics line is an event of training past `words_done`, or the end of a run that
    training goes on from (a finished run continued)."""
    try:
        event = json.loads(line)
    except ValueError:
        return False
    done = event.get("words_done") if isinstance(event, dict) else None
    return type(done) in (int, float) and done > words_done or event.get("event") == "end"


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
