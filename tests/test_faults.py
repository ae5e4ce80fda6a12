"""Faults: the trainer killed with SIGKILL mid-epoch (the run stays consistent and --resume
finishes it with vectors that load), and one training at a time when several app servers (or
tabs) share a runs folder, under a lock that a dead process cannot hold."""

import gzip
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from w2v.config import TrainConfig
from w2v.errors import W2VError
from w2v.runs import Run, atomic_write_json
from w2v.studio import jobs, uploads
from w2v.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent


def wait_for(cond, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def metric_events(run: Run) -> list[dict]:
    return run.metrics()[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 700k tokens: three chunks per epoch, so a kill can land in the middle of one."""
    path = tmp_path_factory.mktemp("faults") / "c.txt"
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        text = f.read(4_300_000)
    path.write_text(text[: text.rfind(" ")])
    return path


def check_consistent(run: Run) -> None:
    """What a reader finds after the kill: whole JSON files, loadable checkpoints, no vectors."""
    assert isinstance(json.loads(run.config_path.read_text()), dict)
    assert isinstance(json.loads(run.status_path.read_text()), dict)
    for _, _, p in run.checkpoints():
        i, o, state = Run.load_checkpoint(p)
        assert i.shape == o.shape and np.isfinite(i).all() and "words_done" in state
    assert run.status()["state"] == "interrupted"  # the process is gone
    assert not run.in_vectors_path.exists()  # nothing looks finished


@pytest.mark.parametrize("when", ["mid-epoch", "reading"])
def test_kill_9_then_resume_finishes_with_loadable_vectors(tmp_path, corpus, when):
    run = Run(tmp_path / "run")
    cmd = [sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run.path), "--dim", "16",
           "--epochs", "2", "--threads", "1", "--eval", "none", "--quiet"]
    p = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        if when == "mid-epoch":  # after the second chunk of epoch 1 was trained, before the epoch ends
            wait_for(lambda: any(e.get("event") == "step" and e["epoch"] == 1 and e["chunk"] >= 1
                                 for e in metric_events(run)) or p.poll() is not None, what="epoch 1")
        else:
            wait_for(lambda: run.status().get("phase") == "reading corpus" or p.poll() is not None,
                     what="reading")
        assert p.poll() is None, "the trainer ended before it could be killed: use a larger corpus"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    check_consistent(run)
    if when == "mid-epoch":
        assert [c[:2] for c in run.checkpoints()] == [(0, 0), (1, 0)]  # resumes at the start of epoch 1

    r = subprocess.run([sys.executable, "-m", "w2v", "train", "--out", str(run.path), "--resume", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    st = run.status()
    assert st["state"] == "finished" and st["words_done"] == st["words_total"]
    wv = WordVectors.load(str(run.path))
    assert len(wv) == st["vocab_size"] and np.isfinite(wv.vectors).all()
    assert wv.most_similar("the", topn=3)  # they load and answer


# ---------------------------------------------------------------- one training at a time

def _contender(root, corpus, name, ready, go, done, results):
    """One app server: starts a job as soon as `go` is set. The job itself is this process
    (alive until every contender has answered), so the lock it writes stays valid."""
    os.environ["W2V_RUNS_DIR"] = root
    jobs._launch = lambda r, n, args: atomic_write_json(jobs._lock_path(r), {"pid": os.getpid(), "run": n})
    ready.wait()
    go.wait()
    try:
        jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), name)
        results.put(name)
    except W2VError as e:
        results.put(f"refused: {e}")
    done.wait()


def test_servers_sharing_a_runs_folder_start_one_job_at_a_time(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 100)
    ctx = multiprocessing.get_context("fork")
    n = 4
    for round_ in range(15):
        root = tmp_path / f"runs{round_}"
        ready, done = ctx.Barrier(n + 1), ctx.Barrier(n)
        go, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_contender, args=(str(root), str(corpus), f"job{k}", ready, go, done, results))
                 for k in range(n)]
        for p in procs:
            p.start()
        ready.wait()
        go.set()
        answers = [results.get(timeout=60) for _ in range(n)]
        for p in procs:
            p.join(30)
        winners = [a for a in answers if not a.startswith("refused")]
        assert len(winners) == 1, f"round {round_}: {answers}"
        assert all("is training" in a or "being started" in a for a in answers if a.startswith("refused"))


def test_a_lock_left_by_a_killed_server_does_not_block_forever(tmp_path, monkeypatch):
    """The server that took the lock died (kill -9) before its job wrote anything."""
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "runs"))
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 100)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / "runs").mkdir()
    atomic_write_json(tmp_path / "runs" / jobs.LOCK_NAME, {"pid": server.pid, "run": "half-started"})
    with pytest.raises(W2VError, match="half-started"):
        jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1, eval="none", threads=1), "mine")
    server.kill()
    server.wait()
    name = jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1, eval="none", threads=1), "mine")
    assert jobs.wait(name)["state"] == "finished"


# ---------------------------------------------------------------- a runs folder that cannot be written

@pytest.fixture
def blocked(tmp_path, monkeypatch):
    """Runs and corpora folders below a plain file: they cannot be created (root or not)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("W2V_RUNS_DIR", str(blocker / "runs"))
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    monkeypatch.chdir(ROOT)
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 100)
    return blocker, corpus


def test_unwritable_runs_folder_is_a_one_line_message(blocked):
    blocker, corpus = blocked
    with pytest.raises(W2VError, match="cannot write to the runs folder") as e:
        jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), "x")
    assert "\n" not in str(e.value) and "W2V_RUNS_DIR" in str(e.value)
    assert blocker.read_text() == "not a folder"


