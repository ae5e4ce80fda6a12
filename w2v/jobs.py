"""Training jobs for the app: launch, stop, resume, one at a time; uploads; the pre-flight
estimate; and folding a run's metrics.jsonl into what the training page draws.
This module never imports streamlit.

A job is `python -m w2v train CORPUS --out RUNS/<name> ...` in its own process and session, so the
run directory stays the one contract: a reloaded page, a second tab or a restarted server reads
the job from there. Its output goes to `RUNS/<name>.log` (next to the run: the trainer refuses a
run directory that is not empty). `RUNS/.train.lock` holds the pid and run of the job the app
started; a lock whose pid is dead is stale and ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import app_support
from .corpus import iter_token_blocks
from .errors import W2VError
from .runs import Run, atomic_write_json, list_runs, pid_alive, read_json, safe_name
from . import config
from .config import TrainConfig

LOCK_NAME = ".train.lock"
GUARD_NAME = ".train.guard"  # serialises taking the lock
MIN_WORDS = 100  # an upload with fewer words cannot train anything
CORPUS_SUFFIXES = (".txt", ".gz", ".bz2", ".xz")
ACTIVE = ("starting", "running")
_procs: dict[int, subprocess.Popen] = {}  # children of this process, reaped when polled


runs_dir, corpora_dir = app_support.runs_dir, app_support.corpora_dir


# ---------------------------------------------------------------- corpora

def list_corpora() -> list[Path]:
    """The bundled sample, then the stored uploads (newest first)."""
    d = corpora_dir()
    stored = [p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
              and p.name.endswith(CORPUS_SUFFIXES)] if d.is_dir() else []
    return [Path(app_support.SAMPLE_CORPUS)] + sorted(stored, key=lambda p: p.stat().st_mtime, reverse=True)


def _kind(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return ".txt.gz"
    if head[:3] == b"BZh":
        return ".txt.bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return ".txt.xz"
    return ".txt"


def save_upload(filename: str, data: bytes | BinaryIO, min_words: int = MIN_WORDS) -> Path:
    """Store an uploaded corpus in the corpora folder under a sanitised name and return its path.

    The upload is written to a temporary file, read through once as the trainer would read it,
    and only then renamed into place; the file name only contributes a sanitised stem, and an
    existing file is never overwritten (an identical one is reused). Raises W2VError, leaving
    nothing stored, for an empty, binary, non-UTF-8, truncated or too-short upload."""
    d = corpora_dir()
    with _writable(d, "the corpora folder"):
        return _save_upload(d, filename, data, min_words)


def _save_upload(d: Path, filename: str, data: bytes | BinaryIO, min_words: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    base = Path(str(filename or "corpus").replace("\\", "/")).name
    for suffix in (".gz", ".bz2", ".xz", ".txt"):
        base = base[: -len(suffix)] if base.lower().endswith(suffix) else base
    stem = safe_name(base, "corpus")
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray)):
                f.write(data)
            else:
                if hasattr(data, "seek"):
                    data.seek(0)
                shutil.copyfileobj(data, f, 1 << 20)
            f.flush()
            os.fsync(f.fileno())
        size = os.path.getsize(tmp)
        if size == 0:
            raise W2VError(f"{base or 'the upload'} is empty: upload a .txt, .gz or .bz2 file with text in it")
        with open(tmp, "rb") as f:
            head = f.read(8192)
        kind = _kind(head)
        if kind == ".txt" and b"\x00" in head:
            raise W2VError(f"{base} looks like a binary file, not text: upload a plain UTF-8 text file")
        words = sum(len(block) - block.count("") for block in iter_token_blocks(tmp))
        if words < min_words:
            raise W2VError(f"{base} has only {words} words: upload a text with at least {min_words} words")
        target = d / f"{stem}{kind}"
        os.chmod(tmp, 0o644)
        k = 1
        while True:
            if target.exists() and target.stat().st_size == size and _same(target, tmp):
                return target  # the same file is stored already
            try:
                os.link(tmp, target)  # unlike a rename, never replaces a file stored meanwhile
                return target
            except FileExistsError:
                k += 1
                target = d / f"{stem}-{k}{kind}"
    except W2VError as e:  # the temporary name would only confuse: name the upload instead
        raise W2VError(str(e).replace(Path(tmp).name, base)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _same(a: Path, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


# ---------------------------------------------------------------- the form

def config_fields() -> list[dict]:
    """TrainConfig's fields for a form: name, type, default, help, choices (from the schema)."""
    return [{"name": x.name, "type": "str" if x.type == "words" else x.type, "default": x.default,
             "help": x.help, "choices": list(x.choices) if x.choices else None} for x in config.settings()]


def make_config(values: dict, preset: str = "word2vec") -> TrainConfig:
    """A validated TrainConfig from form values on top of a preset ('word2vec' or 'seed')."""
    return TrainConfig.preset(preset).with_values(values)


def cli_args(cfg: TrainConfig) -> list[str]:
    """The `python -m w2v train` flags that reproduce `cfg` exactly."""
    return config.to_args(cfg)


