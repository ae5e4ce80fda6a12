"""The studio's jobs, uploads, corpora, form, estimate and feed: uploads, the lock, launching /
stopping / resuming the trainer process, the estimate, and the folding of metrics the training
page draws."""

import bz2
import dataclasses
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from w2v import config
from w2v.config import TrainConfig
from w2v.errors import W2VError
from w2v.runs import Run, atomic_write_json
from w2v.studio import estimate, feed, form, jobs, paths, runlist, uploads
from w2v.studio.corpora import list_corpora

from conftest import planted_text


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    runs, corpora = tmp_path / "runs", tmp_path / "corpora"
    monkeypatch.setenv("W2V_RUNS_DIR", str(runs))
    monkeypatch.setenv("W2V_CORPORA_DIR", str(corpora))
    return runs, corpora


@pytest.fixture
def corpus(tmp_path):
    text, _ = planted_text(paragraphs=300)
    path = tmp_path / "planted.txt"
    path.write_text(text)
    return path


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def wait_for(cond, timeout=60.0):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_dirs_follow_the_environment_at_call_time(dirs):
    assert paths.runs_dir() == dirs[0] and paths.corpora_dir() == dirs[1]


def test_upload_gets_a_sanitised_name_inside_the_corpora_folder(dirs):
    runs, corpora = dirs
    text = b"some words here " * 50
    path = uploads.save_corpus("../../etc/My Notes!.txt", text)
    assert path.parent == corpora and path.name == "My-Notes.txt" and path.read_bytes() == text
    assert uploads.save_corpus("/abs/..", text).name == "corpus.txt"
    assert sorted(p.name for p in corpora.iterdir()) == ["My-Notes.txt", "corpus.txt"]  # no temp files left
    assert list_corpora()[1:] == sorted(corpora.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)


def test_upload_never_overwrites(dirs):
    corpora = dirs[1]
    a = uploads.save_corpus("notes.txt", b"alpha beta " * 100)
    b = uploads.save_corpus("notes.txt", b"gamma delta " * 100)
    assert a.name == "notes.txt" and b.name == "notes-2.txt"
    assert a.read_bytes() == b"alpha beta " * 100
    assert uploads.save_corpus("notes.txt", b"gamma delta " * 100) == b  # the same file again: reused
    assert len(list(corpora.iterdir())) == 2


def test_compressed_uploads_keep_their_format(dirs):
    text = b"compressed words go here " * 40
    gz = uploads.save_corpus("a.txt.gz", gzip.compress(text))
    bz = uploads.save_corpus("b.bz2", bz2.compress(text))
    assert gz.name == "a.txt.gz" and gzip.decompress(gz.read_bytes()) == text
    assert bz.name == "b.txt.bz2"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00" + bytes(range(256)) * 4, "binary"),
    ("caf\u00e9 ".encode("latin-1") * 200, "UTF-8"),
    (gzip.compress(" ".join(f"w{i}" for i in range(30_000)).encode())[:2000], "archive"),
    (b"just a few words", "only 4 words"),
])
def test_bad_uploads_are_refused_and_store_nothing(dirs, data, message):
    corpora = dirs[1]
    keep = uploads.save_corpus("upload.txt", b"kept text " * 100)
    with pytest.raises(W2VError, match=message) as e:
        uploads.save_corpus("upload.txt", data)
    assert "\n" not in str(e.value) and ".tmp" not in str(e.value)
    assert list(corpora.iterdir()) == [keep] and keep.read_bytes() == b"kept text " * 100


def test_stale_lock_is_ignored(dirs, corpus):
    runs = dirs[0]
    runs.mkdir()
    (runs / jobs.LOCK_NAME).write_text(json.dumps({"pid": dead_pid(), "run": "old"}))
    assert jobs.active_job() is None
    name = jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1, eval="none", threads=1), "fresh")
    assert json.loads((runs / jobs.LOCK_NAME).read_text())["run"] == "fresh"
    assert jobs.wait(name)["state"] == "finished"


