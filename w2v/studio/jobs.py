"""Training jobs for the app: one at a time, launched, stopped, resumed, continued, waited for, deleted.

A job is `python -m w2v train CORPUS --out RUNS/<name> ...` in its own process and session, so the
run directory stays the one contract: a reloaded page, a second tab or a restarted server reads
the job from there. Its output goes to `RUNS/<name>.log` (next to the run: the trainer refuses a
run directory that is not empty). `RUNS/.train.lock` names the run and the process (pid, host,
start time) of the job the app started; a lock whose process is gone is stale and ignored, one
from another host sharing the folder is not ours to judge. A run named by a live lock, or whose
own lock (`Run.lock`) is held, cannot be deleted: that covers a resumed job in the seconds before
it writes its state.

What the browser may show of a job's log is `job_error`: its last one-line `error: ...`, with
absolute paths reduced to their last component, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import config
from ..config import TrainConfig
from ..errors import W2VError
from ..runs import ACTIVE, ALIVE, CLOSED, DEAD, ELSEWHERE, ENDED, FINISHED, RESUMABLE, Run, atomic_write_json, \
    elsewhere, identity, list_runs, may_signal, process_state, read_json, safe_name
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


def _read_lock(root: Path) -> dict:
    lock = read_json(_lock_path(root), {})
    return lock if isinstance(lock, dict) else {}


def _named_state(root: Path, lock: dict) -> str | None:
    return Run(root / safe_name(str(lock.get("run", "")))).status().get("state")


def _holds(root: Path, lock: dict) -> bool:
    """Whether a lock still counts: its process lives here; or it runs on another host (not ours
    to judge) and the run the lock names has not ended."""
    state = process_state(lock) if lock else DEAD
    if state == ELSEWHERE:
        return _named_state(root, lock) not in ENDED
    return state == ALIVE


def _job(run: str | None, record: dict) -> dict:
    host = elsewhere(record)
    return {"run": run, "pid": record.get("pid"), **({"host": host} if host else {})}


def active_job(root: str | os.PathLike | None = None) -> dict | None:
    """{'run', 'pid'} of the job training now (with 'host' when another host holds the lock), or
    None. The app's lock counts while its process lives; a run whose status.json says running,
    by a live process of this machine (say, a CLI job), counts too."""
    _reap()
    root = Path(root or paths.runs_dir())
    lock = _read_lock(root)
    if _holds(root, lock) and _named_state(root, lock) not in ENDED:
        return _job(lock.get("run"), lock)
    for run in list_runs(root):
        st = run.status()
        if st.get("state") in ACTIVE and not elsewhere(st):
            return _job(run.name, st)
    return None


def _busy(job: dict) -> str:
    if job.get("host"):
        return _elsewhere(job["run"], job["host"], job["pid"])
    return f"run {job['run']} is training (process {job['pid']}): stop it or wait for it to finish before starting another"


def _elsewhere(run, host: str, pid) -> str:
    return (f"run {run} is training or being started on host {host} (process {pid}), which shares this runs "
            f"folder: wait for it there (if {host} no longer runs it, remove {LOCK_NAME} from the runs folder)")


@contextlib.contextmanager
def _writable(folder: Path):
    """An OSError (a folder that is a file, read-only, a full disk) as a one-line W2VError."""
    try:
        yield
    except OSError as e:
        raise W2VError(f"cannot write to the runs folder {folder} ({e.strerror or e}): make it a folder you "
                       "can write to, with free disk space (or set W2V_RUNS_DIR)") from None


@contextlib.contextmanager
def _guard(root: Path):
    """Servers sharing the runs folder take turns (flock on RUNS/.train.guard) to take the lock or
    delete a run: between one's check and its lock, another could otherwise read a lock not
    written yet as stale, or delete the run it is launching."""
    import fcntl
    root.mkdir(parents=True, exist_ok=True)
    with open(root / GUARD_NAME, "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes, or its process dies
        yield


def _acquire(root: Path, name: str) -> None:
    """Take the lock for `name` (O_EXCL: two starts cannot both win) or refuse naming the job."""
    with _guard(root):
        _acquire_locked(root, name)


def _acquire_locked(root: Path, name: str) -> None:
    job = active_job(root)
    if job:
        raise W2VError(_busy(job))
    lock = _lock_path(root)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = _read_lock(root)
            if _named_state(root, held) in CLOSED:  # a job that has just ended is still writing its last files
                _wait_gone(held, 10.0)
            if _holds(root, held):
                if host := elsewhere(held):
                    raise W2VError(_elsewhere(held.get("run"), host, held.get("pid"))) from None
                raise W2VError(f"run {held.get('run')} is being started or is ending: try again in a moment") from None
            lock.unlink(missing_ok=True)  # stale, or our own finished job
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({**identity(), "run": name, "time": time.time()}, f)
        return
    raise W2VError("could not take the training lock: try again")


def _release(root: Path) -> None:
    """Drop the lock this process took (and has not handed to a job)."""
    if _read_lock(root).get("pid") == os.getpid():
        _lock_path(root).unlink(missing_ok=True)


def _wait_gone(record: dict, timeout: float) -> None:
    """Until the process `record` names has exited (or `timeout` seconds)."""
    deadline = time.time() + timeout
    while process_state(record) == ALIVE and time.time() < deadline:
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
    atomic_write_json(_lock_path(root), {**identity(proc.pid), "run": name, "time": time.time()})
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


def start(corpus: str | os.PathLike, cfg: TrainConfig, name: str | None = None, init_from: str | None = None) -> str:
    """Launch a training job on `corpus` into RUNS/<name>, starting from the vectors of run
    `init_from` when given (`--init-from`; the trainer checks it); returns the run name.
    Refused (W2VError) while another job trains, or when the run already exists."""
    root = paths.runs_dir()
    cfg = cfg.validate()
    init = ["--init-from", str(_run(init_from).path)] if init_from else []
    corpus = Path(corpus)
    if not corpus.is_file():
        raise W2VError(f"corpus {corpus.name} does not exist: upload it again on the Corpus page")
    name = safe_name(name) if name else new_run_name(corpus, root)
    if (root / name).exists() or (root / f"{name}.log").exists():
        raise W2VError(f"a run named {name} already exists: choose another name")
    with _writable(root):
        _acquire(root, name)
        _launch(root, name, [str(corpus.resolve()), "--out", str(root / name), *config.to_args(cfg), *init])
    return name


def resume(name: str) -> str:
    """Continue a stopped or interrupted run from its last checkpoint, as a new job."""
    run = _run(name)
    state = run.status().get("state")
    if state not in RESUMABLE:
        raise W2VError(f"run {run.name} is {state or 'not started'}: only a stopped or interrupted run can resume")
    if not run.checkpoints():
        raise W2VError(f"run {run.name} has no checkpoint to resume from: start a new run instead")
    return _relaunch(run, [])


def continue_run(name: str, more_epochs: int) -> str:
    """Train a finished run for `more_epochs` more epochs, as a new job (`--resume --epochs N`): the
    learning rate falls from the run's --lr to its --min-lr again over the added epochs."""
    run = _run(name)
    state = run.status().get("state")
    if state != FINISHED:
        raise W2VError(f"run {run.name} is {state or 'not started'}: only a finished run can be continued "
                       "(resume a stopped one)")
    if not isinstance(more_epochs, int) or isinstance(more_epochs, bool) or more_epochs < 1:
        raise W2VError(f"more epochs must be a whole number of at least 1, got {more_epochs!r}")
    saved = TrainConfig.from_dict(run.config().get("train", {}))
    epochs = saved.with_values({"epochs": saved.epochs + more_epochs}).epochs  # within the bounds, or one line
    return _relaunch(run, ["--epochs", str(epochs)])


