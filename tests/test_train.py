import importlib
import itertools
import json
import os
import signal

import numpy as np
import pytest

from conftest import group_precision
from w2v import kernel
from w2v.errors import W2VError
from w2v.runs import Run
from w2v.train import TrainConfig, default_probe_words, train
from w2v.corpus import Vocab
from w2v.vectors import WordVectors

FAST = dict(dim=24, window=3, min_count=1, sample=0, epochs=4, lr=0.05, threads=1, eval="none")


@pytest.mark.parametrize("engine,extra", [
    ("kernel", {}),
    ("kernel", {"noise": "window"}),
    ("kernel", {"noise": "pool"}),
    ("kernel", {"mode": "cbow"}),
    ("torch", {"batch_size": 256}),
    ("torch", {"mode": "cbow", "batch_size": 256}),
])
def test_planted_groups_are_recovered(planted, tmp_path, monkeypatch, engine, extra):
    path, groups = planted
    if engine == "torch":
        monkeypatch.setattr("w2v.kernel.load", lambda warn=True: None)
    elif __import__("w2v.kernel").kernel.load() is None:
        pytest.skip("no C++ compiler")
    status = train(path, tmp_path / "run", TrainConfig(**FAST, **extra))
    assert status["state"] == "finished" and status["engine"] == engine
    wv = WordVectors.from_run(tmp_path / "run")
    assert group_precision(wv, groups) > 0.9


def test_untrained_vectors_do_not_recover_groups(planted, tmp_path):
    """The planted check can fail: random vectors score near chance (1/8)."""
    path, groups = planted
    words = [w for g in groups for w in g]
    wv = WordVectors(words, np.random.default_rng(0).normal(size=(len(words), 24)))
    assert group_precision(wv, groups) < 0.4


def test_seed_recipe_runs_the_lecture_loop(planted, tmp_path):
    path, groups = planted
    cfg = TrainConfig.seed_recipe(dim=16, window=3, min_count=1, sample=0, epochs=3, lr=0.01, threads=1, eval="none")
    status = train(path, tmp_path / "run", cfg)
    assert status["engine"] == "seed"
    assert group_precision(WordVectors.from_run(tmp_path / "run"), groups) > 0.7


def test_events_metrics_and_run_directory(planted, tmp_path):
    path, _ = planted
    events = []
    train(path, tmp_path / "run", TrainConfig(**{**FAST, "eval": "epoch"}), callback=events.append,
          analogies=None, similarity=None)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "vocab" and kinds[1] == "start" and kinds[-1] == "end"
    assert kinds.count("epoch") == 4
    run = Run(tmp_path / "run")
    logged, _ = run.metrics()
    assert [e["event"] for e in logged] == kinds
    steps = [e for e in events if e["event"] == "step"]
    for key in ("step", "epoch", "words_done", "lr", "loss", "loss_pos", "loss_neg", "words_per_sec", "eta_s"):
        assert key in steps[0]
    assert steps[-1]["words_done"] == steps[-1]["words_total"]
    assert steps[0]["loss"] > steps[-1]["loss"]  # it learns
    lrs = [e["lr"] for e in steps]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(1e-4)
    epoch = [e for e in events if e["event"] == "epoch"][-1]
    assert epoch["neighbours"] and all(len(v) == 8 for v in epoch["neighbours"].values())
    assert [(e, c) for e, c, _ in run.checkpoints()] == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]
    assert run.status()["state"] == "finished"
    assert json.loads(run.config_path.read_text())["train"]["dim"] == 24
    for table in ("input", "output", "average"):
        assert WordVectors.from_run(run.path, table).vectors.shape == (48, 24)


def test_stop_then_resume_finishes_the_run(planted, tmp_path):
    path, groups = planted
    calls = {"n": 0}

    def stop_after_first_chunk():
        calls["n"] += 1
        return calls["n"] == 1
    cfg = TrainConfig(**FAST)
    status = train(path, tmp_path / "run", cfg, stop=stop_after_first_chunk)
    run = Run(tmp_path / "run")
    assert status["state"] == "stopped" and run.status()["state"] == "stopped"
    assert run.checkpoints()[-1][:2] == (0, 1)
    assert not run.in_vectors_path.exists()
    status = train(None, tmp_path / "run", resume=True)
    assert status["state"] == "finished"
    assert status["words_done"] == status["words_total"]
    assert group_precision(WordVectors.from_run(run.path), groups) > 0.9
    with pytest.raises(W2VError, match="already finished"):
        train(None, tmp_path / "run", resume=True)