def test_live_lock_refuses_a_second_start_naming_the_job(dirs, corpus):
    runs = dirs[0]
    runs.mkdir()
    (runs / jobs.LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "run": "busy-run"}))
    assert jobs.active_job() == {"run": "busy-run", "pid": os.getpid()}
    with pytest.raises(W2VError, match="busy-run is training"):
        jobs.start(corpus, TrainConfig(dim=8, epochs=1, min_count=1), "other")
    assert not (runs / "other").exists()


def test_a_running_run_found_on_disk_counts_as_active(dirs):
    run = dirs[0] / "cli-job"
    run.mkdir(parents=True)
    atomic_write_json(run / "config.json", {"train": {}})
    atomic_write_json(run / "status.json", {"state": "running", "pid": os.getpid()})
    assert jobs.active_job()["run"] == "cli-job"
    atomic_write_json(run / "status.json", {"state": "running", "pid": dead_pid()})
    assert jobs.active_job() is None and Run(run).status()["state"] == "interrupted"


def test_start_refuses_an_existing_run_and_a_missing_corpus(dirs, corpus, tmp_path):
    (dirs[0] / "taken").mkdir(parents=True)
    with pytest.raises(W2VError, match="already exists"):
        jobs.start(corpus, TrainConfig(), "taken")
    with pytest.raises(W2VError, match="does not exist"):
        jobs.start(tmp_path / "nope.txt", TrainConfig(), "x")
    with pytest.raises(W2VError, match="--dim"):
        jobs.start(corpus, TrainConfig(dim=0), "y")


def test_start_from_another_runs_vectors_carries_init_from(dirs, corpus):
    from w2v.train import train
    runs = dirs[0]
    cfg = TrainConfig(dim=8, epochs=1, min_count=1, eval="none", threads=1)
    train(corpus, runs / "first", cfg)
    (runs / "unfinished").mkdir()
    atomic_write_json(runs / "unfinished" / "config.json", {"train": {}})
    assert runlist.init_sources() == ["first"]
    with pytest.raises(W2VError, match="no run named nope"):
        jobs.start(corpus, cfg, "x", init_from="nope")
    assert not (runs / "x").exists() and not (runs / "x.log").exists()
    name = jobs.start(corpus, cfg, "second", init_from="first")
    assert jobs.wait(name)["state"] == "finished"
    command = jobs.log_path(name).read_text().splitlines()[0]
    assert command.endswith(f"--init-from {(runs / 'first').resolve()} --quiet")
    assert Run(runs / name).config()["init_from"] == str((runs / "first").resolve())


def test_start_second_start_stop_resume_delete(dirs, tmp_path):
    runs = dirs[0]
    corpus = tmp_path / "long.txt"  # 3.6 M words at dim 50, one thread: the stop lands before the end
    corpus.write_text(planted_text(paragraphs=3000)[0])
    cfg = TrainConfig(dim=50, epochs=100, min_count=1, eval="none", threads=1, probe_words=("g0w0",))
    name = jobs.start(corpus, cfg, "long")
    with pytest.raises(W2VError, match="run long is training"):
        jobs.start(corpus, cfg, "second")
    run = Run(runs / name)
    wait_for(lambda: run.status().get("phase") == "training")
    assert jobs.stop(name)
    st = jobs.wait(name)
    assert st["state"] == "stopped" and st["progress"] < 1 and run.checkpoints()
    assert any(e["event"] == "stopped" for e in run.metrics()[0])
    assert "SIGTERM" in jobs.log_tail(name, 10)
    assert not jobs.stop(name)  # nothing trains it any more
    jobs.resume(name)
    st = jobs.wait(name)
    assert st["state"] == "finished" and st["epoch"] == 100 and run.in_vectors_path.exists()
    with pytest.raises(W2VError, match="only a stopped or interrupted run"):
        jobs.resume(name)
    assert run.config()["train"]["dim"] == 50
    jobs.delete_run(name)
    assert not run.path.exists() and not (runs / f"{name}.log").exists()