def test_unwritable_runs_folder_on_the_train_page(blocked):
    from streamlit.testing.v1 import AppTest
    _, corpus = blocked
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.session_state["corpus_path"] = str(uploads.save_corpus("c.txt", corpus.read_bytes()))
    at.run()
    at.number_input(key="cfg-word2vec-min_count").set_value(1)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert any("cannot write to the runs folder" in e.value for e in at.error)


def test_a_full_disk_during_an_upload_leaves_nothing(tmp_path, monkeypatch):
    import errno
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(W2VError, match="No space left on device.*free (some )?disk space"):
        uploads.save_corpus("book.txt", b"some words here " * 100)
    assert list((tmp_path / "corpora").iterdir()) == []  # no temporary or half-written file


def test_a_restarted_server_finds_the_running_job(tmp_path, monkeypatch):
    """The job outlives the server that started it: a new server (no memory of the child) shows it
    running from the run directory, still refuses a second start, and can stop it."""
    from streamlit.testing.v1 import AppTest
    from conftest import planted_text
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    monkeypatch.chdir(ROOT)
    text = uploads.save_corpus("long.txt", planted_text(paragraphs=3000)[0].encode())
    name = jobs.start(text, TrainConfig(dim=50, epochs=2000, min_count=1, eval="none", threads=1), "survivor")
    run = Run(tmp_path / "runs" / name)
    wait_for(lambda: run.status().get("phase") == "training", what="training to start")
    jobs._procs.clear()  # the restarted server never spawned this process
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    assert not at.exception
    assert at.subheader[0].value.endswith("survivor: running")
    with pytest.raises(W2VError, match="run survivor is training"):
        jobs.start(text, TrainConfig(dim=10, epochs=1, min_count=1), "another")
    assert jobs.stop(name)
    wait_for(lambda: run.status().get("state") == "stopped", what="the job to stop")
    at.run()
    assert at.subheader[0].value.endswith("survivor: stopped")


# ---------------------------------------------------------------- pids that are not the job's

@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("W2V_RUNS_DIR", str(root))
    return root


