"""Hostile input the other test files do not cover, for the CLI and the app's uploads alike: each
case gets one line that says what to do, exit status 2 (CLI) or an error box (app), no traceback,
and nothing written or overwritten. Also the deployment settings in .streamlit/config.toml."""

import bz2
import gzip
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from w2v.errors import W2VError
from w2v.studio import jobs, uploads

ROOT = Path(__file__).resolve().parent.parent


def w2v(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "w2v", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ")
    for w in words:
        assert w in r.stderr, r.stderr


def truncated(compress, text: bytes) -> bytes:
    data = compress(text)
    return data[: len(data) // 2]


WORDS = " ".join(f"w{i % 500}" for i in range(60_000)).encode()
CORPORA = {  # name: (bytes, what the message must say)
    "empty.txt": (b"", "no words"),
    "random.txt": (random.Random(7).randbytes(20_000), "UTF-8"),
    "latin1.txt": ("café au lait crème brûlée ".encode("latin-1") * 200, "UTF-8"),
    "cut.txt.gz": (truncated(gzip.compress, WORDS), "archive complete"),
    "cut.txt.bz2": (truncated(bz2.compress, WORDS), "archive complete"),
    "rare.txt": (" ".join(f"w{i}" for i in range(3000)).encode(), "lower --min-count"),
    "one-type.txt": (b"word " * 3000, "larger corpus"),
}


@pytest.mark.parametrize("name", list(CORPORA))
def test_cli_refuses_hostile_corpora_and_writes_nothing(tmp_path, name):
    data, message = CORPORA[name]
    corpus = tmp_path / name
    corpus.write_bytes(data)
    out = tmp_path / "run"
    r = w2v("train", corpus, "--out", out, "--dim", 8, "--epochs", 1, "--eval", "none", "--quiet")
    one_line_error(r, message)
    assert not out.exists(), sorted(p.name for p in out.iterdir())  # no failed run left behind
    assert corpus.read_bytes() == data


def test_cli_failure_keeps_an_empty_out_folder_empty(tmp_path):
    corpus = tmp_path / "one-type.txt"
    corpus.write_bytes(b"word " * 3000)
    out = tmp_path / "made-by-hand"
    out.mkdir()
    one_line_error(w2v("train", corpus, "--out", out, "--quiet"), "min-count")
    assert out.is_dir() and list(out.iterdir()) == []


@pytest.mark.parametrize("flag,value", [("--window", 0), ("--window", -3), ("--epochs", -1), ("--dim", 0),
                                        ("--negative", 0), ("--min-count", -2), ("--lr", -0.5)])
def test_cli_refuses_zero_or_negative_settings(tmp_path, flag, value):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma " * 100)
    r = w2v("train", corpus, "--out", tmp_path / "run", flag, value)
    one_line_error(r, flag)
    assert not (tmp_path / "run").exists()


def test_cli_refuses_an_out_path_that_is_a_file(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma " * 100)
    victim = tmp_path / "notes.txt"
    victim.write_text("precious")
    one_line_error(w2v("train", corpus, "--out", victim, "--min-count", 1), "already exists")
    assert victim.read_text() == "precious"


VECTOR_FILES = {
    "lying.txt": (b"1000000000 100\nthe 0.1 0.2\n", "header"),  # a billion rows claimed
    "lying.bin": (b"2000000000 300\n" + b"a " + b"\x00" * 1200, "header"),
    "ragged.txt": (b"3 3\nthe 0.1 0.2 0.3\ncat 0.1 0.2\ndog 0.1 0.2 0.3\n", "ragged"),
    "prose.txt": (b"hello world, this is not a vectors file\n", "not a word2vec file"),
}


@pytest.mark.parametrize("name", list(VECTOR_FILES))
@pytest.mark.parametrize("command", [["neighbors", "{path}", "the"], ["evaluate", "{path}"]])
def test_cli_refuses_bad_vectors_files_before_allocating(tmp_path, name, command):
    data, message = VECTOR_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    r = w2v(*[a.format(path=path) for a in command])
    one_line_error(r, message)  # not "out of memory": refused on the header, before any allocation


# ---------------------------------------------------------------- the app's uploads

@pytest.fixture
def dirs(tmp_path, monkeypatch):
    for var in ("RUNS", "CORPORA", "VECTORS"):
        monkeypatch.setenv(f"W2V_{var}_DIR", str(tmp_path / var.lower()))
    monkeypatch.chdir(ROOT)
    return tmp_path


@pytest.mark.parametrize("name,data,message", [
    ("cut.bz2", truncated(bz2.compress, WORDS), "archive"),
    ("random.txt", random.Random(3).randbytes(20_000), "binary"),
    ("no-nul.txt", bytes(random.Random(5).randrange(128, 256) for _ in range(5000)), "UTF-8"),
])
def test_corpus_upload_refuses_and_stores_nothing(dirs, name, data, message):
    with pytest.raises(W2VError, match=message) as e:
        uploads.save_corpus(name, data)
    assert "\n" not in str(e.value) and ".tmp" not in str(e.value) and ".upload-" not in str(e.value)
    assert list((dirs / "corpora").iterdir()) == []


@pytest.mark.parametrize("name,data,message", [
    ("cut.txt.bz2", truncated(bz2.compress, WORDS), "archive"),
    ("latin1.txt", CORPORA["latin1.txt"][0], "UTF-8"),
    ("random.txt", CORPORA["random.txt"][0], "binary"),
])
def test_corpus_page_shows_an_error_box(dirs, name, data, message):
    at = AppTest.from_file(str(ROOT / "pages" / "corpus.py"), default_timeout=60)
    sample = dirs / "sample.txt"
    sample.write_text("alpha beta gamma delta " * 50)
    at.run()
    at.file_uploader(key="corpus_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value and "Traceback" not in at.error[0].value
    assert not (dirs / "corpora").exists() or list((dirs / "corpora").iterdir()) == []


@pytest.mark.parametrize("name", list(VECTOR_FILES))
def test_vectors_upload_refuses_and_names_the_upload_not_a_temporary_file(dirs, name):
    data, message = VECTOR_FILES[name]
    with pytest.raises(W2VError, match=message) as e:
        uploads.save_vectors(name, data)
    assert ".upload-" not in str(e.value) and name in str(e.value)
    assert list((dirs / "vectors").iterdir()) == []


def test_vectors_upload_never_overwrites_a_stored_file(dirs):
    first = b"2 3\nthe 0.1 0.2 0.3\ncat 0.3 0.2 0.1\n"
    second = b"2 3\nthe 0.9 0.9 0.9\ndog 0.1 0.1 0.1\n"
    a = uploads.save_vectors("mine.txt", first)
    b = uploads.save_vectors("mine.txt", second)
    assert a != b and a.read_bytes() == first and b.read_bytes() == second
    assert uploads.save_vectors("../vectors/mine.txt", first) == a  # the same file again: reused
    assert sorted(p.name for p in (dirs / "vectors").iterdir()) == sorted([a.name, b.name])


# ---------------------------------------------------------------- deployment settings

def test_streamlit_config_is_safe_by_default():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "localhost"  # not reachable from other machines
    assert cfg["server"]["enableXsrfProtection"] is True
    assert 0 < cfg["server"]["maxUploadSize"] <= 1024  # MB
    assert cfg["client"]["showErrorDetails"] is False  # a failure shows a message, never a traceback


def test_train_page_shows_why_a_job_was_refused_and_leaves_no_run(dirs):
    """min_count above every word's count: the job exits at once; the page still says why (from the
    job's log) in an error box, and no failed run directory is left in the runs list."""
    import time
    corpus = uploads.save_corpus("small.txt", ("alpha beta gamma delta " * 60).encode())
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.session_state["corpus_path"] = str(corpus)
    at.run()
    for name, value in {"dim": 8, "epochs": 1, "min_count": 1000, "threads": 1}.items():
        at.number_input(key=f"cfg-word2vec-{name}").set_value(value)
    at.text_input(key="run_name").set_value("too-rare")
    next(b for b in at.button if b.label == "Start training").click().run()
    deadline = time.time() + 60
    while jobs.active_job() is not None:
        assert time.time() < deadline, "the job did not end"
        time.sleep(0.2)
    at.run()
    assert not at.exception
    assert any("lower --min-count" in e.value for e in at.error), [e.value for e in at.error]
    assert not (dirs / "runs" / "too-rare").exists() and "Traceback" not in jobs.log_tail("too-rare", 20)


def test_the_host_header_is_limited_to_this_machines_names():
    """DNS rebinding: a page elsewhere whose name resolves to 127.0.0.1 must not reach the app.
    server.allowedHosts came in Streamlit 1.61 (1.60 has no such option, and would ignore it)."""
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert sorted(cfg["server"]["allowedHosts"]) == sorted(["localhost", "127.0.0.1", "::1"])
    floor = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("streamlit")]
    assert len(floor) == 1
    low = tuple(int(x) for x in floor[0].split(">=")[1].split(",")[0].split("#")[0].strip().split("."))
    assert low >= (1, 61), floor


# ---------------------------------------------------------------- what the browser sees of a failed job

TRACEBACK_LOG = """$ /opt/venv/bin/python -m w2v train /home/alice/corpora/c.txt --out /srv/runs/bad --quiet
error: corpus /home/alice/corpora/c.txt has only 3 words: upload a larger corpus
$ /opt/venv/bin/python -m w2v train --out /srv/runs/bad --resume --quiet
Traceback (most recent call last):
  File "/opt/venv/lib/python3.11/site-packages/w2v/train.py", line 12, in train
    raise ValueError("bad shape in /srv/runs/bad/checkpoints/ckpt-000-000001.npz")
ValueError: bad shape in /srv/runs/bad/checkpoints/ckpt-000-000001.npz
"""


def test_a_job_log_shows_only_its_one_line_error_without_paths(dirs):
    (dirs / "runs").mkdir()
    log = jobs.log_path("bad")
    log.write_text("$ python -m w2v train /home/alice/c.txt --out /srv/runs/bad\n"
                   "Traceback (most recent call last):\n  File \"/usr/lib/x.py\", line 1\n"
                   "error: corpus /home/alice/My Files/c.txt does not exist (/srv/runs/bad): check the path\n")
    assert jobs.job_error("bad") == "corpus My Files/c.txt does not exist (bad): check the path"
    log.write_text(TRACEBACK_LOG)  # the latest launch died with a traceback: its older error does not count
    assert jobs.job_error("bad") == "the job ended unexpectedly; see bad.log on the server"
    log.write_text("$ python -m w2v train\nerror: " + "x" * 10_000 + "\n")
    assert len(jobs.job_error("bad")) <= jobs.MAX_MESSAGE


def test_train_page_shows_no_traceback_nor_server_paths(dirs):
    """A job that died with a traceback before writing its status, and a run whose status error
    holds paths: an error box each, one line, no path, no traceback."""
    from w2v.runs import Run, atomic_write_json
    (dirs / "runs").mkdir()
    jobs.log_path("crashed").write_text(TRACEBACK_LOG)
    run = Run(dirs / "runs" / "failed")
    run.path.mkdir()
    atomic_write_json(run.config_path, {"train": {}, "corpus": "/home/alice/c.txt"})
    atomic_write_json(run.status_path, {"state": "failed", "error": "OSError: cannot read /home/alice/c.txt\n"
                                                                    "  File \"/srv/w2v/corpus.py\", line 3"})
    for name, message in (("crashed", "the job ended unexpectedly; see crashed.log on the server"),
                          ("failed", "OSError: cannot read c.txt")):
        at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
        at.session_state["watch"] = name
        at.run()
        assert not at.exception and [e.value for e in at.error] == [message]
        shown = " ".join(str(e.value) for kind in ("error", "warning", "info", "markdown", "caption", "subheader")
                         for e in getattr(at, kind))
        assert "Traceback" not in shown and "/home" not in shown and "/srv" not in shown and "/opt" not in shown


# ---------------------------------------------------------------- a corpus of random words

def test_a_corpus_of_unique_words_keeps_the_types_held_bounded(dirs, monkeypatch):
    """Every token a new type: the counts would hold the whole corpus. Counting prunes the rarest
    types whenever more than the bound are held (word2vec.c's ReduceVocab), and says so."""
    from w2v.studio import corpus_stats
    rng = random.Random(11)
    words = [f"{rng.getrandbits(40):x}" for _ in range(300_000)] + ["common"] * 5000
    rng.shuffle(words)
    corpus = dirs / "random-words.txt"
    corpus.write_text(" ".join(words) + "\n")
    held = []
    update = corpus_stats.TypeCounter.update

    def watched(self, tokens):
        update(self, tokens)
        held.append(len(self.counts))
    monkeypatch.setattr(corpus_stats.TypeCounter, "update", watched)
    s = corpus_stats.summarize(corpus, max_types=20_000)
    assert max(held) <= 20_000 and s.types <= 20_000 and s.tokens == 305_000
    assert s.pruned_at >= 1 and s.words[0] == "common" and s.counts[0] > 4000
    assert "approximate" in corpus_stats.approximation(s)
    monkeypatch.setattr(corpus_stats, "MAX_TYPES", 20_000)  # the page's bound, lowered
    monkeypatch.setattr("w2v.studio.paths.SAMPLE_CORPUS", corpus)
    at = AppTest.from_file(str(ROOT / "pages" / "corpus.py"), default_timeout=120).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Word types"] == "more than 20,000"
    assert any("Counts are approximate" in w.value for w in at.warning)


@pytest.mark.parametrize("stderr,rc,note", [
    ('Traceback (most recent call last):\n  File "/srv/w2v/train.py", line 3\nValueError: bad /srv/runs/x.npz\n', 1,
     "calibration failed: the trainer exited with status 1"),
    ("error: corpus /home/alice/prefix.txt has too few words: lower --min-count\n", 2,
     "calibration failed: corpus prefix.txt has too few words: lower --min-count"),
])
def test_a_failed_calibration_says_one_line_without_paths(dirs, monkeypatch, stderr, rc, note):
    """The estimate's calibration is a trainer process too: what it printed reaches the page as the
    one-line note, never its traceback nor the server's paths."""
    from w2v.config import TrainConfig
    from w2v.studio import estimate
    corpus = dirs / "c.txt"
    corpus.write_text("alpha beta gamma delta " * 200)
    fake = dirs / "fake-python"
    fake.write_text(f"#!/bin/sh\ncat >&2 <<'END'\n{stderr}END\nexit {rc}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    est = estimate.estimate(corpus, TrainConfig(dim=8, min_count=1, threads=1))
    assert est["seconds"] is None and est["note"] == note
