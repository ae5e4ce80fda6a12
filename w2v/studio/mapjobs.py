"""Maps computed in the background: a t-SNE (or UMAP) map as its own process, with limits, whose
result lands in the map cache (w2v.projection) while the page shows a preview and polls.

    s = request(vectors, words, "tsne", {"perplexity": 30, "seed": 0})   # starts the job if needed
    s.state        # 'done' (s.projection holds the map), 'running', 'queued' or 'failed' (s.error)
    s = poll(s.key)                                  # cheap: job files only; starts a queued job
    cancel(s.key); forget(s.key)                     # stop it; clear a failure to try again

A job is `python -m w2v.studio.mapjobs JOB_DIR` in its own process and session. Its folder,
CACHE/projections/jobs/<key>/, holds the request (job.json, input.npy, init.npy), the process
(pid.json: pid, host, start time), its output (log) and, when it failed, error.json. Limits: one
job per map key (a second request finds the first), at most MAX_JOBS at once per cache folder
(others wait, queued, and start when a poll finds a free place; at most MAX_WAITING running or
queued, each holding a copy of its vectors), LIMIT_S seconds of wall time
(the job's own alarm, and a poll past the limit kills it) and MEMORY_MB of address space. The
server never computes a t-SNE itself: this module only writes files and starts the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import projection
from ..errors import W2VError
from ..runs import ALIVE, atomic_save_npy, atomic_write_json, identity, load_npy, may_signal, process_state, \
    read_json
from . import paths

LIMIT_S = float(os.environ.get("W2V_MAP_LIMIT_S", 600))  # wall time a map job may take
MEMORY_MB = int(os.environ.get("W2V_MAP_MEMORY_MB", 4096))  # address space a map job may take
MAX_JOBS = int(os.environ.get("W2V_MAP_JOBS", 1))  # map jobs at once per cache folder (2 cores: 1)
MAX_WAITING = 8  # maps running or queued at once per cache folder: each holds a copy of its vectors
THREADS = 2  # threads a job's t-SNE uses
DONE, RUNNING, QUEUED, FAILED = "done", "running", "queued", "failed"
_procs: dict[int, subprocess.Popen] = {}  # children of this process, reaped when polled


@dataclass
class MapState:
    key: str
    state: str  # DONE | RUNNING | QUEUED | FAILED
    projection: projection.Projection | None = None  # the map, when DONE
    seconds: float = 0.0  # how long the job has run (RUNNING) or waited (QUEUED)
    error: str | None = None  # why it FAILED, one line the browser may show
    limit_s: float = LIMIT_S


def jobs_dir(cache: str | os.PathLike | None = None) -> Path:
    return Path(cache or projection.cache_dir()) / "jobs"


def _dir(key: str, cache=None) -> Path:
    if not key.isalnum():
        raise ValueError(f"not a map key: {key!r}")
    return jobs_dir(cache) / key


# --- asking for a map -----------------------------------------------------------------------
def request(vectors: np.ndarray, words: Sequence[str], method: str, params: dict,
            init: np.ndarray | None = None, cache: str | os.PathLike | None = None) -> MapState:
    """The `method` map of `vectors` (one row per word), from the cache when it is there;
    otherwise the state of its job, which this call writes and starts when none exists yet."""
    if len(words) < 2:
        raise W2VError("a map needs at least two words: widen the selection")
    params = {k: params[k] for k in sorted(params)}
    key = projection.projection_key(vectors, words, method, params, init)
    found = projection.stored(key, len(words), method, params, cache)
    if found is not None:
        return MapState(key, DONE, found)
    with _guard(cache):
        if not (_dir(key, cache) / "job.json").exists():
            if len(_waiting(cache)) >= MAX_WAITING:
                return MapState(key, FAILED, error=f"{MAX_WAITING} maps are being computed or queued already: "
                                                   "wait for them, or cancel one, then try again")
            _write_job(_dir(key, cache), vectors, words, method, params, init)
    return poll(key, cache)


def _write_job(folder: Path, vectors, words, method: str, params: dict, init) -> None:
    """The request as files the job reads: input.npy, init.npy and job.json (written last)."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(folder / "input.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    if init is not None:
        atomic_save_npy(folder / "init.npy", np.asarray(init, np.float32))
    atomic_write_json(folder / "job.json", {"method": method, "params": params, "words": list(words),
                                            "n": len(words), "created": time.time()})


def poll(key: str, cache: str | os.PathLike | None = None) -> MapState:
    """The state of map `key` from its files; a queued job starts here when there is a place,
    a job past its time limit is killed, and a finished one's folder is removed."""
    _reap()
    folder = _dir(key, cache)
    job = read_json(folder / "job.json")
    if not isinstance(job, dict):
        return MapState(key, FAILED, error="this map was never requested, or its request was removed: ask again")
    found = projection.stored(key, job["n"], job["method"], job["params"], cache)
    if found is not None:
        shutil.rmtree(folder, ignore_errors=True)
        return MapState(key, DONE, found)
    if (err := read_json(folder / "error.json")) is not None:
        return MapState(key, FAILED, error=str((err or {}).get("error") or "the map job failed"))
    pid = read_json(folder / "pid.json")
    if isinstance(pid, dict):
        return _running(key, folder, pid, cache)
    with _guard(cache):
        if not (folder / "pid.json").exists() and len(_live(cache)) < MAX_JOBS:
            _launch(folder, cache)
            return MapState(key, RUNNING)
    return MapState(key, QUEUED, seconds=time.time() - float(job.get("created", time.time())))


