"""A learning rate far too high is a lesson, not a crash: the run stops at the first NaN or
infinite loss as 'diverged', with a one-line error that says where and what rate to try, and
keeps what it wrote (metrics, the checkpoints before, status)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from w2v import kernel
from w2v.errors import W2VError
from w2v.runs import Run
from w2v.train import TrainConfig, reports_per_round, train

ROOT = Path(__file__).resolve().parent.parent
needs_kernel = pytest.mark.skipif(kernel.load() is None, reason="no C++ compiler: the kernel cannot be built")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "w2v", "train", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("engine", [pytest.param("kernel", marks=needs_kernel), "torch"])
def test_a_learning_rate_of_50_diverges_with_a_one_line_lesson(tiny_corpus, tmp_path, engine):
    run = Run(tmp_path / "run")
    r = cli(str(tiny_corpus), "--out", str(run.path), "--lr", "50", "--engine", engine, "--dim", "32",
            "--epochs", "3", "--threads", "1", "--eval", "none", "--quiet")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    line = r.stderr.strip()
    assert "\n" not in line, line
    assert line.startswith("error: the loss became ") and " at epoch 1, " in line and "% through the run" in line
    assert "--lr 50)" in line and line.endswith("train a new run with --lr 0.025 or lower")
    st = run.status()
    assert st["state"] == "diverged" and st["error"] == line[len("error: "):] and st["engine"] == engine
    events = run.metrics()[0]
    assert [e["event"] for e in events][-1] == "diverged"
    assert all(math.isfinite(e["loss"]) for e in events if e["event"] == "step")  # written while finite
    assert [c[:2] for c in run.checkpoints()] == [(0, 0)]  # the run keeps what it wrote
    assert not run.in_vectors_path.exists()
    r = cli("--out", str(run.path), "--resume", "--quiet")  # it would diverge again
    assert r.returncode == 2 and r.stderr.startswith("error: run run diverged") and "--lr" in r.stderr


@needs_kernel
def test_tables_that_became_nan_after_the_last_tracked_pair_stop_the_run(planted, tmp_path, monkeypatch):
    """A NaN the loss sums did not see: the tables are checked after every epoch, before their
    checkpoint is written."""
    from w2v import engines
    real, calls = engines.KernelEngine.train, {"n": 0}
    per_epoch = reports_per_round(1, 3, 18_000)  # the planted corpus: one chunk an epoch, in stretches

    def overflowing(self, chunk, lr0, lr1, seed):
        loss = real(self, chunk, lr0, lr1, seed)
        calls["n"] += 1
        if calls["n"] < per_epoch:  # after the epoch's last stretch only
            return loss
        self.in_w[3, 0] = float("inf")
        self.in_w[4, 0] = -float("inf")
        return loss
    monkeypatch.setattr(engines.KernelEngine, "train", overflowing)
    path, _ = planted
    cfg = TrainConfig(dim=8, window=3, min_count=1, sample=0, epochs=3, threads=1, eval="none", engine="kernel")
    with pytest.raises(W2VError, match="the vectors became non-finite at epoch 1, 33.3% through the run") as e:
        train(path, tmp_path / "run", cfg)
    run = Run(tmp_path / "run")
    assert run.status()["state"] == "diverged" and run.status()["error"] == str(e.value)
    assert [c[:2] for c in run.checkpoints()] == [(0, 0)]
    assert not run.in_vectors_path.exists()


@needs_kernel
def test_the_step_that_diverged_is_named_and_the_earlier_ones_are_kept(planted, tmp_path, monkeypatch):
    """The loss becomes infinite in the third chunk (its last stretch): the steps before stay on the chart."""
    from w2v import engines
    real, calls = engines.KernelEngine.train, {"n": 0}
    per_epoch = reports_per_round(1, 4, 18_000)  # the planted corpus: one chunk an epoch, in stretches

    def climbing(self, chunk, lr0, lr1, seed):
        calls["n"] += 1
        loss = real(self, chunk, lr0, lr1, seed)
        return loss if calls["n"] < 3 * per_epoch else engines.Loss(float("inf"), loss.neg, loss.tracked, loss.pairs)
    monkeypatch.setattr(engines.KernelEngine, "train", climbing)
    path, _ = planted
    cfg = TrainConfig(dim=8, window=3, min_count=1, sample=0, epochs=4, lr=0.5, threads=1, eval="none",
                      engine="kernel")
    with pytest.raises(W2VError, match=r"the loss became infinite at epoch 3, 75.0% through the run \("
                                       r"[\d,]+ words, --lr 0.5\): the learning rate is too high, train a new "
                                       r"run with --lr 0.025 or lower"):
        train(path, tmp_path / "run", cfg)
    run = Run(tmp_path / "run")
    steps = [e for e in run.metrics()[0] if e["event"] == "step"]
    assert len(steps) == 3 * per_epoch - 1 and all(math.isfinite(s["loss"]) for s in steps)
    assert [c[:2] for c in run.checkpoints()] == [(0, 0), (1, 0), (2, 0)]
    diverged = run.metrics()[0][-1]
    assert diverged["event"] == "diverged" and diverged["epoch"] == 2 and diverged["words_done"] > steps[-1]["words_done"]
    assert json.loads(run.status_path.read_text())["state"] == "diverged"


def test_a_nan_loss_from_the_torch_engine_is_seen_by_the_trainer(planted, tmp_path):
    """The check is on the Loss sums in the trainer, whatever engine produced them."""
    path, _ = planted
    cfg = TrainConfig(dim=8, window=3, min_count=1, sample=0, epochs=2, lr=100.0, threads=1, eval="none",
                      engine="torch", batch_size=256)
    with pytest.raises(W2VError, match=r"the loss became (NaN|infinite) at epoch 1"):
        train(path, tmp_path / "run", cfg)
    assert Run(tmp_path / "run").status()["state"] == "diverged"
