"""Data-parallel training under torchrun (2 processes, gloo) against one process."""

import os
import random
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import group_precision
from w2v.distributed import SYNCS_PER_CHUNK, Group
from w2v.runs import Run, load_npy
from w2v.train import reports_per_round
from w2v.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--dim", "24", "--window", "3", "--min-count", "1", "--sample", "0", "--epochs", "3", "--lr", "0.05",
        "--eval", "none", "--quiet"]
CHUNK = 1 << 18  # the trainer's chunk: corpus positions


def split_planted_text(paragraphs: int = 45000, length: int = 12, size: int = 6, seed: int = 0):
    """Planted groups (see conftest.planted_text) placed by chunk: groups 4-7 only in paragraphs
    that lie wholly in chunk 1, which rank 1 trains; groups 0-3 everywhere else. Rank 0 learns
    groups 4-7 only from the updates it receives. 45,000 paragraphs: 585k positions, 3 chunks."""
    rng = random.Random(seed)
    names = [[f"g{g}w{i}" for i in range(size)] for g in range(8)]
    paras = []
    for k in range(paragraphs):
        start = k * (length + 1)  # each paragraph is `length` words and one boundary
        only_rank_1 = CHUNK <= start and start + length <= 2 * CHUNK
        group = names[rng.randrange(4) + (4 if only_rank_1 else 0)]
        paras.append(" ".join(rng.choice(group) for _ in range(length)))
    return "\n\n".join(paras) + "\n", names


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "planted.txt"
    text, groups = split_planted_text()
    path.write_text(text)
    return path, groups


# Runs `python -m w2v ...` and, at exit, saves the tables this rank holds (the ones it merges).
DRIVER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from w2v import __main__ as cli
    from w2v.distributed import Group

    held = []
    merge = Group.merge_updates

    def remembering(self, tables, snapshots):
        held[:] = tables
        return merge(self, tables, snapshots)

    Group.merge_updates = remembering
    rc = cli.main(sys.argv[1:])
    rank = os.environ.get("RANK", "0")
    for name, t in zip(("in", "out"), held):
        np.save(os.path.join(os.environ["TABLES_DIR"], f"{name}-rank{rank}.npy"), t.cpu().numpy())
    sys.exit(rc)
""")


def test_two_processes_match_one(corpus, tmp_path):
    path, groups = corpus
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TABLES_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        str(driver), "train", str(path), "--out", str(tmp_path / "two"), *ARGS],
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
    assert len(steps) == 3 * 2 * reports_per_round(2, 3, 540_000 / 2)  # rounds of two chunks: 2 per epoch
    assert [e for e, c, _ in two.checkpoints()] == [0, 1, 2, 3]  # rank 0 alone writes the run

    # the ranks end with the same tables, and rank 0 saved them
    for name, saved in (("in", two.in_vectors_path), ("out", two.out_vectors_path)):
        rank0, rank1 = np.load(tmp_path / f"{name}-rank0.npy"), np.load(tmp_path / f"{name}-rank1.npy")
        assert np.array_equal(rank0, rank1)
        assert np.array_equal(rank0, load_npy(saved))
    # groups 4-7 occur only in rank 1's chunk: rank 0's tables learnt them through the merges
    wv2, wv1 = WordVectors.from_run(two.path), WordVectors.from_run(one.path)
    assert group_precision(wv2, groups[4:]) > 0.9
    assert group_precision(wv2, groups) > 0.9
    assert group_precision(wv1, groups) > 0.9


# Two processes without torchrun: RANK, WORLD_SIZE and the rendezvous address set by hand.
MERGE = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from w2v.distributed import Group

    group = Group("cpu")
    base = [torch.arange(20, dtype=torch.float32).view(5, 4), torch.ones(5, 4)]
    tables, snapshots = [t.clone() for t in base], [t.clone() for t in base]
    g = torch.Generator().manual_seed(group.rank)
    for step in range(2):  # two rounds: each merges the changes made since the last one
        for t in tables:
            t.add_(torch.randn(t.shape, generator=g))
        group.merge_updates(tables, snapshots)
        for name, t in (("table", tables), ("snapshot", snapshots)):
            for i, x in enumerate(t):
                np.save(f"{sys.argv[1]}/{name}{i}-step{step}-rank{group.rank}.npy", x.numpy())
    group.close()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_merge_updates_applies_the_summed_changes_of_every_rank(tmp_path):
    script = tmp_path / "merge.py"
    script.write_text(MERGE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2",
           "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]

    base = [torch.arange(20, dtype=torch.float32).view(5, 4), torch.ones(5, 4)]
    gens = [torch.Generator().manual_seed(r) for r in range(2)]
    want = [t.clone() for t in base]
    for step in range(2):
        changes = [[torch.randn(t.shape, generator=g) for t in base] for g in gens]  # as each rank drew them
        for i, t in enumerate(want):
            t.add_(changes[0][i] + changes[1][i])
        for r in range(2):
            for i in range(2):
                got = np.load(tmp_path / f"table{i}-step{step}-rank{r}.npy")
                snap = np.load(tmp_path / f"snapshot{i}-step{step}-rank{r}.npy")
                assert np.allclose(got, want[i].numpy(), atol=1e-5), (step, r, i)
                assert np.array_equal(snap, got)  # the next round starts from the merged tables


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


def _group(world: int, rank: int) -> Group:
    """A Group as rank `rank` of `world` sees it, for its bookkeeping only (no processes)."""
    g = Group()
    g.world, g.rank, g.active = world, rank, world > 1
    return g


def test_rounds_deal_the_chunks_out_to_the_ranks():
    def rounds(world, rank, n_chunks, start=0):
        return [(r.chunk, r.end) for r in _group(world, rank).rounds(n_chunks, start)]
    assert rounds(1, 0, 3) == [(0, 1), (1, 2), (2, 3)]  # one process: every chunk, one a round
    assert rounds(2, 0, 5) == [(0, 2), (2, 4), (4, 5)]
    assert rounds(2, 1, 5) == [(1, 2), (3, 4), (None, 5)]  # the last round has no chunk for rank 1
    assert rounds(2, 0, 5, start=2) == [(2, 4), (4, 5)]  # resumed after the first round
    assert rounds(2, 1, 5, start=3) == [(3, 4), (None, 5)]  # a checkpoint mid-round (world changed)
    assert rounds(2, 0, 5, start=3) == [(None, 4), (4, 5)]
    assert rounds(1, 0, 3, start=3) == []


def test_parts_are_where_the_ranks_merge():
    assert _group(1, 0).parts(10) == [slice(0, 10)]  # one process: the whole chunk, no merge
    parts = _group(2, 1).parts(1000)
    assert len(parts) == SYNCS_PER_CHUNK and parts[0].start == 0 and parts[-1].stop == 1000
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert len(_group(2, 1).parts(0)) == SYNCS_PER_CHUNK  # no chunk this round: the merges still
    parts = _group(2, 0).parts(1000, syncs=3)  # a stretch of a chunk reported on its own: fewer merges
    assert len(parts) == 3 and parts[-1].stop == 1000 and len(_group(2, 1).parts(0, syncs=3)) == 3
