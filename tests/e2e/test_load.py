"""Load: several browser sessions watch a running job on the Train page (each polls it every
second). The server must keep answering and every session must see the run finish; the trainer's
speed under that load, against the same training with no one watching, is written to
test-artifacts/load.json and printed (a figure to report, not asserted: the machine is shared).

In real use the browsers run on the users' machines. Here they share the test machine, so the
trainer gets CPU 0 to itself and the server and the browsers the other CPUs (where there are
two or more): the figure then measures what watching costs the training, not what the test's own
browsers cost the machine. The sessions are shown the job while its trainer is paused (SIGSTOP),
so a job that trains fast on an idle machine cannot end before a busy one has drawn every page;
a pause that fell in training time is left out of the figure."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from .conftest import ARTIFACTS, ROOT

SESSIONS = 4


PINNED = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
TRAIN_CPUS = {0}
OTHER_CPUS = set(range(1, os.cpu_count() or 1))


def train(corpus, out) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(out), "--dim", "32",
                             "--epochs", "30", "--threads", "1", "--eval", "none", "--quiet"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=(lambda: os.sched_setaffinity(0, TRAIN_CPUS)) if PINNED else None)


def pin_away_from_training(pids) -> None:
    """Move every thread of these processes (and of Chromium) off the training CPU."""
    if not PINNED:
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
            if int(entry) in pids or b"chromium" in cmd or b"chrome" in cmd:
                for tid in os.listdir(f"/proc/{entry}/task"):
                    os.sched_setaffinity(int(tid), OTHER_CPUS)
        except (OSError, ValueError):
            continue  # a process or thread that ended meanwhile


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to tell the server's share of the load."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def words_per_sec(run, paused: float = 0.0) -> float:
    """The run's training speed; `paused` seconds (the trainer stopped mid-training) left out."""
    st = json.loads((run / "status.json").read_text())
    assert st["state"] == "finished", st
    return st["words_done"] / max(st["train_seconds"] - paused, 1e-9)


def status(run) -> dict:
    return json.loads((run / "status.json").read_text()) if (run / "status.json").exists() else {}


def sessions_find_the_job(p: subprocess.Popen, run, pages) -> float:
    """Every session reloads and shows the job running. The trainer is paused (SIGSTOP) meanwhile,
    so a fast job cannot end before a busy machine has drawn every page; returns the seconds it
    stood still while training (none while it still read the corpus: that is not timed)."""
    from playwright.sync_api import expect
    deadline = time.time() + 120  # the job says it runs before the sessions look for it
    while status(run).get("state") != "running":
        assert p.poll() is None and time.time() < deadline, "the job did not start"
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGSTOP)
    t0 = time.time()
    try:
        phase = status(run).get("phase")
        for page in pages:  # each session finds the job (a CLI job counts as active) and polls it
            page.reload()
        for page in pages:
            expect(page.get_by_role("heading", name=f"{run.name}: running")).to_be_visible(timeout=120_000)
    finally:
        os.kill(p.pid, signal.SIGCONT)
    return time.time() - t0 if phase == "training" else 0.0


def test_sessions_watching_a_job(app, browser, shots, tmp_path):
    from playwright.sync_api import expect
    corpus = tmp_path / "c.txt"
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        text = f.read(4_300_000)
    corpus.write_text(text[: text.rfind(" ")])
    runs = app.dirs["W2V_RUNS_DIR"]
    runs.mkdir(parents=True, exist_ok=True)

    quiet = tmp_path / "quiet-run"  # the same training with no server load: outside the runs folder
    p = train(corpus, quiet)
    assert p.wait(300) == 0, p.stderr.read()
    base = words_per_sec(quiet)

    pages = [browser.new_page(viewport={"width": 1200, "height": 900}) for _ in range(SESSIONS)]
    for page in pages:
        page.set_default_timeout(60_000)
        page.goto(app.url + "/")
        page.get_by_test_id("stSidebarNav").get_by_text("Train", exact=True).click()
        expect(page.get_by_role("button", name="Start training")).to_be_visible(timeout=60_000)

    pin_away_from_training({app.proc.pid, os.getpid()})
    latencies, stop = [], threading.Event()

    def ping():  # the server's health endpoint, as a load balancer would poll it
        while not stop.is_set():
            t = time.time()
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=30) as r:
                assert r.status == 200
            latencies.append(time.time() - t)
            stop.wait(0.5)
    pinger = threading.Thread(target=ping, daemon=True)

    p = train(corpus, runs / "watched")
    pin_away_from_training({app.proc.pid, os.getpid()})  # threads started since, too
    server0, t0 = cpu_seconds(app.proc.pid), time.time()
    try:
        pinger.start()
        paused = sessions_find_the_job(p, runs / "watched", pages)
        assert p.wait(300) == 0, p.stderr.read()
        server_cpu, wall = cpu_seconds(app.proc.pid) - server0, time.time() - t0
        for page in pages:
            expect(page.get_by_role("heading", name="watched: finished")).to_be_visible(timeout=120_000)
        shots(pages[0], "watched-finished")
    finally:
        stop.set()
        if p.poll() is None:
            p.kill()
            p.wait()
    pinger.join(60)
    loaded = words_per_sec(runs / "watched", paused)
    figure = {"sessions": SESSIONS, "words_per_sec_alone": round(base), "words_per_sec_watched": round(loaded),
              "ratio": round(loaded / base, 3), "server_cpu_share": round(server_cpu / wall, 3),
              "cores": os.cpu_count(), "trainer_pinned_alone": PINNED, "health_checks": len(latencies),
              "health_max_s": round(max(latencies), 3) if latencies else None}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(figure, indent=1) + "\n")
    print(f"\nload test: {figure}")
    assert latencies, "the server never answered its health check"
    for page in pages:
        assert page.get_by_test_id("stException").count() == 0
        page.close()