def _running(key: str, folder: Path, pid: dict, cache) -> MapState:
    """A started job: running, or failed when its process has gone without a result."""
    elapsed = time.time() - float(pid.get("time", time.time()))
    if process_state(pid) == ALIVE:
        if elapsed <= LIMIT_S + 5:
            return MapState(key, RUNNING, seconds=elapsed)
        _kill(pid)  # its own alarm should have ended it
    found = projection.stored(key, *_shape(folder), cache)  # it may have finished meanwhile
    if found is not None:
        shutil.rmtree(folder, ignore_errors=True)
        return MapState(key, DONE, found)
    why = read_json(folder / "error.json") or {"error": _why_ended(pid, elapsed)}
    atomic_write_json(folder / "error.json", why)
    return MapState(key, FAILED, seconds=elapsed, error=why["error"])


def _shape(folder: Path) -> tuple[int, str, dict]:
    job = read_json(folder / "job.json", {})
    return job.get("n", 0), job.get("method", ""), job.get("params", {})


def _why_ended(pid: dict, elapsed: float) -> str:
    """Why a job's process ended without a map, from its exit status when it was our child."""
    _reap()  # it may have died since poll() last reaped (a zombie until then)
    status = _exited.pop(pid.get("pid"), None)
    if status == -signal.SIGALRM or elapsed > LIMIT_S:
        return f"the map took longer than its limit of {LIMIT_S:.0f} s: map fewer words, or raise W2V_MAP_LIMIT_S"
    if status in (-signal.SIGKILL, -signal.SIGTERM):
        return "the map job was stopped before it finished (out of memory, or killed): try again, or map fewer words"
    why = f" (exit status {status})" if status is not None else ""
    return f"the map job ended without a map{why}: try again, or map fewer words"


def cancel(key: str, cache: str | os.PathLike | None = None) -> bool:
    """Stop map `key`'s job (its process group, or its place in the queue); it then reads as
    failed, 'cancelled'. False when there is no such job."""
    folder = _dir(key, cache)
    if not (folder / "job.json").exists():
        return False
    pid = read_json(folder / "pid.json")
    if isinstance(pid, dict):
        _kill(pid)
    atomic_write_json(folder / "error.json", {"error": "the map was cancelled: press Try again to compute it"})
    return True


def forget(key: str, cache: str | os.PathLike | None = None) -> None:
    """Remove map `key`'s job (a failed or cancelled one), so that the next request starts anew."""
    folder = _dir(key, cache)
    pid = read_json(folder / "pid.json")
    if isinstance(pid, dict):
        _kill(pid)
    shutil.rmtree(folder, ignore_errors=True)


def wait(key: str, timeout: float = 120.0, cache: str | os.PathLike | None = None) -> MapState:
    """Poll map `key` until it is done or failed (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        s = poll(key, cache)
        if s.state in (DONE, FAILED) or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


# --- the processes --------------------------------------------------------------------------
_exited: dict[int, int] = {}  # exit status of children reaped here, by pid


def _reap() -> None:
    for pid, p in list(_procs.items()):
        if p.poll() is not None:
            _exited[pid] = p.returncode
            del _procs[pid]


def _waiting(cache) -> list[Path]:
    """Job folders that are running or queued (not failed)."""
    root = jobs_dir(cache)
    return [d for d in (root.iterdir() if root.is_dir() else ()) if (d / "job.json").exists()
            and not (d / "error.json").exists()]


def _live(cache) -> list[Path]:
    """Job folders whose process runs."""
    root = jobs_dir(cache)
    return [d for d in (root.iterdir() if root.is_dir() else ()) if d.is_dir()
            and isinstance(pid := read_json(d / "pid.json"), dict) and process_state(pid) == ALIVE]


@contextlib.contextmanager
def _guard(cache):
    """Requests and polls take turns (flock on jobs/.guard): two cannot start one map twice, nor
    more than MAX_JOBS maps, even from two servers sharing the cache."""
    import fcntl
    root = jobs_dir(cache)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".guard", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        yield


def _launch(folder: Path, cache) -> None:
    cmd = [sys.executable, "-m", "w2v.studio.mapjobs", str(folder), str(Path(cache or projection.cache_dir()))]
    with open(folder / "log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=paths.ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _procs[proc.pid] = proc
    atomic_write_json(folder / "pid.json", {**identity(proc.pid), "time": time.time()})


def _kill(pid: dict) -> bool:
    """SIGKILL the process group of the job `pid` names, when it is ours to signal."""
    target = may_signal(pid)
    if target is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(target, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while process_state(pid) == ALIVE and time.monotonic() < deadline:
        _reap()
        time.sleep(0.02)
    return True


# --- the job itself (its own process) -------------------------------------------------------
def run_job(folder: Path, cache: Path) -> int:
    """Compute the map a job folder asks for into the cache, under the limits; 0 when stored."""
    signal.alarm(int(LIMIT_S) + 1)  # wall time: the default action ends the process
    limit = MEMORY_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    job = json.loads((folder / "job.json").read_text())
    x = load_npy(folder / "input.npy")
    init = load_npy(folder / "init.npy") if (folder / "init.npy").exists() else None
    try:
        projection.project(x, job["words"], job["method"], cache=cache, init=init, **job["params"])
    except W2VError as e:
        atomic_write_json(folder / "error.json", {"error": str(e)})
        return 2
    except MemoryError:
        atomic_write_json(folder / "error.json", {"error": f"the map needed more than its {MEMORY_MB:,} MB of "
                                                           "memory: map fewer words, or raise W2V_MAP_MEMORY_MB"})
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1]), Path(sys.argv[2])))