# ---------------------------------------------------------------- jobs

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
    root = Path(root or runs_dir())
    lock = read_json(_lock_path(root))
    if isinstance(lock, dict) and pid_alive(lock.get("pid")):
        st = Run(root / str(lock.get("run", ""))).status()
        if st.get("state") not in ("finished", "stopped", "failed", "interrupted"):
            return {"run": lock.get("run"), "pid": lock.get("pid")}
    for run in list_runs(root):
        st = run.status()
        if st.get("state") in ACTIVE:
            return {"run": run.name, "pid": st.get("pid")}
    return None


@contextlib.contextmanager
def _writable(folder: Path, what: str = "the runs folder"):
    """An OSError (a folder that is a file, read-only, a full disk) as a one-line W2VError."""
    try:
        yield
    except OSError as e:
        raise W2VError(f"cannot write to {what} {folder} ({e.strerror or e}): make it a folder you can "
                       "write to, with free disk space (or set W2V_RUNS_DIR / W2V_CORPORA_DIR)") from None


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
    return Run(root / str(lock.get("run", ""))).status().get("state") in ("finished", "stopped", "failed")


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
        proc = subprocess.Popen(cmd, cwd=app_support.ROOT, stdin=subprocess.DEVNULL, stdout=log,
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
    root = Path(root or runs_dir())
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
    root = runs_dir()
    cfg = cfg.validate()
    corpus = Path(corpus)
    if not corpus.is_file():
        raise W2VError(f"corpus {corpus.name} does not exist: upload it again on the Corpus page")
    name = safe_name(name) if name else new_run_name(corpus, root)
    if (root / name).exists() or (root / f"{name}.log").exists():
        raise W2VError(f"a run named {name} already exists: choose another name")
    with _writable(root):
        _acquire(root, name)
        _launch(root, name, [str(corpus.resolve()), "--out", str(root / name), *cli_args(cfg)])
    return name


def resume(name: str) -> str:
    """Continue a stopped or interrupted run from its last checkpoint, as a new job."""
    root = runs_dir()
    run = _run(name)
    state = run.status().get("state")
    if state not in ("stopped", "interrupted", "failed"):
        raise W2VError(f"run {run.name} is {state or 'not started'}: only a stopped or interrupted run can resume")
    if not run.checkpoints():
        raise W2VError(f"run {run.name} has no checkpoint to resume from: start a new run instead")
    with _writable(root):
        _acquire(root, run.name)
        _launch(root, run.name, ["--out", str(run.path), "--resume"])
    return run.name


def stop(name: str) -> bool:
    """Ask the job training `name` to stop: SIGTERM, on which the trainer writes a checkpoint
    and marks the run 'stopped'. Returns False when no live process trains it."""
    root = runs_dir()
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
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = active_job()
        if not job or job["run"] != name:
            lock = read_json(_lock_path(runs_dir())) or {}
            if lock.get("run") == name:  # let the process finish writing and exit
                _wait_pid(lock.get("pid"), max(0.0, deadline - time.time()))
            return Run(runs_dir() / name).status()
        time.sleep(poll)
    raise W2VError(f"run {name} still training after {timeout:.0f} s")


def _run(name: str) -> Run:
    root = runs_dir().resolve()
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
    (run.path.parent / f"{run.name}.log").unlink(missing_ok=True)


def log_tail(name: str, lines: int = 5) -> str:
    """The last lines of a job's log (where a job that died before writing its status said why)."""
    try:
        with open(runs_dir() / f"{safe_name(name)}.log", "rb") as f:
            f.seek(max(0, os.path.getsize(f.name) - 4096))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def runs_rows() -> list[dict]:
    """The runs table (app_support.runs_table) with each run's corpus and started time."""
    root = runs_dir()
    rows = app_support.runs_table(root)
    for row in rows:
        cfg = read_json(root / row["run"] / "config.json", {}) or {}
        train = cfg.get("train", {})
        row.update(window=train.get("window"), min_count=train.get("min_count"), lr=train.get("lr"),
                   corpus=Path(cfg.get("corpus") or "?").name)
        row["created"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(cfg.get("created") or 0))
    return rows


# ---------------------------------------------------------------- pre-flight estimate

def estimate(corpus: str | os.PathLike, cfg: TrainConfig, summary=None, calibrate: bool = True,
             prefix_tokens: int = 60_000) -> dict:
    """Vocabulary size, parameter memory (2 x V x dim float32), expected pairs per epoch and,
    with `calibrate`, words/s measured by training one epoch on a prefix of the corpus in a
    temporary folder, turned into an estimated training time."""
    from . import corpus_stats
    from .train import train
    s = summary or corpus_stats.summarize_cached(corpus, cfg.keep_punct)
    vocab = corpus_stats.vocab_at(s, cfg.min_count, cfg.max_vocab)
    kept = vocab.total * corpus_stats.kept_share(vocab, cfg.sample)
    out = {"vocab_size": len(vocab), "vocab_tokens": vocab.total,
           "param_bytes": 2 * len(vocab) * cfg.dim * 4,
           "pairs_per_epoch": int(kept * (cfg.window + 1)),  # 2 * E[b], b uniform in 1..window
           "words_per_sec": None, "seconds": None}
    if not calibrate or len(vocab) < 2:
        return out
    with tempfile.TemporaryDirectory(prefix="w2v-calibrate-") as tmp:
        text, n = [], 0
        for block in iter_token_blocks(corpus, cfg.keep_punct):
            text.append(" ".join(t if t else "\n\n" for t in block))
            n += len(block)
            if n >= prefix_tokens:
                break
        words = " ".join(text).split(" ")[:prefix_tokens]
        Path(tmp, "prefix.txt").write_text(" ".join(words) + "\n", encoding="utf-8")
        small = dataclasses.replace(cfg, epochs=1, eval="none", probe_words=())
        try:
            st = train(Path(tmp, "prefix.txt"), Path(tmp, "run"), small, analogies=None, similarity=None)
        except W2VError:
            small = dataclasses.replace(small, min_count=1, max_vocab=0)
            st = train(Path(tmp, "prefix.txt"), Path(tmp, "run2"), small, analogies=None, similarity=None)
    wps = float(st.get("words_per_sec") or 0)
    if wps > 0:
        out["words_per_sec"] = wps
        out["seconds"] = vocab.total * cfg.epochs / wps
    return out


# ---------------------------------------------------------------- following a run

def new_feed() -> dict:
    """The state a page keeps between polls of one run's metrics.jsonl."""
    return {"offset": 0, "steps": [], "epochs": [], "vocab": None, "start": None, "end": None, "stopped": None}


def read_feed(run: Run, feed: dict) -> dict:
    """Append the events written since the last call to `feed` (one read of the new bytes).
    A metrics file shorter than the offset belongs to a new run of the same name: start over."""
    size = run.metrics_path.stat().st_size if run.metrics_path.exists() else 0
    if size < feed["offset"]:
        feed.update(new_feed())
    events, feed["offset"] = run.metrics(feed["offset"])
    for ev in events:
        kind = ev.get("event")
        if kind == "step":
            feed["steps"].append([ev["words_done"], ev.get("loss"), ev.get("loss_pos"), ev.get("loss_neg"),
                                  ev.get("lr"), ev.get("words_per_sec"), ev.get("epoch")])
        elif kind == "epoch":
            feed["epochs"].append({"epoch": ev["epoch"], "words_done": ev.get("words_done"),
                                   "neighbours": ev.get("neighbours") or {}, "scores": ev.get("scores") or {}})
        elif kind in ("vocab", "start", "end", "stopped"):
            feed[kind] = ev
    return feed


STEP_COLUMNS = ["words_done", "loss", "loss_pos", "loss_neg", "lr", "words_per_sec", "epoch"]


def loss_curve(steps: list[list], max_points: int = 400, smooth: float = 0.9) -> dict[str, list]:
    """The loss terms smoothed (exponential moving average, `smooth` weight on the past) and,
    for a long run, averaged over equal buckets of steps down to `max_points`: the whole run
    stays on the chart, never a truncated tail."""
    if not steps:
        return {c: [] for c in STEP_COLUMNS}
    a = np.array([[np.nan if v is None else v for v in row] for row in steps], dtype=np.float64)
    for j in (1, 2, 3):  # exponential moving average, carrying over missing values
        acc = np.nan
        for i, v in enumerate(a[:, j]):
            if not np.isnan(v):
                acc = v if np.isnan(acc) else smooth * acc + (1 - smooth) * v
            a[i, j] = acc
    if len(a) > max_points:
        edges = np.linspace(0, len(a), max_points + 1).astype(int)
        a = np.array([np.nanmean(a[s:e], axis=0) if e > s else a[s] for s, e in zip(edges[:-1], edges[1:])])
        a[:, 0] = np.array(steps)[edges[1:] - 1, 0]  # x = words done at the end of each bucket
    return {c: [None if np.isnan(v) else float(v) for v in a[:, j]] for j, c in enumerate(STEP_COLUMNS)}


def neighbour_changes(epochs: list[dict], k: int = 8) -> list[dict]:
    """Per epoch, each probe word's neighbours marked new where they were not among its
    neighbours one epoch earlier: [{'epoch', 'words': {probe: [(word, score, new)]}}]."""
    out, prev = [], {}
    for ep in epochs:
        words = {}
        for probe, nbrs in ep["neighbours"].items():
            before = {w for w, _ in prev.get(probe, [])}
            words[probe] = [(w, s, bool(prev) and w not in before) for w, s in nbrs[:k]]
        out.append({"epoch": ep["epoch"], "words": words})
        prev = ep["neighbours"]
    return out


def score_table(epochs: list[dict]) -> list[dict]:
    """Benchmark scores after each evaluated epoch."""
    keys = ("analogy_accuracy", "similarity_spearman")
    return [{"epoch": ep["epoch"], **{k: ep["scores"].get(k) for k in keys}}
            for ep in epochs if any(ep["scores"].get(k) is not None for k in keys)]