@pytest.fixture
def bystander():
    """An unrelated process of ours that a stale record's pid may now name."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def signals():
    """The signals sent through os.kill, recorded instead (a probe, signal 0, still asks the system)."""
    sent, real = [], os.kill

    def kill(pid, sig):
        if sig:
            sent.append((pid, sig))
        else:
            real(pid, sig)
    os.kill = kill
    yield sent
    os.kill = real


def make_run(root: Path, name: str, **status) -> Run:
    run = Run(root / name)
    run.path.mkdir()
    atomic_write_json(run.config_path, {"train": {"dim": 8}, "corpus": "c.txt"})
    atomic_write_json(run.status_path, status)
    return run


def test_a_reused_pid_neither_blocks_a_job_nor_is_signalled(runs_dir, bystander, signals, tmp_path, monkeypatch):
    """Records left by jobs long gone, whose pid the system has given to an unrelated process."""
    from w2v.runs import process_start
    old_start = process_start(bystander.pid) - 100  # the job started before the bystander did
    atomic_write_json(runs_dir / jobs.LOCK_NAME, {"pid": bystander.pid, "pid_start": old_start, "run": "old",
                                                  "host": os.uname().nodename})
    make_run(runs_dir, "old", state="running", pid=bystander.pid, pid_start=old_start)
    assert jobs.active_job() is None and Run(runs_dir / "old").status()["state"] == "interrupted"
    assert not jobs.stop("old") and signals == []
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 100)
    monkeypatch.setattr(jobs, "_launch", lambda root, name, args: None)  # the start is checked, not the training
    jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), "new")
    assert jobs._read_lock(runs_dir)["run"] == "new"
    jobs.delete_run("old")
    assert bystander.poll() is None


@pytest.mark.parametrize("pid", [-1, 0, 1, "self"])
def test_stop_never_signals_init_a_group_or_the_server(runs_dir, signals, pid):
    pid = os.getpid() if pid == "self" else pid
    make_run(runs_dir, "odd", state="running", pid=pid)
    assert not jobs.stop("odd") and signals == []


def test_a_job_of_another_host_is_not_judged_nor_signalled(runs_dir, signals, tmp_path, monkeypatch):
    """A runs folder shared by two machines: this server cannot see the other's processes."""
    from w2v.studio import runlist
    far = {"pid": os.getpid(), "host": "other-machine", "pid_start": 1}
    make_run(runs_dir, "far", state="running", phase="training", **far)
    v = runlist.view("far")
    assert v.state == "running" and not v.stoppable and "other-machine" in v.note[1]
    with pytest.raises(W2VError, match="on host other-machine.*stop it there"):
        jobs.stop("far")
    with pytest.raises(W2VError, match="run far is training or being started on host other-machine"):
        jobs.delete_run("far")
    assert jobs.active_job() is None  # it trains on the other machine: this one is free
    atomic_write_json(runs_dir / jobs.LOCK_NAME, {**far, "run": "far2"})  # but the folder's lock is its
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 100)
    with pytest.raises(W2VError, match=f"far2 is training or being started on host other-machine.*"
                                       f"remove {jobs.LOCK_NAME}"):
        jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), "mine")
    assert signals == [] and (runs_dir / "far").exists()
    make_run(runs_dir, "far2", state="finished", **far)  # once its run has ended, the lock is spent
    monkeypatch.setattr(jobs, "_launch", lambda root, name, args: None)
    jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), "mine")
    atomic_write_json(runs_dir / "far" / "status.json", {"state": "stopped", **far})
    jobs.delete_run("far")
    assert signals == [] and not (runs_dir / "far").exists()


# ---------------------------------------------------------------- deleting a run that is being resumed

def test_delete_is_refused_while_a_resumed_job_starts(runs_dir, monkeypatch, tmp_path):
    """Resume launches the trainer; for its first seconds the run still reads 'stopped'. The app's
    lock names the run from the launch on: delete is refused until that process has ended."""
    slow = tmp_path / "slow-python"  # a trainer that has not written anything yet
    slow.write_text("#!/bin/sh\nexec sleep 120\n")
    slow.chmod(0o755)
    run = make_run(runs_dir, "paused", state="stopped", progress=0.3)
    run.save_checkpoint(0, 1, np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32"), {"epoch": 0})
    monkeypatch.setattr(sys, "executable", str(slow))
    jobs.resume("paused")
    trainer = jobs._read_lock(runs_dir)["pid"]
    try:
        assert run.status()["state"] == "stopped"
        with pytest.raises(W2VError, match="paused is training or being started"):
            jobs.delete_run("paused")
        assert run.exists()
    finally:
        os.kill(trainer, signal.SIGKILL)
        jobs._wait_gone({"pid": trainer}, 30)
    jobs.delete_run("paused")
    assert not run.path.exists()


HOLD_RUN = """
import sys, time
from w2v.runs import Run
with Run(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_delete_is_refused_while_a_process_holds_the_run(runs_dir):
    """A trainer holds its run's lock for its whole life (a CLI job too, the app's lock naming
    nothing); a holder killed with SIGKILL holds nothing."""
    run = make_run(runs_dir, "held", state="stopped")
    run.save_checkpoint(0, 1, np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32"), {"epoch": 0})
    holder = subprocess.Popen([sys.executable, "-c", HOLD_RUN, str(run.path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(W2VError, match=f"run held is in use by process {holder.pid}"):
            jobs.delete_run("held")
        with pytest.raises(W2VError, match="in use"):
            jobs.resume("held")
        assert run.exists()
    finally:
        holder.kill()
        holder.wait()
    jobs.delete_run("held")
    assert not run.path.exists()
