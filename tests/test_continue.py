"""Training goes on: a finished run continued to more epochs (`--resume --epochs N`), and a new run
started from another run's vectors (`--init-from`)."""

import json
import signal

import numpy as np
import pytest

from conftest import group_precision, planted_text
from w2v.errors import W2VError
from w2v.runs import Run
from w2v.train import TrainConfig, train
from w2v.vectors import WordVectors

FAST = dict(dim=24, window=3, min_count=1, sample=0, lr=0.05, threads=1, eval="none")
FLAGS = ["--dim", "24", "--window", "3", "--min-count", "1", "--sample", "0", "--lr", "0.05", "--threads", "1",
         "--eval", "none", "--quiet"]


def cli(monkeypatch, *args: str) -> int:
    from w2v.__main__ import main
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the CLI's handlers stay out of the test run
    return main(["train", *args])


def events(run: Run, kind: str) -> list[dict]:
    return [e for e in run.metrics()[0] if e["event"] == kind]


def test_a_finished_run_continues_to_more_epochs_on_the_command_line(planted, tmp_path, monkeypatch, capsys):
    path, groups = planted
    run = Run(tmp_path / "run")
    assert cli(monkeypatch, str(path), "--out", str(run.path), "--epochs", "1", *FLAGS) == 0
    before = np.load(run.in_vectors_path)
    first = events(run, "step")
    assert cli(monkeypatch, "--out", str(run.path), "--resume", "--epochs", "2", "--quiet") == 0
    status, steps = run.status(), events(run, "step")
    assert status["state"] == "finished" and status["words_done"] == status["words_total"]
    # metrics go on: the first epoch's steps kept, words_done only grows, one end (the last event)
    assert steps[:len(first)] == first and len(steps) > len(first)
    done = [s["words_done"] for s in steps]
    assert done == sorted(set(done)) and done[-1] == 2 * first[-1]["words_done"]
    kinds = [e["event"] for e in run.metrics()[0]]
    assert kinds.count("end") == 1 and kinds[-1] == "end" and kinds.count("start") == 2
    assert events(run, "start")[-1]["lr_from_epoch"] == 1
    # the learning rate falls from --lr to --min-lr again over the added epoch
    lrs = [s["lr"] for s in steps[len(first):]]
    assert first[-1]["lr"] == pytest.approx(1e-4) and lrs[0] > 0.045
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(1e-4)
    # the layout stays: settings say 2 epochs and where the rate restarted, a checkpoint per epoch
    saved = run.config()
    assert saved["train"]["epochs"] == 2 and [c["from_epoch"] for c in saved["continued"]] == [1]
    assert [(e, c) for e, c, _ in run.checkpoints()] == [(0, 0), (1, 0), (2, 0)]
    after = np.load(run.in_vectors_path)
    assert not np.allclose(before, after)  # it trained on
    assert group_precision(WordVectors.from_run(run.path), groups) > 0.9  # and stays good


def test_a_finished_run_without_more_epochs_is_still_finished(planted, tmp_path, monkeypatch, capsys):
    path, _ = planted
    out = str(tmp_path / "run")
    assert cli(monkeypatch, str(path), "--out", out, "--epochs", "2", *FLAGS) == 0
    capsys.readouterr()
    for more in ([], ["--epochs", "2"]):
        assert cli(monkeypatch, "--out", out, "--resume", *more, "--quiet") == 2
        err = capsys.readouterr().err
        assert "already finished its 2 epochs" in err and "larger --epochs" in err and err.count("\n") == 1
    assert cli(monkeypatch, "--out", out, "--resume", "--epochs", "1", "--quiet") == 2
    assert "give --epochs more than 2" in capsys.readouterr().err
    assert Run(out).config()["train"]["epochs"] == 2 and "continued" not in Run(out).config()


def test_a_stopped_run_is_resumed_before_it_is_continued(planted, tmp_path):
    path, _ = planted
    calls = iter(range(100))
    train(path, tmp_path / "run", TrainConfig(**FAST, epochs=2), stop=lambda: next(calls) == 0)
    with pytest.raises(W2VError, match="has not finished its 2 epochs .stopped.: resume it without --epochs"):
        train(None, tmp_path / "run", resume=True, epochs=3)
    assert train(None, tmp_path / "run", resume=True)["state"] == "finished"
    assert train(None, tmp_path / "run", resume=True, epochs=3)["words_done"] == 3 * 1500 * 12  # 3 epochs