def test_delete_stays_inside_the_runs_folder(dirs, tmp_path):
    outside = tmp_path / "victim"
    outside.mkdir()
    atomic_write_json(outside / "config.json", {"train": {}})
    dirs[0].mkdir()
    for name in ("../victim", str(outside), "..", ""):
        with pytest.raises(W2VError, match="no run named"):
            jobs.delete_run(name)
    assert (outside / "config.json").exists()


def test_form_fields_cover_the_config_and_reach_the_cli():
    fields = form.fields()
    assert [f.name for f in fields] == [f.name for f in dataclasses.fields(TrainConfig)]
    assert all(f.help and f.label and f.flag.startswith("--") for f in fields)
    assert next(f for f in fields if f.name == "mode").choices == ("skipgram", "cbow")
    window = next(f for f in fields if f.name == "window")
    assert (window.low, window.high, window.key) == (1, 100, "cfg-word2vec-window")
    assert [g.title for g in form.groups()] == [title for title, _ in config.GROUPS.values()]
    assert next(f for f in form.fields("seed") if f.name == "dim").default == 300
    cfg = form.make_config({"dim": 12, "lr": 0.01, "probe_words": " King, queen ,"}, "seed")
    assert cfg.recipe == "seed" and cfg.dim == 12 and cfg.probe_words == ("king", "queen")
    from w2v.__main__ import build_parser, config_from_args
    for c in (cfg, form.make_config({"ns_exponent": 0.5, "noise": "pool", "keep_punct": True, "sample": 0.0})):
        a = build_parser().parse_args(["train", "c.txt", "--out", "r", *config.to_args(c)])
        assert config_from_args(a) == c  # the job trains exactly what the form shows
    with pytest.raises(W2VError, match="window"):
        form.make_config({"window": 0})


def test_estimate(dirs, corpus):
    cfg = TrainConfig(dim=16, epochs=3, min_count=1, window=4, threads=1)
    est = estimate.estimate(corpus, cfg)
    assert est["vocab_size"] == 48 and est["param_bytes"] == 2 * 48 * 16 * 4
    assert 0 < est["pairs_per_epoch"] <= est["vocab_tokens"] * 5
    assert est["words_per_sec"] > 0 and est["seconds"] == pytest.approx(3 * est["vocab_tokens"] / est["words_per_sec"])
    assert estimate.estimate(corpus, cfg, calibrate=False)["seconds"] is None


def test_feed_reads_new_events_only(tmp_path):
    run = Run(tmp_path)
    state = feed.new_feed()
    run.append_metric({"event": "start", "engine": "kernel"})
    run.append_metric({"event": "step", "words_done": 10, "loss": 3.0, "loss_pos": 1.0, "loss_neg": 2.0,
                       "lr": 0.02, "words_per_sec": 5.0, "epoch": 0})
    feed.read_feed(run, state)
    run.append_metric({"event": "epoch", "epoch": 1, "neighbours": {"a": [["b", 0.9]]}, "scores": {}})
    feed.read_feed(run, state)
    feed.read_feed(run, state)
    assert len(state["steps"]) == 1 and len(state["epochs"]) == 1 and state["start"]["engine"] == "kernel"
    assert state["offset"] == run.metrics_path.stat().st_size
    run.metrics_path.write_text(json.dumps({"event": "start", "engine": "torch"}) + "\n")  # a new run, same name
    feed.read_feed(run, state)
    assert state["steps"] == [] and state["epochs"] == [] and state["start"]["engine"] == "torch"


