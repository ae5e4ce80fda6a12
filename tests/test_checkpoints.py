"""Checkpoints: a damaged one is never resumed from (the run falls back to the last good one, or
starts over, and says so); a resumed run's metrics never go back; a long run keeps a bounded,
evenly spaced set; a full disk fails the run in one line, never with half a checkpoint."""

import errno
import io
import itertools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import group_precision, planted_text
from w2v.corpus import FREE_MARGIN
from w2v.errors import W2VError
from w2v.runs import DamagedCheckpoint, Run
from w2v.train import TrainConfig, kept_epochs, reports_per_round, train
from w2v.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent
FAST = dict(dim=24, window=3, min_count=1, sample=0, epochs=4, lr=0.05, threads=1, eval="none")


def stop_after(rounds: int):
    """A `stop` for train(): True after that many rounds."""
    count = itertools.count(1)
    return lambda: next(count) == rounds


@pytest.fixture
def stopped(planted, tmp_path):
    """A run stopped after three of its four epochs (one chunk each): checkpoints at the start of
    epochs 0, 1 and 2, and the stop's own, (2, 1)."""
    path, groups = planted
    assert train(path, tmp_path / "run", TrainConfig(**FAST), stop=stop_after(3))["state"] == "stopped"
    run = Run(tmp_path / "run")
    assert [c[:2] for c in run.checkpoints()] == [(0, 0), (1, 0), (2, 0), (2, 1)]
    return run, groups


PER_EPOCH = reports_per_round(1, 4, 18_000)  # step events an epoch of the planted corpus (one chunk)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def steps(run: Run) -> list[dict]:
    return [e for e in run.metrics()[0] if e["event"] == "step"]


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(stopped, capsys):
    run, groups = stopped
    truncate(run.checkpoint_path(2, 1))
    capsys.readouterr()
    status = train(None, run.path, resume=True)
    assert status["state"] == "finished" and status["words_done"] == status["words_total"]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: checkpoint ckpt-002-000001.npz is damaged (BadZipFile: File is not a zip file): "
                   "removed it, resuming from ckpt-002-000000.npz"]
    bad = [e for e in run.metrics()[0] if e["event"] == "bad_checkpoint"]
    assert [(e["checkpoint"], e["then"]) for e in bad] == [("ckpt-002-000001.npz", "resuming from ckpt-002-000000.npz")]
    start = [e for e in run.metrics()[0] if e["event"] == "start"][-1]
    assert start["resumed"] and (start["epoch"], start["chunk"]) == (2, 0)
    assert group_precision(WordVectors.from_run(run.path), groups) > 0.9
    done = [s["words_done"] for s in steps(run)]
    assert done == sorted(done) and len(done) == 4 * PER_EPOCH  # an epoch's steps, none repeated


def test_no_good_checkpoint_starts_over_from_the_saved_vocabulary(stopped, capsys):
    run, groups = stopped
    for _, _, p in run.checkpoints():
        truncate(p)
    status = train(None, run.path, resume=True)
    assert status["state"] == "finished"
    err = capsys.readouterr().err
    assert err.count("is damaged") == 4 and err.count("removed it, starting over") == 4
    events = run.metrics()[0]
    assert [e["event"] for e in events].count("vocab") == 1  # the corpus was not read again
    assert [s["epoch"] for s in steps(run)] == [e for e in range(4) for _ in range(PER_EPOCH)]
    assert group_precision(WordVectors.from_run(run.path), groups) > 0.9


def test_a_checkpoint_whose_tables_are_not_v_by_dim_float32_is_not_good(stopped):
    run, _ = stopped
    newest = run.checkpoint_path(2, 1)
    i, o, state = Run.load_checkpoint(newest)
    shape = i.shape
    for bad_in, bad_out, why in [(i[:1], o[:1], "shape (1, 24)"), (i.astype(np.float64), o, "float64"),
                                 (i, o[:, :5], "shape (48, 5)")]:
        run.save_checkpoint(2, 1, bad_in, bad_out, state)
        with pytest.raises(DamagedCheckpoint, match=r"the run needs float32 of shape \(48, 24\)") as e:
            Run.load_checkpoint(newest, shape)
        assert why in str(e.value)
    run.save_checkpoint(2, 1, i, o, {**state, "epoch": 1})
    with pytest.raises(DamagedCheckpoint, match="its state is epoch 1, chunk 1"):
        Run.load_checkpoint(newest, shape)
    run.save_checkpoint(2, 1, i[:1], o[:1], state)  # once broadcast into (V, dim) without a word
    assert train(None, run.path, resume=True)["state"] == "finished"
    assert [e["checkpoint"] for e in run.metrics()[0] if e["event"] == "bad_checkpoint"] == ["ckpt-002-000001.npz"]