@pytest.fixture
def source(planted, tmp_path):
    """A finished run of one epoch on the planted corpus."""
    path, _ = planted
    train(path, tmp_path / "source", TrainConfig(**FAST, epochs=1))
    return Run(tmp_path / "source")


def initial_tables(run: Run):
    with np.load(run.checkpoint_path(0, 0)) as z:
        return z["in_vectors"], z["out_vectors"]


def test_init_from_a_run_with_the_same_vocabulary_takes_every_row(planted, source, tmp_path):
    path, groups = planted
    seen = []
    train(path, tmp_path / "run", TrainConfig(**FAST, epochs=1, seed=7), init_from=source.path,
          callback=seen.append)
    start = next(e for e in seen if e["event"] == "start")
    assert (start["init_from"], start["init_rows"], start["vocab_size"]) == ("source", 48, 48)
    assert Run(tmp_path / "run").config()["init_from"] == str(source.path.resolve())
    in_w, out_w = initial_tables(Run(tmp_path / "run"))
    assert np.array_equal(in_w, np.load(source.in_vectors_path))  # the same words in the same rows here
    assert np.array_equal(out_w, np.load(source.out_vectors_path))
    assert group_precision(WordVectors.from_run(tmp_path / "run"), groups) > 0.9


def test_init_from_takes_the_shared_words_and_initialises_the_rest(source, tmp_path):
    text, _ = planted_text(seed=3)
    for g in range(4, 8):  # groups 4-7 get words the source never saw
        text = text.replace(f"g{g}w", f"new{g}w")
    path = tmp_path / "other.txt"
    path.write_text(text)
    seen = []
    train(path, tmp_path / "run", TrainConfig(**FAST, epochs=1), init_from=source.path, callback=seen.append)
    assert next(e for e in seen if e["event"] == "start")["init_rows"] == 24
    words = [line.split("\t")[0] for line in (tmp_path / "run" / "vocab.tsv").read_text().splitlines()]
    src_words = [line.split("\t")[0] for line in source.vocab_path.read_text().splitlines()]
    in_w, out_w = initial_tables(Run(tmp_path / "run"))
    src_in, src_out = np.load(source.in_vectors_path), np.load(source.out_vectors_path)
    for i, w in enumerate(words):
        if w.startswith("new"):  # word2vec's initialisation: input uniform in ±0.5/dim, output zero
            assert np.abs(in_w[i]).max() <= 0.5 / 24 and not out_w[i].any()
        else:
            j = src_words.index(w)
            assert np.array_equal(in_w[i], src_in[j]) and np.array_equal(out_w[i], src_out[j])


@pytest.mark.parametrize("make,message", [
    (lambda tmp, src: tmp / "nowhere", "no such run"),
    (lambda tmp, src: src.path, "its vectors have 24 dimensions, this run --dim 16: give --dim 24"),
])
def test_init_from_refuses_a_missing_run_or_other_dimensions(planted, source, tmp_path, make, message):
    path, _ = planted
    with pytest.raises(W2VError, match=message):
        train(path, tmp_path / "run", TrainConfig(**{**FAST, "dim": 16}, epochs=1),
              init_from=make(tmp_path, source))
    assert not (tmp_path / "run").exists()


def test_init_from_on_the_command_line_says_how_many_rows(planted, source, tmp_path, monkeypatch, capsys):
    path, _ = planted
    flags = [f for f in FLAGS if f != "--quiet"]
    assert cli(monkeypatch, str(path), "--out", str(tmp_path / "run"), "--epochs", "1", *flags,
               "--init-from", str(source.path)) == 0
    assert "initialised 48 of 48 rows from run source" in capsys.readouterr().err
    assert cli(monkeypatch, "--out", str(tmp_path / "run"), "--resume", "--init-from", str(source.path)) == 2
    assert "--init-from starts a new run: drop --resume" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init_from"].endswith("source")