def test_feed_starts_over_when_a_resume_rewinds_the_metrics(tmp_path):
    """A resume replaces metrics.jsonl with its events up to the checkpoint; the trainer may have
    appended past the old offset by the next poll: the feed must not read from mid-line."""
    run = Run(tmp_path)
    step = {"event": "step", "loss": 3.0, "loss_pos": 1.0, "loss_neg": 2.0, "lr": 0.02, "words_per_sec": 5.0,
            "epoch": 0}
    for done in (10, 20, 30):
        run.append_metric({**step, "words_done": done})
    state = feed.read_feed(run, feed.new_feed())
    kept = run.metrics_path.read_text().splitlines(keepends=True)[:1]
    tmp = tmp_path / "metrics.tmp"
    tmp.write_text("".join(kept) + json.dumps({**step, "words_done": 20, "note": "x" * 200}) + "\n")
    tmp.replace(run.metrics_path)  # rewound and appended to, now longer than the old offset
    feed.read_feed(run, state)
    assert [s["words_done"] for s in state["steps"]] == [10, 20]


def test_loss_curve_downsamples_the_whole_run():
    steps = [dict(zip(feed.STEP_COLUMNS, (100 * (i + 1), 5.0 - i / 1000, 1.0, 4.0 - i / 1000,
                                          0.025 * (1 - i / 1000), 1e5, 0))) for i in range(1000)]
    c = feed.loss_curve(steps, max_points=100)
    assert len(c["words_done"]) == 100
    assert c["words_done"][-1] == 100_000 and c["words_done"][0] <= 1000  # whole run, not the tail
    assert c["loss"] == sorted(c["loss"], reverse=True) and c["lr"][-1] < c["lr"][0]
    short = feed.loss_curve(steps[:5], max_points=100, smooth=0.0)
    assert short["loss"] == [s["loss"] for s in steps[:5]]
    assert feed.loss_curve([])["loss"] == []


def test_loss_curve_of_a_diverged_run_leaves_inf_and_nan_out(tmp_path):
    """The trainer writes inf/NaN as JSON's Infinity/NaN: the chart keeps the finite climb, and no
    non-finite value reaches the browser (a metrics line of the wrong type neither)."""
    run = Run(tmp_path)
    for i, loss in enumerate([3.0, 5.0, 80.0, float("inf"), float("nan"), "junk"]):
        run.append_metric({"event": "step", "words_done": 100 * (i + 1), "loss": loss, "loss_pos": loss,
                           "loss_neg": 1.0, "lr": 50.0, "words_per_sec": 1e4, "epoch": 0})
    c = feed.loss_curve(feed.read_feed(run, feed.new_feed())["steps"], smooth=0.0)
    assert c["words_done"] == [100, 200, 300, 400, 500, 600]
    assert c["loss"] == [3.0, 5.0, 80.0, 80.0, 80.0, 80.0]  # the last finite value carried, as for a gap
    assert c["lr"] == [50.0] * 6
    assert json.loads(json.dumps(c, allow_nan=False)) == c


def test_neighbour_changes_and_scores():
    epochs = [{"epoch": 1, "neighbours": {"a": [["b", 0.9], ["c", 0.8]]}, "scores": {}},
              {"epoch": 2, "neighbours": {"a": [["c", 0.9], ["d", 0.7]]},
               "scores": {"analogy_accuracy": 0.1, "similarity_spearman": 0.2}}]
    ch = feed.neighbour_changes(epochs)
    assert ch[0]["words"]["a"] == [("b", 0.9, False), ("c", 0.8, False)]
    assert ch[1]["words"]["a"] == [("c", 0.9, False), ("d", 0.7, True)]
    assert feed.score_table(epochs) == [{"epoch": 2, "analogy_accuracy": 0.1, "similarity_spearman": 0.2}]


