import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from w2v.runs import Run, atomic_write_json, atomic_write_text, list_runs, pid_alive, read_json, safe_name

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_leaves_no_temporary_files_and_replaces_whole(tmp_path):
    p = tmp_path / "f.json"
    atomic_write_json(p, {"a": 1})
    atomic_write_json(p, {"a": 2})
    assert read_json(p) == {"a": 2}
    assert os.listdir(tmp_path) == ["f.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "old")

    class Boom(Exception):
        pass

    from w2v.runs import _atomic

    def write(f):
        f.write(b"half")
        raise Boom
    with pytest.raises(Boom):
        _atomic(p, write)
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_saved_files_are_synced_and_the_status_is_not(tmp_path, monkeypatch):
    """Vectors, checkpoints and settings reach the disk before their rename; status.json, rewritten
    every round while a run trains, is renamed whole but not synced (a sync stalls training)."""
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    atomic_write_json(tmp_path / "config.json", {"a": 1})
    assert len(synced) == 1
    run = Run(tmp_path / "r")
    run.path.mkdir()
    run.write_status(state="running")
    run.write_status(words_done=10)
    assert len(synced) == 1
    assert read_json(run.status_path) == {**read_json(run.status_path), "state": "running", "words_done": 10}
    assert sorted(os.listdir(run.path)) == ["status.json"]


def test_running_status_with_a_dead_pid_reads_as_interrupted(tmp_path):
    run = Run(tmp_path / "r")
    run.path.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(state="running", pid=proc.pid)
    assert run.status()["state"] == "interrupted"
    run.write_status(state="running", pid=os.getpid())
    assert run.status()["state"] == "running"
    assert pid_alive(os.getpid()) and not pid_alive(proc.pid)


def test_metrics_reader_skips_a_half_written_line(tmp_path):
    run = Run(tmp_path)
    run.append_metric({"event": "step", "step": 1})
    with open(run.metrics_path, "a") as f:
        f.write('{"event": "st')
    events, offset = run.metrics()
    assert events == [{"event": "step", "step": 1}]
    with open(run.metrics_path, "a") as f:
        f.write('ep", "step": 2}\n')
    more, _ = run.metrics(offset)
    assert more == [{"event": "step", "step": 2}]


def test_checkpoints_round_trip_without_pickle(tmp_path):
    run = Run(tmp_path)
    a, b = np.ones((3, 2), np.float32), np.zeros((3, 2), np.float32)
    path = run.save_checkpoint(2, 7, a, b, {"epoch": 2, "chunk": 7})
    i, o, state = Run.load_checkpoint(path)
    assert np.array_equal(i, a) and np.array_equal(o, b) and state == {"epoch": 2, "chunk": 7}
    assert run.checkpoints()[0][:2] == (2, 7)


def test_list_runs_finds_only_run_directories(tmp_path):
    (tmp_path / "a").mkdir()
    atomic_write_json(tmp_path / "a" / "config.json", {})
    (tmp_path / "junk").mkdir()
    assert [r.name for r in list_runs(tmp_path)] == ["a"]


@pytest.mark.parametrize("raw,safe", [("../../etc/passwd", "etc-passwd"), ("my run!", "my-run"),
                                      ("..", "run"), (".hidden", "hidden"), ("ok_1.2-x", "ok_1.2-x")])
def test_safe_names_cannot_escape(raw, safe):
    assert safe_name(raw) == safe


def test_no_load_path_unpickles():
    """torch.load without weights_only=True, np.load without allow_pickle=False, or pickle itself
    would let a crafted file run code."""
    offenders = []
    for path in list((ROOT / "w2v").rglob("*.py")) + list((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"]:
        if not path.exists():
            continue
        text = path.read_text()
        for m in re.finditer(r"(torch\.load|np\.load|numpy\.load)\(([^)]*)\)", text):
            if "weights_only=True" not in m.group(2) and "allow_pickle=False" not in m.group(2):
                offenders.append(f"{path.name}: {m.group(0)}")
        if re.search(r"^\s*(import pickle|from pickle|import dill|import joblib)", text, re.M):
            offenders.append(f"{path.name}: imports a pickle library")
    assert not offenders, offenders


def test_core_package_never_imports_streamlit():
    for path in (ROOT / "w2v").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(), re.M), path


# ---------------------------------------------------------------- which process a record names

def test_a_pid_is_written_with_its_host_and_start_time(tmp_path):
    from w2v.runs import HOST, process_start
    run = Run(tmp_path / "r")
    run.path.mkdir()
    st = run.write_status(state="running", pid=os.getpid())
    assert (st["host"], st["pid_start"]) == (HOST, process_start(os.getpid())) and st["pid_start"] > 0
    assert read_json(run.status_path)["host"] == HOST
    assert run.write_status(progress=0.5)["pid_start"] == st["pid_start"]  # kept by later writes


def test_a_reused_pid_reads_as_interrupted(tmp_path):
    """The pid lives, but it is another process now: one that started later than the job did."""
    from w2v.runs import process_start
    run = Run(tmp_path / "r")
    run.path.mkdir()
    atomic_write_json(run.status_path, {"state": "running", "pid": os.getpid(),
                                        "pid_start": process_start(os.getpid()) - 1})
    assert run.status()["state"] == "interrupted"
    assert not pid_alive(os.getpid(), start=process_start(os.getpid()) - 1)
    assert pid_alive(os.getpid(), start=process_start(os.getpid()))


@pytest.mark.parametrize("pid", [-1, 0, 1, True, "123", 2.5, None, [5]])
def test_pids_that_name_no_job(pid, tmp_path):
    """-1 would address every process, 0 our process group, 1 init: none is a job, none is alive."""
    from w2v.runs import may_signal
    assert not pid_alive(pid) and may_signal({"pid": pid}) is None
    run = Run(tmp_path)
    atomic_write_json(run.status_path, {"state": "running", "pid": pid})
    assert run.status()["state"] == "interrupted"


def test_this_process_is_alive_but_never_ours_to_signal():
    from w2v.runs import identity, may_signal
    assert pid_alive(os.getpid()) and may_signal(identity()) is None


def test_a_process_of_another_host_is_not_judged(tmp_path):
    from w2v.runs import ELSEWHERE, elsewhere, may_signal, process_state
    record = {"state": "running", "pid": os.getpid() + 1_000_000, "host": "far-away", "pid_start": 7}
    assert process_state(record) == ELSEWHERE and elsewhere(record) == "far-away" and may_signal(record) is None
    run = Run(tmp_path)
    atomic_write_json(run.status_path, record)
    assert run.status()["state"] == "running"  # not ours to call interrupted


# ---------------------------------------------------------------- the run's own lock

HOLD = """
import sys, time
from w2v.runs import Run
with Run(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_run_lock_is_exclusive_and_a_dead_holder_releases_it(tmp_path):
    from w2v.errors import W2VError
    run = Run(tmp_path / "r")
    run.path.mkdir()
    assert not run.locked()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run.path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run.locked()
        with pytest.raises(W2VError, match=f"run r is in use by process {holder.pid}"):
            with run.lock():
                pass
        holder.kill()  # SIGKILL: no chance to let go of anything
        holder.wait()
        assert not run.locked()
        with run.lock():
            assert run.locked()  # held by this process now
            with pytest.raises(W2VError, match="in use"):
                with run.lock():
                    pass
        assert not run.locked() and run.lock_path.exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_run_lock_needs_the_run_directory(tmp_path):
    from w2v.errors import W2VError
    with pytest.raises(W2VError, match="no run directory"):
        with Run(tmp_path / "missing").lock():
            pass
    assert not Run(tmp_path / "missing").locked() and not (tmp_path / "missing").exists()
