"""The Train page through AppTest: a tiny training started from the page and followed through its
run directory to the end; a refused second start; stop and resume; an interrupted run; delete."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from w2v.runs import Run, atomic_write_json
from w2v.studio import form, jobs, uploads

from conftest import planted_text

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """(the runs folder, the planted corpus uploaded): both in tmp_path, the server in the project."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    corpus = uploads.save_corpus("planted.txt", planted_text(paragraphs=300)[0].encode())
    return tmp_path / "runs", corpus


def page(corpus, **settings) -> AppTest:
    """The page with `corpus` picked and the form filled in (not submitted)."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["corpus_path"] = str(corpus)
    at.run()
    assert not at.exception
    keys = {f.name: f.key for f in form.fields()}
    for name, value in {"dim": 10, "epochs": 2, "min_count": 1, "threads": 1, **settings}.items():
        at.number_input(key=keys[name]).set_value(value)
    at.selectbox(key="cfg-word2vec-eval").set_value("none")
    return at


def click(at, label):
    return next(b for b in at.button if b.label == label).click().run()


def poll_until(at, run: Run, cond, timeout=60.0):
    """Re-run the page (AppTest does not fire run_every timers) until `cond(run status)` holds."""
    deadline = time.time() + timeout
    while not cond(run.status()):
        assert time.time() < deadline, f"gave up waiting; status {run.status()}"
        time.sleep(0.2)
        at.run()
        assert not at.exception
    return at.run()


def header(at) -> str:
    return at.subheader[0].value


def test_tiny_training_from_the_page_to_the_end(env):
    runs, corpus = env
    at = page(corpus)
    at.text_input(key="run_name").set_value("tiny one")
    click(at, "Start training")
    assert not at.exception and not at.error
    run = Run(runs / "tiny-one")
    assert at.session_state["watch"] == "tiny-one" and (runs / "tiny-one.log").exists()
    at = poll_until(at, run, lambda st: st.get("state") == "finished")
    assert header(at) == ":material/check_circle: tiny-one: finished"
    cfg = run.config()["train"]
    assert (cfg["dim"], cfg["epochs"], cfg["min_count"], cfg["eval"]) == (10, 2, 1, "none")
    assert len(at.get("plotly_chart")) == 1  # the loss chart
    nbrs = next(m.value for m in at.markdown if m.value.startswith("| probe |"))
    assert nbrs.count("\n") >= 3 and ":orange[**" in nbrs  # neighbours with what changed marked
    assert at.slider(key="nbr-epoch-tiny-one").value == 2
    table = at.dataframe[-1].value
    assert table["run"].tolist() == ["tiny-one"] and table["state"].tolist() == ["finished"]
    assert table["corpus"].tolist() == ["planted.txt"]


def test_estimate_before_starting(env):
    at = page(env[1])
    click(at, "Estimate")
    m = {x.label: x.value for x in at.metric}
    assert m["Vocabulary"] == "48" and m["Parameter memory"] == "3.8 KiB"  # 2 x 48 x 10 x 4 bytes
    assert m["Pairs per epoch"] != "0" and m["Estimated training time"] != "–"


def test_bad_settings_are_one_line_errors(env):
    at = page(env[1], lr=0.01, min_lr=0.02)  # each within its bounds, refused together
    window = at.number_input(key="cfg-word2vec-window")
    assert (window.min, window.max) == (1, 100)  # a value out of bounds cannot be entered at all
    click(at, "Start training")
    assert "--min-lr must be between 0 and --lr" in at.error[0].value
    assert not env[0].exists() or not any(env[0].iterdir())


def test_second_start_refused_then_stop_and_resume_from_the_page(env):
    runs, _ = env
    # long enough (3.6 M words at dim 50, one thread) that Stop lands before the job ends
    corpus = uploads.save_corpus("long.txt", planted_text(paragraphs=3000)[0].encode())
    at = page(corpus, epochs=100, dim=50)
    at.text_input(key="run_name").set_value("long")
    click(at, "Start training")
    run = Run(runs / "long")
    at.text_input(key="run_name").set_value("second")
    click(at, "Start training")
    assert "run long is training" in at.error[0].value and not (runs / "second").exists()
    at = poll_until(at, run, lambda st: st.get("phase") == "training")
    click(at, "Stop")
    assert jobs.wait("long")["state"] == "stopped"
    at.run()
    assert header(at) == ":material/pause_circle: long: stopped"
    click(at, "Resume")
    assert not at.exception and not at.error
    at = poll_until(at, run, lambda st: st.get("state") == "finished")
    assert header(at) == ":material/check_circle: long: finished" and run.status()["epoch"] == 100
    kinds = [e["event"] for e in run.metrics()[0]]
    assert kinds.count("start") == 2 and "stopped" in kinds and kinds[-1] == "end"


def test_interrupted_run_offers_resume_and_delete_asks_first(env):
    runs = env[0]
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    run = Run(runs / "crashed")
    run.path.mkdir(parents=True)
    atomic_write_json(run.config_path, {"train": {"dim": 10}, "corpus": str(env[1])})
    atomic_write_json(run.status_path, {"state": "running", "pid": p.pid, "progress": 0.4})
    run.save_checkpoint(0, 1, np.zeros((2, 10), "float32"), np.zeros((2, 10), "float32"), {"epoch": 0})
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert header(at) == ":material/warning: crashed: interrupted" and "Resume continues" in at.warning[0].value
    assert any(b.label == "Resume" for b in at.button)
    at.selectbox(key="delete_target").set_value("crashed")
    click(at, "Delete…")
    assert "cannot be undone" in at.warning[-1].value and run.path.exists()
    click(at, "Cancel")
    assert run.path.exists()
    click(at, "Delete…")
    click(at, "Yes, delete crashed")
    assert not at.exception and not run.path.exists()
    assert "No runs yet" in at.caption[-1].value


def fake_run(runs: Path, name: str, steps, **status) -> Run:
    """A run directory as a trainer leaves it: config, status and `steps` loss values."""
    run = Run(runs / name)
    run.path.mkdir(parents=True)
    atomic_write_json(run.config_path, {"train": {"dim": 10, "lr": 50.0}, "corpus": "/data/c.txt"})
    atomic_write_json(run.status_path, status)
    for i, loss in enumerate(steps):
        run.append_metric({"event": "step", "words_done": 1000 * (i + 1), "loss": loss, "loss_pos": loss,
                           "loss_neg": 0.5, "lr": 50.0, "words_per_sec": 1e5, "epoch": 0})
    return run


@pytest.mark.parametrize("steps", [[4.0, 9.0, 300.0, float("inf")], []])
def test_a_diverged_run_says_why_and_keeps_its_chart(env, steps):
    """With the loss points before it blew up, or none at all (NaN in its first chunk): the chart
    is there either way, marking where the loss stopped being a number."""
    error = "the loss became NaN at epoch 1, 20.0% through the run (3,600 words, --lr 50): lower the learning rate"
    run = fake_run(env[0], "too-fast", steps, state="diverged", epoch=0, progress=0.1, error=error)
    run.append_metric({"event": "diverged", "epoch": 0, "chunk": 0, "words_done": 3600, "error": error})
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert header(at) == ":material/trending_up: too-fast: diverged"
    assert [e.value for e in at.error] == [error]
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    figure = json.loads(charts[0].proto.spec)
    assert [s["x0"] for s in figure["layout"]["shapes"]] == [3600]  # the marker where it diverged
    assert len(figure["data"][0]["x"]) == len(steps)
    assert not any(b.label in ("Resume", "Stop") for b in at.button)


def test_a_run_trained_by_another_host_offers_no_stop(env):
    """A runs folder shared by two machines: the page reads the other machine's job but cannot signal it."""
    fake_run(env[0], "far", [4.0, 3.5], state="running", phase="training", pid=os.getpid(), host="other-machine",
             pid_start=1, words_total=10_000, progress=0.2, epochs=1)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and header(at).endswith("far: running")
    assert not any(b.label == "Stop" for b in at.button)
    assert "on host other-machine" in at.info[0].value and "cannot tell whether it still runs" in at.info[0].value