def test_estimate_calibration_past_its_limit_or_failing_leaves_the_time_out(dirs, corpus, monkeypatch):
    cfg = TrainConfig(dim=16, epochs=3, min_count=1, threads=1)
    t0 = time.time()
    est = estimate.estimate(corpus, cfg, limit_s=0.3)  # the trainer cannot even start in 0.3 s
    assert time.time() - t0 < 30 and est["vocab_size"] == 48
    assert est["seconds"] is None and est["words_per_sec"] is None
    assert est["note"] == "calibration took longer than 0.3 s" and "\n" not in est["note"]
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a trainer that fails without a word
    est = estimate.estimate(corpus, cfg)
    assert est["seconds"] is None and est["note"] == "calibration failed: the trainer exited with status 1"
    assert estimate.estimate(corpus, cfg, calibrate=False)["note"] == estimate.BUSY
    labels = [m[0] for m in estimate.metrics(est)]
    assert labels == ["Vocabulary", "Parameter memory", "Pairs per epoch", "Estimated training time"]
    assert estimate.metrics(est)[-1][1:] == ("–", est["note"])


def test_run_views_follow_the_run_states(dirs):
    from w2v import runs as states
    from w2v.studio import runlist
    root = dirs[0]

    def make(name, **status):
        run = Run(root / name)
        run.path.mkdir(parents=True)
        atomic_write_json(run.config_path, {"train": {"dim": 10, "window": 3}, "corpus": "/x/c.txt.gz",
                                            "created": 1.7e9})
        atomic_write_json(run.status_path, status)
        return run

    make("done", state="finished", seconds=75, words_per_sec=1234.0)
    make("paused", state="stopped", progress=0.25).save_checkpoint(0, 1, *[np.zeros((2, 2), "float32")] * 2, {})
    make("crashed", state="running", pid=dead_pid(), progress=0.4)
    make("broken", state="failed", error="--min-count is too high: lower --min-count")
    make("busy", state="running", pid=os.getpid(), phase="training", words_total=100, progress=0.5, epoch=1,
         epochs=4, words_per_sec=10.0, eta_s=3725)
    make("blown", state="diverged", epoch=2, error="the loss became infinite/NaN at epoch 3, step 7: lower the "
         "learning rate").save_checkpoint(0, 1, *[np.zeros((2, 2), "float32")] * 2, {})
    make("blown-quietly", state="diverged", epoch=2)
    v = {n: runlist.view(n) for n in ("done", "paused", "crashed", "broken", "busy", "never-started", "blown",
                                      "blown-quietly")}
    assert v["done"].progress == (1.0, "Finished in 1m 15s · 1,234 words/s") and not v["done"].resumable
    assert v["done"].title == ":material/check_circle: done: finished"
    assert v["paused"].note == ("info", "Stopped at 25.0% with a checkpoint saved.") and v["paused"].resumable
    assert v["crashed"].state == states.INTERRUPTED and v["crashed"].note[0] == "warning"
    assert not v["crashed"].resumable  # no checkpoint to continue from
    assert v["broken"].note == ("error", "--min-count is too high: lower --min-count")
    assert v["busy"].live and v["busy"].stoppable and v["busy"].progress[1].endswith("ETA 1h 02m")
    assert v["never-started"].state == states.FAILED and not v["never-started"].live
    assert v["blown"].note == ("error", "the loss became infinite/NaN at epoch 3, step 7: lower the learning rate")
    assert v["blown"].title == ":material/trending_up: blown: diverged"
    assert not v["blown"].resumable and not v["blown"].live and not v["blown"].stoppable  # resuming diverges again
    assert v["blown-quietly"].note == ("error", "The loss became infinite or NaN in epoch 3: lower the learning "
                                                "rate (--lr) and train a new run.")
    assert {v[n].state for n in v} <= set(states.STATES)
    assert states.DIVERGED in states.ENDED and states.DIVERGED not in states.RESUMABLE
    rows = {r["run"]: r for r in runlist.rows()}
    assert set(rows) == {"done", "paused", "crashed", "broken", "busy", "blown", "blown-quietly"}
    assert rows["done"]["corpus"] == "c.txt.gz" and rows["done"]["window"] == 3 and rows["done"]["created"]
    assert rows["crashed"]["state"] == "interrupted" and rows["paused"]["progress"] == 25.0
    assert runlist.watchable(None, "gone") == (list(rows), list(rows)[0])
    assert runlist.watchable({"run": "new", "pid": 1}, None)[1] == "new"