def test_a_header_claiming_a_huge_table_allocates_nothing(tmp_path):
    path = tmp_path / "ckpt-000-000000.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("in_vectors", "out_vectors"):
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                                       "shape": (10 ** 12, 10 ** 4)})
            zf.writestr(f"{name}.npy", buf.getvalue() + b"\0" * 64)
        zf.writestr("state.npy", b"")
    with pytest.raises(DamagedCheckpoint, match=r"in_vectors is float32 of shape \(1000000000000, 10000\)"):
        Run.load_checkpoint(path, (48, 24))
    with pytest.raises(DamagedCheckpoint):  # without a shape to check: a one-line error, still
        Run.load_checkpoint(path)


def test_damaged_checkpoints_are_one_line_errors_for_every_reader(stopped):
    run, _ = stopped
    truncate(run.checkpoint_path(1, 0))
    with pytest.raises(W2VError, match=r"checkpoint ckpt-001-000000.npz is damaged \(BadZipFile"):
        Run.load_checkpoint(run.checkpoint_path(1, 0))
    with pytest.raises(W2VError, match="is damaged"):
        WordVectors.from_run(run.path, checkpoint=run.checkpoint_path(1, 0))


def test_resume_on_the_command_line_falls_back_without_a_traceback(stopped):
    run, _ = stopped
    truncate(run.checkpoint_path(2, 1))
    r = subprocess.run([sys.executable, "-m", "w2v", "train", "--out", str(run.path), "--resume", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "warning: checkpoint ckpt-002-000001.npz is damaged" in r.stderr
    assert run.status()["state"] == "finished"


# ---------------------------------------------------------------- metrics after a kill

def test_resume_after_a_kill_drops_the_steps_after_its_checkpoint(tmp_path):
    """A trainer killed in epoch 1 after two of its three chunks: its last checkpoint is the start
    of epoch 1, and metrics.jsonl holds two steps past it (and half a line). Resumed, the file holds
    exactly the steps of an uninterrupted run: words_done never goes back."""
    text, _ = planted_text(paragraphs=45000)  # 585k positions: 3 chunks
    path = tmp_path / "planted.txt"
    path.write_text(text)
    cfg = TrainConfig(**{**FAST, "dim": 8, "epochs": 2})
    train(path, tmp_path / "whole", cfg)
    run = Run(tmp_path / "split")
    assert train(path, run.path, cfg, stop=stop_after(5))["state"] == "stopped"
    run.checkpoint_path(1, 2).unlink()  # killed: the stop's checkpoint was never written
    run.write_status(state="interrupted")
    with open(run.metrics_path, "a") as f:
        f.write('{"time": 1, "event": "st')
    per_chunk = reports_per_round(3, 2, 540_000 / 3)  # 540k words in 3 chunks, 2 epochs
    assert [s["chunk"] for s in steps(run)] == [c for c in (0, 1, 2, 0, 1) for _ in range(per_chunk)]
    assert train(None, run.path, resume=True)["state"] == "finished"

    def trail(r):
        return [(e["epoch"], e["chunk"], e["words_done"], e["pairs"], e["lr"], e["loss"]) for e in steps(r)]
    assert trail(run) == trail(Run(tmp_path / "whole")) and len(trail(run)) == 6 * per_chunk
    assert all(isinstance(e, dict) for e in run.metrics()[0])
    assert run.metrics_path.read_text().count("\n") == len(run.metrics()[0])  # every line whole


def test_rewind_keeps_the_events_up_to_the_checkpoint(tmp_path):
    run = Run(tmp_path)
    events = [{"event": "vocab"}, {"event": "start"}, {"event": "step", "words_done": 10},
              {"event": "epoch", "words_done": 10, "checkpoint": "ckpt-001-000000.npz"},
              {"event": "step", "words_done": 20}, {"event": "stopped", "words_done": 20},
              {"event": "start", "resumed": True}, {"event": "step", "words_done": 30}]
    for e in events:
        run.append_metric(e)
    run.rewind_metrics(20)
    assert run.metrics()[0] == events[:7]
    run.rewind_metrics(10)
    assert run.metrics()[0] == events[:4]
    run.rewind_metrics(0)
    assert run.metrics()[0] == events[:2]


# ---------------------------------------------------------------- how many are kept

@pytest.mark.parametrize("epochs", [1, 4, 11, 12, 25, 100, 10_000])
def test_a_run_keeps_at_most_12_evenly_spaced_start_of_epoch_checkpoints(epochs):
    kept: set[int] = set()
    for latest in range(epochs + 1):  # the trainer writes one per epoch, then prunes
        kept = (kept | {latest}) & kept_epochs(epochs, latest)
        assert len(kept) <= 12
    assert 0 in kept and epochs in kept and len(kept) == min(12, epochs + 1)
    gaps = np.diff(sorted(kept))
    assert gaps.max() - gaps.min() <= 1  # evenly spaced


def test_a_long_run_prunes_its_checkpoints_as_it_goes(planted, tmp_path):
    from w2v.studio.sources import run_checkpoints
    path, _ = planted
    run = Run(tmp_path / "run")
    train(path, run.path, TrainConfig(**{**FAST, "dim": 8, "epochs": 25}), stop=stop_after(8))
    assert [c[:2] for c in run.checkpoints()] == [(0, 0), (2, 0), (5, 0), (7, 0), (7, 1)]  # and the stop's
    train(None, run.path, resume=True)
    epochs = [0, 2, 5, 7, 9, 11, 14, 16, 18, 20, 23, 25]
    assert [c[:2] for c in run.checkpoints()] == [(e, 0) for e in epochs]
    assert [label for label, _ in run_checkpoints(run.path)][-1] == "epoch 25"  # the Map's timeline


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def disk_fills_after_two_checkpoints(monkeypatch):
    """The disk as ensure_free_space sees it: room for the corpus and two checkpoints, then full."""
    import shutil
    real = shutil.disk_usage

    def usage(folder):
        ckpts = Path(folder) / "checkpoints"
        full = ckpts.is_dir() and len(list(ckpts.glob("ckpt-*.npz"))) >= 2
        return real(folder)._replace(free=FREE_MARGIN + 1000) if full else real(folder)
    monkeypatch.setattr(shutil, "disk_usage", usage)


def test_a_full_disk_fails_the_run_in_one_line_before_a_checkpoint(planted, tmp_path, disk_fills_after_two_checkpoints):
    path, _ = planted
    run = Run(tmp_path / "run")
    with pytest.raises(W2VError, match=r"too little for checkpoint ckpt-002-000000.npz .*: free some disk space") as e:
        train(path, run.path, TrainConfig(**FAST))
    assert "\n" not in str(e.value)
    st = run.status()
    assert st["state"] == "failed" and st["error"] == str(e.value)
    assert [c[:2] for c in run.checkpoints()] == [(0, 0), (1, 0)]
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["ckpt-000-000000.npz", "ckpt-001-000000.npz"]
    assert not run.in_vectors_path.exists()


def test_a_write_that_runs_out_of_space_leaves_no_half_checkpoint(planted, tmp_path, monkeypatch):
    path, _ = planted
    real = np.savez

    def savez(f, **arrays):
        if json.loads(str(arrays["state"]))["epoch"] == 1:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, **arrays)
    monkeypatch.setattr(np, "savez", savez)
    run = Run(tmp_path / "run")
    with pytest.raises(W2VError, match=r"checkpoint ckpt-001-000000.npz could not be written \(No space left on "
                                       r"device\): free some disk space, then resume the run"):
        train(path, run.path, TrainConfig(**FAST))
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["ckpt-000-000000.npz"]
    monkeypatch.setattr(np, "savez", real)
    assert train(None, run.path, resume=True)["state"] == "finished"
    assert json.loads(run.status_path.read_text())["state"] == "finished"