def test_a_finished_run_continues_for_more_epochs_from_the_page(env):
    from w2v.train import TrainConfig, train
    runs, corpus = env
    train(corpus, runs / "tiny", TrainConfig(dim=10, epochs=1, min_count=1, threads=1, eval="none"))
    run = Run(runs / "tiny")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert header(at) == ":material/check_circle: tiny: finished"
    at.number_input(key="more-tiny").set_value(2)
    click(at, "Continue training")
    assert not at.exception and not at.error
    at = poll_until(at, run, lambda st: st.get("state") == "finished" and st.get("epoch") == 3)
    assert header(at) == ":material/check_circle: tiny: finished"
    assert run.config()["train"]["epochs"] == 3 and len(at.get("plotly_chart")) == 1
    kinds = [e["event"] for e in run.metrics()[0]]
    assert kinds.count("start") == 2 and kinds.count("end") == 1 and kinds[-1] == "end"
    assert any(b.label == "Continue training" for b in at.button)  # and it may go on again


def test_a_new_run_starts_from_a_finished_runs_vectors_from_the_page(env):
    from w2v.train import TrainConfig, train
    runs, corpus = env
    train(corpus, runs / "first", TrainConfig(dim=10, epochs=1, min_count=1, threads=1, eval="none"))
    at = page(corpus, dim=12)
    assert at.selectbox(key="init_from").options == ["none: random vectors", "first"]
    at.selectbox(key="init_from").set_value("first")
    at.text_input(key="run_name").set_value("wrong-dim")
    click(at, "Start training")
    jobs.wait("wrong-dim")
    at.run()  # refused before it wrote anything: the page shows the trainer's one line
    assert [e.value for e in at.error] == ["--init-from first: its vectors have 10 dimensions, this run --dim 12: "
                                           "give --dim 10 or pick a run of dimension 12"]
    at.number_input(key=next(f.key for f in form.fields() if f.name == "dim")).set_value(10)
    at.text_input(key="run_name").set_value("second")
    click(at, "Start training")
    assert not at.exception and not at.error and not (runs / "wrong-dim").exists()
    run = Run(runs / "second")
    at = poll_until(at, run, lambda st: st.get("state") == "finished")
    assert header(at) == ":material/check_circle: second: finished"
    start = next(e for e in run.metrics()[0] if e["event"] == "start")
    assert start["init_from"] == "first" and start["init_rows"] > 0
    assert run.config()["init_from"] == str((runs / "first").resolve())