def _relaunch(run: Run, args: list[str]) -> str:
    """Launch `python -m w2v train --out RUN --resume ARGS` as a new job on an existing run."""
    root = paths.runs_dir()
    with _writable(root):
        _acquire(root, run.name)  # from here until the job ends, the lock names the run: no delete
        if not run.exists() or run.locked():
            _release(root)
            raise W2VError(f"run {run.name} was deleted or is in use by another process: "
                           "reload the page to see it as it is now")
        _launch(root, run.name, ["--out", str(run.path), "--resume", *args])
    return run.name


def _trainer(root: Path, name: str) -> dict:
    """The record (lock or status.json) of the process training run `name`, or {}: the app's
    lock while it names the run and counts, else the run's status while it says training."""
    lock = _read_lock(root)
    if lock.get("run") == name and _holds(root, lock):
        return lock
    st = Run(root / name).status()
    return st if st.get("state") in ACTIVE else {}


def stop(name: str) -> bool:
    """Ask the job training `name` to stop: SIGTERM, on which the trainer writes a checkpoint
    and marks the run stopped. Returns False when no live process of this machine trains it
    (never signals init or this process); a job of another host is refused, saying so."""
    name = safe_name(name)
    record = _trainer(paths.runs_dir(), name)
    if host := elsewhere(record):
        raise W2VError(f"run {name} is trained by process {record.get('pid')} on host {host}, which shares "
                       "this runs folder: stop it there (this server signals only its own machine's processes)")
    pid = may_signal(record)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended meanwhile
        return False
    return True


