"""Data-parallel training under torchrun (2 processes, gloo) against one process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import group_precision, planted_text
from w2v.runs import Run
from w2v.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--dim", "24", "--window", "3", "--min-count", "1", "--sample", "0", "--epochs", "3", "--lr", "0.05",
        "--eval", "none", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "planted.txt"
    text, groups = planted_text(paragraphs=45000)  # 585k positions: 3 chunks, so 2 rounds an epoch
    path.write_text(text)
    return path, groups


def test_two_processes_match_one(corpus, tmp_path):
    path, groups = corpus
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "w2v", "train", str(path), "--out", str(tmp_path / "two"), *ARGS],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r1 = subprocess.run([sys.executable, "-m", "w2v", "train", str(path), "--out", str(tmp_path / "one"), *ARGS],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r1.returncode == 0, r1.stderr[-3000:]

    two, one = Run(tmp_path / "two"), Run(tmp_path / "one")
    st = two.status()
    assert st["state"] == "finished" and st["ranks"] == 2
    assert st["words_done"] == st["words_total"] == one.status()["words_total"]  # every chunk trained once
    steps = [e for e in two.metrics()[0] if e["event"] == "step"]
    assert len(steps) == 3 * 2  # rounds of two chunks: 2 per epoch
    assert [e for e, c, _ in two.checkpoints()] == [0, 1, 2, 3]  # rank 0 alone writes the run
    wv2, wv1 = WordVectors.from_run(two.path), WordVectors.from_run(one.path)
    assert group_precision(wv2, groups) > 0.9
    assert group_precision(wv1, groups) > 0.9


def test_rank_errors_reach_every_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe" * 1000)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "w2v", "train", str(bad), "--out", str(tmp_path / "run"), *ARGS],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert r.stderr.count("error: bad.txt is not UTF-8") == 2  # both ranks stop with the same message
    assert not (tmp_path / "run").exists()  # refused before training: nothing left behind
