"""Training jobs for the app: one at a time, launched, stopped, resumed, waited for, deleted.

A job is `python -m w2v train CORPUS --out RUNS/<name> ...` in its own process and session, so the
run directory stays the one contract: a reloaded page, a second tab or a restarted server reads
the job from there. Its output goes to `RUNS/<name>.log` (next to the run: the trainer refuses a
run directory that is not empty). `RUNS/.train.lock` holds the pid and run of the job the app
started; a lock whose pid is dead is stale and ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import config
from ..config import TrainConfig
from ..errors import W2VError
from ..runs import ACTIVE, CLOSED, ENDED, RESUMABLE, Run, atomic_write_json, list_runs, pid_alive, read_json, \
    safe_name
from . import paths

LOCK_NAME = ".train.lock"
GUARD_NAME = ".train.guard"  # serialises taking the lock
_procs: dict[int, subprocess.Popen] = {}  # children of this process, reaped when polled


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def _reap() -> None:
    for pid, p in list(_procs.items()):
        if p.poll() is not None:
            del _procs[pid]


def active_job(root: str | os.PathLike | None = None) -> dict | None:
    """{'run', 'pid'} of the job training now, or None. The app's lock counts while its pid
    lives; a run whose status.json says running with a live pid (say, a CLI job) counts too."""
    _reap()
    root = Path(root or paths.runs_dir())
    lock = read_json(_lock_path(root))
    if isinstance(lock, dict) and pid_alive(lock.get("pid")):
        st = Run(root / str(lock.get("run", ""))).status()
        if st.get("state") not in ENDED:
            return {"run": lock.get("run"), "pid": lock.get("pid")}
    for run in list_runs(root):
        st = run.status()
        if st.get("state") in ACTIVE:
            return {"run": run.name, "pid": st.get("pid")}
    return None


@contextlib.contextmanager
def _writable(folder: Path):
    """An OSError (a folder that is a file, read-only, a full disk) as a one-line W2VError."""
    try:
        yield
    except OSError as e:
        raise W2VError(f"cannot write to the runs folder {folder} ({e.strerror or e}): make it a folder you "
                       "can write to, with free disk space (or set W2V_RUNS_DIR)") from None


def _acquire(root: Path, name: str) -> None:
    """Take the lock for `name` (O_EXCL: two starts cannot both win) or refuse naming the job.
    Servers sharing the runs folder take turns here (flock on RUNS/.train.guard): between one's
    check and its lock, another could otherwise read a lock not written yet as stale."""
    import fcntl
    root.mkdir(parents=True, exist_ok=True)
    with open(root / GUARD_NAME, "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes, or its process dies
        _acquire_locked(root, name)


def _acquire_locked(root: Path, name: str) -> None:
    job = active_job(root)
    if job:
        raise W2VError(f"run {job['run']} is training (process {job['pid']}): "
                       "stop it or wait for it to finish before starting another")
    lock = _lock_path(root)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = read_json(lock) or {}
            if _exiting(root, held):  # a job that has just ended is still writing its last files
                _wait_pid(held.get("pid"), 10.0)
            if pid_alive(held.get("pid")):
                raise W2VError(f"run {held.get('run')} is being started or is ending: try again in a moment") from None
            lock.unlink(missing_ok=True)  # stale, or our own finished job
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "run": name, "time": time.time()}, f)
        return
    raise W2VError("could not take the training lock: try again")


def _exiting(root: Path, lock: dict) -> bool:
    return Run(root / str(lock.get("run", ""))).status().get("state") in CLOSED


def _wait_pid(pid, timeout: float) -> None:
    deadline = time.time() + timeout
    while pid_alive(pid) and time.time() < deadline:
        _reap()
        time.sleep(0.05)


def _launch(root: Path, name: str, args: list[str]) -> subprocess.Popen:
    log = open(root / f"{name}.log", "ab")
    try:
        cmd = [sys.executable, "-m", "w2v", "train", *args, "--quiet"]
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=paths.ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except BaseException:
        _lock_path(root).unlink(missing_ok=True)
        raise
    finally:
        log.close()
    _procs[proc.pid] = proc
    atomic_write_json(_lock_path(root), {"pid": proc.pid, "run": name, "time": time.time()})
    return proc


def new_run_name(corpus: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """'<corpus stem>-<date-time>', unique in the runs folder."""
    root = Path(root or paths.runs_dir())
    stem = Path(corpus).name.split(".")[0]
    base = safe_name(f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    name, k = base, 1
    while (root / name).exists() or (root / f"{name}.log").exists():
        k += 1
        name = f"{base}-{k}"
    return name


def start(corpus: str | os.PathLike, cfg: TrainConfig, name: str | None = None) -> str:
    """Launch a training job on `corpus` into RUNS/<name>; returns the run name.
    Refused (W2VError) while another job trains, or when the run already exists."""
    root = paths.runs_dir()
    cfg = cfg.validate()
    corpus = Path(corpus)
    if not corpus.is_file():
        raise W2VError(f"corpus {corpus.name} does not exist: upload it again on the Corpus page")
    name = safe_name(name) if name else new_run_name(corpus, root)
    if (root / name).exists() or (root / f"{name}.log").exists():
        raise W2VError(f"a run named {name} already exists: choose another name")
    with _writable(root):
        _acquire(root, name)
        _launch(root, name, [str(corpus.resolve()), "--out", str(root / name), *config.to_args(cfg)])
    return name


def resume(name: str) -> str:
    """Continue a stopped or interrupted run from its last checkpoint, as a new job."""
    root = paths.runs_dir()
    run = _run(name)
    state = run.status().get("state")
    if state not in RESUMABLE:
        raise W2VError(f"run {run.name} is {state or 'not started'}: only a stopped or interrupted run can resume")
    if not run.checkpoints():
        raise W2VError(f"run {run.name} has no checkpoint to resume from: start a new run instead")
    with _writable(root):
        _acquire(root, run.name)
        _launch(root, run.name, ["--out", str(run.path), "--resume"])
    return run.name


def stop(name: str) -> bool:
    """Ask the job training `name` to stop: SIGTERM, on which the trainer writes a checkpoint
    and marks the run stopped. Returns False when no live process trains it."""
    root = paths.runs_dir()
    pid = Run(root / safe_name(name)).status().get("pid")
    lock = read_json(_lock_path(root)) or {}
    if lock.get("run") == safe_name(name) and pid_alive(lock.get("pid")):
        pid = lock["pid"]
    if not pid_alive(pid) or pid == os.getpid():
        return False
    os.kill(int(pid), signal.SIGTERM)
    return True


def wait(name: str, timeout: float = 60.0, poll: float = 0.2) -> dict:
    """Wait until the job of `name` has ended (for scripts and tests); returns its status."""
    root = paths.runs_dir()
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = active_job(root)
        if not job or job["run"] != name:
            lock = read_json(_lock_path(root)) or {}
            if lock.get("run") == name:  # let the process finish writing and exit
                _wait_pid(lock.get("pid"), max(0.0, deadline - time.time()))
            return Run(root / name).status()
        time.sleep(poll)
    raise W2VError(f"run {name} still training after {timeout:.0f} s")


def _run(name: str) -> Run:
    root = paths.runs_dir().resolve()
    path = (root / safe_name(name)).resolve()
    if path.parent != root or not Run(path).exists():
        raise W2VError(f"there is no run named {name} in {root.name}/: pick one from the runs list")
    return Run(path)


def delete_run(name: str) -> None:
    """Delete a run directory (and its log) inside the runs folder; refused while it trains."""
    run = _run(name)
    job = active_job()
    if job and job["run"] == run.name:
        raise W2VError(f"run {run.name} is training: stop it before deleting it")
    shutil.rmtree(run.path)
    log_path(run.name).unlink(missing_ok=True)


def log_path(name: str) -> Path:
    """Where the job of run `name` writes its output (kept next to the run, not in it)."""
    return paths.runs_dir() / f"{safe_name(name)}.log"


def log_tail(name: str, lines: int = 5) -> str:
    """The last lines of a job's log (where a job that died before writing its status said why)."""
    try:
        with open(log_path(name), "rb") as f:
            f.seek(max(0, os.path.getsize(f.name) - 4096))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