def wait(name: str, timeout: float = 60.0, poll: float = 0.2) -> dict:
    """Wait until the job of `name` has ended (for scripts and tests); returns its status."""
    root = paths.runs_dir()
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = active_job(root)
        if not job or job["run"] != name:
            lock = _read_lock(root)
            if lock.get("run") == name:  # let the process finish writing and exit
                _wait_gone(lock, max(0.0, deadline - time.time()))
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
    """Delete a run directory (and its log) inside the runs folder. Refused while a job trains it
    or is being launched for it (the app's lock names it), and while another process holds the
    run's own lock; the deletion itself holds that lock, so no trainer starts on it meanwhile."""
    run = _run(name)
    root = paths.runs_dir()
    with _writable(root), _guard(root):
        if record := _trainer(root, run.name):
            if host := elsewhere(record):
                raise W2VError(_elsewhere(run.name, host, record.get("pid")))
            raise W2VError(f"run {run.name} is training or being started (process {record.get('pid')}): "
                           "stop it before deleting it")
        with run.lock():
            shutil.rmtree(run.path)
        log_path(run.name).unlink(missing_ok=True)


def log_path(name: str) -> Path:
    """Where the job of run `name` writes its output (kept next to the run, not in it)."""
    return paths.runs_dir() / f"{safe_name(name)}.log"


def _log_end(name: str, size: int) -> str:
    try:
        with open(log_path(name), "rb") as f:
            f.seek(max(0, os.path.getsize(f.name) - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def log_tail(name: str, lines: int = 5) -> str:
    """The last lines of a job's log, for the server's side (scripts, tests): never for the
    browser, which gets `job_error`."""
    return "\n".join(_log_end(name, 4096).strip().splitlines()[-lines:])


# An absolute path: a slash not inside a word ("words/s"), then components up to a space, quote,
# bracket or separator; the replacement keeps the last component.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/'\"()\[\],;:]+/)*([^\s/'\"()\[\],;:]+)")
MAX_MESSAGE = 400  # characters of an error shown in the browser


def short_paths(text: str) -> str:
    """`text` with every absolute path reduced to its last component (the server's folders are
    nobody's business in the browser)."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), text)


def one_line(text: str) -> str:
    """An error message as the browser may show it: its first line, paths shortened, bounded."""
    lines = str(text or "").strip().splitlines()
    line = short_paths(lines[0].strip()) if lines else ""
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def error_line(output: str) -> str | None:
    """The last one-line `error: ...` the trainer wrote in `output` (the CLI prints every error so),
    as the browser may show it (`one_line`), or None: a traceback's lines never count."""
    for line in reversed(output.splitlines()):
        if line.startswith("error:") and (message := one_line(line.removeprefix("error:"))):
            return message
    return None


def job_error(name: str) -> str:
    """Why job `name` ended, as the browser may show it: the `error_line` of its latest launch;
    without one, a generic message naming the log on the server."""
    text = _log_end(name, 1 << 16)
    launch = text.rfind("\n$ ")  # each launch writes its command line first; older ones do not count
    return (error_line(text[launch + 1 if launch >= 0 else 0:])
            or f"the job ended unexpectedly; see {log_path(name).name} on the server")
