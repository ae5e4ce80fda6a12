"""python -m w2v end to end, through subprocess, as a user (and external checks) run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gensim.models import KeyedVectors

ROOT = Path(__file__).resolve().parent.parent


def w2v(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "w2v", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    import gzip
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        text = f.read(600_000)
    corpus = tmp / "tiny.txt"
    corpus.write_text(text[: text.rfind(" ")])
    run = tmp / "run"
    r = w2v("train", corpus, "--out", run, "--dim", 32, "--epochs", 2, "--threads", 1, "--eval", "final")
    assert r.returncode == 0, r.stderr
    return corpus, run, r


def test_train_reports_progress_and_writes_the_run(trained):
    _, run, r = trained
    assert "vocabulary" in r.stderr and "finished" in r.stderr
    assert (run / "in_vectors.npy").exists() and (run / "status.json").exists()
    assert json.loads((run / "status.json").read_text())["state"] == "finished"


def test_evaluate_json(trained):
    _, run, _ = trained
    r = w2v("evaluate", run, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 <= out["analogy_accuracy"] <= 1 and -1 <= out["similarity_spearman"] <= 1
    assert out["analogy_total"] > 0


def test_neighbors_json(trained):
    _, run, _ = trained
    r = w2v("neighbors", run, "the", "-k", "5", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out) == 5 and all(isinstance(w, str) and isinstance(s, float) for w, s in out)
    assert [s for _, s in out] == sorted((s for _, s in out), reverse=True)
    assert "the" not in [w for w, _ in out]


def test_unknown_word_suggests_spellings(trained):
    _, run, _ = trained
    r = w2v("neighbors", run, "thee")
    assert r.returncode == 2 and "not in the vocabulary" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt,binary", [("word2vec", False), ("word2vec-binary", True)])
def test_export_loads_in_gensim(trained, tmp_path, fmt, binary):
    _, run, _ = trained
    out = tmp_path / "v"
    r = w2v("export", run, "--format", fmt, "--out", out)
    assert r.returncode == 0, r.stderr
    kv = KeyedVectors.load_word2vec_format(str(out), binary=binary)
    ours = json.loads(w2v("neighbors", run, "the", "-k", "3", "--json").stdout)
    assert [w for w, _ in kv.most_similar("the", topn=3)] == [w for w, _ in ours]
    r = w2v("evaluate", out, "--json")  # vectors files evaluate like runs
    assert r.returncode == 0 and "analogy_accuracy" in json.loads(r.stdout)
    r = w2v("export", run, "--format", fmt, "--out", out)
    assert r.returncode == 2 and "already exists" in r.stderr


def test_export_projector(trained, tmp_path):
    _, run, _ = trained
    r = w2v("export", run, "--format", "projector", "--out", tmp_path / "p")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p" / "vectors.tsv").exists() and (tmp_path / "p" / "metadata.tsv").exists()


def test_existing_run_is_refused_without_resume(trained):
    corpus, run, _ = trained
    before = (run / "status.json").read_text()
    r = w2v("train", corpus, "--out", run)
    assert r.returncode == 2 and "--resume" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert (run / "status.json").read_text() == before


@pytest.mark.parametrize("args,message", [
    (["train", "missing.txt", "--out", "{tmp}/r"], "does not exist"),
    (["train", "{tmp}", "--out", "{tmp}/r"], "directory"),
    (["train", "{corpus}", "--out", "{tmp}/r", "--epochs", "0"], "--epochs"),
    (["train", "{corpus}", "--out", "{tmp}/r", "--dim", "-5"], "--dim"),
    (["evaluate", "{tmp}/nothing"], "does not exist"),
])
def test_errors_are_one_line_with_exit_2(trained, tmp_path, args, message):
    corpus, _, _ = trained
    r = w2v(*[a.format(tmp=tmp_path, corpus=corpus) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path):
    import gzip
    import signal
    import time
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rt") as f:
        text = f.read(1_000_000)
    corpus = tmp_path / "c.txt"
    corpus.write_text(text[: text.rfind(" ")])
    run = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), "--dim", "50",
                          "--epochs", "20", "--threads", "1", "--eval", "none", "--quiet"],
                         cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists() or \
            b'"step"' not in (run / "metrics.jsonl").read_bytes():
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    st = json.loads((run / "status.json").read_text())
    assert st["state"] == "stopped" and 0 < st["words_done"] < st["words_total"]
    cfg = json.loads((run / "config.json").read_text())
    # resume with fewer epochs would change the run: resume continues the saved settings
    r = w2v("train", "--out", run, "--resume", "--quiet")
    assert cfg["train"]["epochs"] == 20
    assert r.returncode == 0, r.stderr
    assert json.loads((run / "status.json").read_text())["state"] == "finished"


@pytest.fixture
def phrases(tmp_path):
    """A GloVe file (no header) of 200 words, phrase tokens among them; the second word is the
    nearest to new_york."""
    import numpy as np
    rng = np.random.default_rng(4)
    words = ["new_york", "brooklyn", "the"] + [f"w{i}" for i in range(197)]
    vecs = rng.normal(size=(200, 8))
    vecs[1] = vecs[0] + 0.01
    path = tmp_path / "glove.txt"
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in v)}\n" for w, v in zip(words, vecs)))
    return path


def test_neighbors_of_a_phrase_typed_as_words_within_a_limit(phrases):
    r = w2v("neighbors", phrases, "New York", "-k", "3", "--limit", "50", "--json")
    assert r.returncode == 0, r.stderr
    out = [w for w, _ in json.loads(r.stdout)]
    assert out[0] == "brooklyn" and "new_york" not in out
    assert all(w in ("brooklyn", "the") or int(w[1:]) < 47 for w in out)  # the first 50 words only
    r = w2v("neighbors", phrases, "w150", "--limit", "50")
    assert r.returncode == 2 and "not in the vocabulary of 50 words" in r.stderr
    r = w2v("neighbors", phrases, "w150", "--limit", "0")
    assert r.returncode == 2 and "--limit must be at least 1" in r.stderr


def test_evaluate_with_a_limit_reads_the_first_words(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nw1 w2 w3 w4\nw1 w2 w3 w150\n")
    import numpy as np
    from w2v.vectors import WordVectors
    path = tmp_path / "v.bin"
    WordVectors([f"w{i}" for i in range(200)], np.random.default_rng(0).normal(size=(200, 8))).save_word2vec(
        path, binary=True)
    full = json.loads(w2v("evaluate", path, "--analogies", questions, "--json").stdout)
    r = w2v("evaluate", path, "--analogies", questions, "--limit", "100", "--json")
    assert r.returncode == 0, r.stderr
    assert (full["analogy_total"], json.loads(r.stdout)["analogy_total"]) == (2, 1)