def test_existing_run_directory_is_never_overwritten(planted, tmp_path):
    path, _ = planted
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(W2VError, match="already exists"):
        train(path, out, TrainConfig(**FAST))
    assert (out / "keep.txt").read_text() == "precious" and len(list(out.iterdir())) == 1


@pytest.mark.parametrize("field,value,message", [
    ("epochs", 0, "--epochs"), ("dim", -3, "--dim"), ("window", 0, "--window"),
    ("mode", "glove", "--mode"), ("lr", 0, "--lr"), ("negative", 0, "--negative"),
])
def test_bad_settings_are_refused_before_anything_is_written(planted, tmp_path, field, value, message):
    path, _ = planted
    with pytest.raises(W2VError, match=message):
        train(path, tmp_path / "run", TrainConfig(**{**FAST, field: value}))
    assert not (tmp_path / "run").exists()


def test_failed_corpus_marks_the_run_failed(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe" * 100)
    with pytest.raises(W2VError, match="UTF-8"):
        train(bad, tmp_path / "run", TrainConfig(**FAST))
    st = Run(tmp_path / "run").status()
    assert st["state"] == "failed" and "UTF-8" in st["error"]


def test_default_probe_words_follow_the_lecture():
    words = [f"w{i}" for i in range(2000)]
    probes = default_probe_words(Vocab(words, np.arange(2000, 0, -1)), seed=1)
    ranks = sorted(int(w[1:]) for w in probes)
    assert len(probes) == 16
    assert sum(r < 100 for r in ranks) == 8 and sum(1000 <= r < 1100 for r in ranks) == 8


def test_engine_is_picked_from_the_settings(monkeypatch):
    from w2v import engines, kernel
    vocab = Vocab(["a", "b", "c"], np.array([5, 3, 2]))
    seed = engines.make_engine(TrainConfig.seed_recipe(dim=4, device="cpu", threads=1), vocab)
    assert isinstance(seed, engines.SeedEngine) and seed.name == "seed"
    if kernel.load() is not None:
        k = engines.make_engine(TrainConfig(dim=4, device="cpu", threads=1), vocab)
        assert isinstance(k, engines.KernelEngine) and k.name == "kernel"
    monkeypatch.setattr("w2v.kernel.load", lambda warn=True: None)  # no compiler: the torch engine
    t = engines.make_engine(TrainConfig(dim=4, device="cpu", threads=1), vocab)
    assert isinstance(t, engines.TorchEngine) and t.name == "torch"
    for engine in (seed, t):
        assert engine.tables()[0].shape == (3, 4)
        copies, own = engine.tables(), engine.tables(copy=False)
        copies[0][0, 0] += 1  # a copy is the caller's to change; the engine's own tables are not copied
        assert not np.shares_memory(copies[0], own[0]) and copies[0][0, 0] != own[0][0, 0]
        assert np.shares_memory(own[1], engine.tables(copy=False)[1])
    with pytest.raises(W2VError, match="--engine kernel needs a C\\+\\+ compiler"):
        engines.make_engine(TrainConfig(dim=4, device="cpu", threads=1, engine="kernel"), vocab)


def test_the_engine_can_be_named(monkeypatch):
    from w2v import engines, kernel
    vocab = Vocab(["a", "b", "c"], np.array([5, 3, 2]))
    forced = engines.make_engine(TrainConfig(dim=4, device="cpu", threads=1, engine="torch"), vocab)
    assert isinstance(forced, engines.TorchEngine)  # even where the kernel builds
    if kernel.load() is not None:
        named = engines.make_engine(TrainConfig(dim=4, device="cpu", threads=1, engine="kernel"), vocab)
        assert isinstance(named, engines.KernelEngine)
    with pytest.raises(W2VError, match="--engine kernel trains on the CPU"):
        TrainConfig(engine="kernel", device="cuda").validate()
    with pytest.raises(W2VError, match="--recipe seed has its own loop"):
        TrainConfig.preset("seed", engine="torch").validate()


@pytest.mark.parametrize("engine", ["kernel", "torch", "seed"])
def test_the_same_seed_trains_the_same_vectors(planted, tmp_path, monkeypatch, engine):
    path, _ = planted
    if engine == "torch":
        monkeypatch.setattr("w2v.kernel.load", lambda warn=True: None)
    cfg = TrainConfig.seed_recipe(**{**FAST, "dim": 8, "epochs": 1}) if engine == "seed" else \
        TrainConfig(**{**FAST, "epochs": 2, "batch_size": 256})
    runs = [train(path, tmp_path / name, cfg) for name in ("a", "b")]
    if engine == "kernel" and runs[0]["engine"] != "kernel":
        pytest.skip("no C++ compiler")
    assert [r["engine"] for r in runs] == [engine, engine]
    for table in ("in_vectors_path", "out_vectors_path"):
        a, b = (np.load(getattr(Run(tmp_path / name), table)) for name in ("a", "b"))
        assert np.array_equal(a, b)


def test_stopped_and_resumed_run_trains_what_an_uninterrupted_one_does(tmp_path):
    """A stop in the middle of an epoch of three chunks, then resume: the same vectors, the same
    step events (one thread: the kernel is deterministic)."""
    from conftest import planted_text
    text, _ = planted_text(paragraphs=45000)  # 585k positions: 3 chunks
    path = tmp_path / "planted.txt"
    path.write_text(text)
    cfg = TrainConfig(**{**FAST, "dim": 8, "epochs": 2})
    train(path, tmp_path / "whole", cfg)
    calls = {"n": 0}

    def stop_after_one_chunk():
        calls["n"] += 1
        return calls["n"] == 1
    assert train(path, tmp_path / "split", cfg, stop=stop_after_one_chunk)["state"] == "stopped"
    assert Run(tmp_path / "split").checkpoints()[-1][:2] == (0, 1)
    assert train(None, tmp_path / "split", resume=True)["state"] == "finished"
    whole, split = Run(tmp_path / "whole"), Run(tmp_path / "split")
    for table in ("in_vectors_path", "out_vectors_path"):
        assert np.array_equal(np.load(getattr(whole, table)), np.load(getattr(split, table)))

    def steps(run):
        return [(e["epoch"], e["chunk"], e["words_done"], e["pairs"], e["lr"], e["loss"])
                for e in run.metrics()[0] if e["event"] == "step"]
    assert steps(whole) == steps(split) and len(steps(whole)) == 102  # 6 chunks, 17 steps each: 100 at least


def test_device_auto_is_resolved_by_the_trainer_and_saved_as_asked(planted, tmp_path):
    import torch
    path, _ = planted
    events = []
    train(path, tmp_path / "run", TrainConfig(**{**FAST, "epochs": 1, "device": "auto"}), callback=events.append)
    start = next(e for e in events if e["event"] == "start")
    assert start["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert json.loads(Run(tmp_path / "run").config_path.read_text())["train"]["device"] == "auto"


# ---------------------------------------------------------------- memory, the run's lock, damaged files

TRAINER = importlib.import_module("w2v.train")  # the module (w2v.train, the attribute, is the function)


def stop_after(rounds: int):
    """A `stop` for train(): True after that many rounds."""
    count = itertools.count(1)
    return lambda: next(count) == rounds


def cli_train(monkeypatch, *args: str) -> int:
    from w2v.__main__ import main
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # the CLI's handlers stay out of the test run
    return main(["train", *args, "--threads", "1", "--eval", "none", "--quiet"])


@pytest.mark.parametrize("engine,knobs", [("kernel", "--threads, --window or --dim"),
                                          ("torch", "--batch-size, --negative or --dim")])
def test_buffers_that_do_not_fit_in_memory_are_refused_before_the_run_exists(planted, tmp_path, monkeypatch,
                                                                             capsys, engine, knobs):
    if engine == "kernel" and kernel.load() is None:
        pytest.skip("no C++ compiler")
    monkeypatch.setattr(TRAINER, "available_memory", lambda: 1 << 20)
    assert cli_train(monkeypatch, str(planted[0]), "--out", str(tmp_path / "run"), "--engine", engine) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: training needs about ")
    assert err.endswith(f"but 1.0 MiB is available: lower {knobs}\n")
    assert not (tmp_path / "run").exists()


def test_tables_that_do_not_fit_in_memory_are_refused_and_leave_no_run(planted, tmp_path, monkeypatch, capsys):
    cfg = TrainConfig(dim=10_000, min_count=1, threads=1, engine="torch", batch_size=16)
    work = TRAINER._working_memory(cfg, "torch")[0]
    monkeypatch.setattr(TRAINER, "available_memory", lambda: work + (1 << 20))  # the buffers fit, not the tables
    assert cli_train(monkeypatch, str(planted[0]), "--out", str(tmp_path / "run"), "--dim", "10000",
                     "--min-count", "1", "--engine", "torch", "--batch-size", "16") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: 48 words × --dim 10000 need about ")
    assert "(two tables of 1.8 MiB each," in err
    assert err.endswith("is available: lower --dim or --max-vocab, or raise --min-count\n")
    assert not (tmp_path / "run").exists()  # refused before a checkpoint: the CLI removes the new run


def test_a_resume_that_no_longer_fits_is_refused_before_its_checkpoint_is_read(planted, tmp_path, monkeypatch):
    path, _ = planted
    train(path, tmp_path / "run", TrainConfig(**FAST), stop=stop_after(1))
    cfg = TrainConfig(**FAST)
    work = TRAINER._working_memory(cfg, TRAINER._engine_name(cfg))[0]
    monkeypatch.setattr(TRAINER, "available_memory", lambda: work + 1000)  # not the tables' 23 KB
    monkeypatch.setattr(Run, "load_checkpoint", lambda *a: pytest.fail("a checkpoint was read"))
    with pytest.raises(W2VError, match=r"^48 words × --dim 24 need about .* is available: lower --dim"):
        train(None, tmp_path / "run", resume=True)
    run = Run(tmp_path / "run")
    assert run.status()["state"] == "failed" and len(run.checkpoints()) == 2


def test_available_memory_is_the_lower_of_the_machine_and_the_cgroup(tmp_path, monkeypatch):
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    v1.mkdir()
    (v2 / "memory.max").write_text(f"{1 << 30}\n")
    (v2 / "memory.current").write_text(f"{600 << 20}\n")
    (v2 / "memory.stat").write_text(f"anon 1\ninactive_file {100 << 20}\nactive_file 5\n")
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    groups = ((str(v2 / "memory.max"), str(v2 / "memory.current"), "inactive_file"),
              (str(v1 / "memory.limit_in_bytes"), str(v1 / "memory.usage_in_bytes"), "total_inactive_file"))
    monkeypatch.setattr(TRAINER, "_CGROUPS", groups)
    monkeypatch.setattr(TRAINER, "_meminfo", lambda key: 2 << 30)
    assert TRAINER.available_memory() == 524 << 20  # the limit less what is used, page cache aside
    (v2 / "memory.max").write_text("max\n")
    assert TRAINER.available_memory() == 2 << 30
    monkeypatch.setattr(TRAINER, "_meminfo", lambda key: None)
    assert TRAINER.available_memory() is None
    assert TRAINER._meminfo("MemAvailable") is None or TRAINER._meminfo("MemAvailable") > 0


def test_the_trainer_holds_the_run_lock_for_its_whole_life(planted, tmp_path):
    run = Run(tmp_path / "run")
    seen = []
    train(planted[0], run.path, TrainConfig(**FAST), callback=lambda e: seen.append((e["event"], run.locked())))
    assert {kind for kind, _ in seen} == {"vocab", "start", "step", "epoch", "end"}
    assert all(held for _, held in seen) and not run.locked()


def test_a_second_trainer_on_the_same_run_is_refused_in_one_line(planted, tmp_path):
    run = Run(tmp_path / "run")
    train(planted[0], run.path, TrainConfig(**FAST), stop=stop_after(1))
    before = run.status_path.read_text(), run.metrics_path.read_text()
    with run.lock():  # another process trains or deletes it
        with pytest.raises(W2VError, match=rf"^run run is in use by process {os.getpid()} \(training, resuming "
                                           r"or being deleted\): stop that job or wait for it, then try again$"):
            train(None, run.path, resume=True)
    assert (run.status_path.read_text(), run.metrics_path.read_text()) == before  # nothing touched
    assert train(None, run.path, resume=True)["state"] == "finished"


def test_a_refused_new_run_never_removes_a_directory_another_trainer_holds(tmp_path):
    from w2v.__main__ import _remove_new_run
    run = Run(tmp_path / "run")
    run.path.mkdir()
    (run.path / "corpus.ids").write_bytes(b"")
    with run.lock():
        _remove_new_run(run.path, keep_folder=False)
        assert (run.path / "corpus.ids").exists()
    _remove_new_run(run.path, keep_folder=False)
    assert not run.path.exists()


def test_a_corrupt_encoded_corpus_is_refused_before_the_tables_are_touched(planted, tmp_path):
    run = Run(tmp_path / "run")
    train(planted[0], run.path, TrainConfig(**FAST), stop=stop_after(1))
    ids = np.fromfile(run.ids_path, dtype=np.int32)
    ids[7] = 999_999
    ids.tofile(run.ids_path)
    with pytest.raises(W2VError, match="^corpus.ids of run run holds word id 999,999 but the vocabulary has 48 "
                                       "words: the run's files are damaged, train a new run$"):
        train(None, run.path, resume=True)
    assert run.status()["state"] == "failed"


def test_a_small_corpus_draws_at_least_100_step_events_with_finite_losses(tiny_corpus, tmp_path):
    """About 60k tokens for the default 5 epochs: one chunk an epoch, cut in 20 reported stretches."""
    train(tiny_corpus, tmp_path / "run", TrainConfig(dim=20, threads=1, eval="none"))
    steps = [e for e in Run(tmp_path / "run").metrics()[0] if e["event"] == "step"]
    assert len(steps) >= 100
    assert all(isinstance(s["loss"], float) and np.isfinite(s["loss"]) for s in steps)
    done = [s["words_done"] for s in steps]
    assert done == sorted(set(done)) and done[-1] == steps[-1]["words_total"]
    lrs = [s["lr"] for s in steps]
    assert lrs == sorted(lrs, reverse=True)


def test_step_events_per_round_follow_the_corpus_size():
    from w2v.train import reports_per_round
    assert reports_per_round(rounds=1, epochs=5, words_per_round=60_000) == 20  # 100 over the run
    assert reports_per_round(rounds=1, epochs=1, words_per_round=50_000) == 100
    assert reports_per_round(rounds=8, epochs=5, words_per_round=262_144) == 3  # the sample: 120
    assert reports_per_round(rounds=200, epochs=5, words_per_round=262_144) == 1  # a large corpus: a chunk each
    assert reports_per_round(rounds=1, epochs=1, words_per_round=1_000) == 3  # stretches of 256 words at least


@pytest.mark.parametrize("when,every", [("epoch", 16), ("final", 1)])
def test_eval_epoch_scores_a_fixed_share_of_the_analogies_and_final_all_of_them(tiny_corpus, tmp_path, when, every):
    from w2v.evaluate import evaluate
    status = train(tiny_corpus, tmp_path / "run", TrainConfig(dim=20, epochs=2, threads=1, eval=when))
    scored = [e["scores"] for e in Run(tmp_path / "run").metrics()[0] if e["event"] == "epoch" and "scores" in e]
    assert len(scored) == (2 if when == "epoch" else 1)
    final = evaluate(WordVectors.from_run(tmp_path / "run"), every=every)  # what the status says, recomputed
    assert status["scores"]["analogy_total"] == final["analogy_total"] > 0
    assert status["scores"]["analogy_correct"] == final["analogy_correct"]
    assert status["scores"].get("analogy_every") == (16 if when == "epoch" else None)
    assert status["scores"]["similarity_spearman"] == pytest.approx(final["similarity_spearman"])
