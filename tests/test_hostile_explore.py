"""Hostile input on the explore side (vectors files, the Map's search, the Compare page, two tabs
at once): each case ends in a one-line error that says what to do (exit status 2 on the CLI, an
error box in the app) or in a result, never in a traceback, a hang or unbounded memory."""

import os
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from gensim.models import KeyedVectors
from streamlit.testing.v1 import AppTest

from conftest import end_map_jobs
from test_pages_explore import runs  # noqa: F401 - the tiny run, trained once there
from w2v import projection, vectors
from w2v.errors import W2VError
from w2v.studio import compare, mapview, sources, words
from w2v.vectors import WordVectors

ROOT = Path(__file__).resolve().parent.parent


def peak_bytes(fn, *args):
    """(what fn(*args) returned or raised, the peak of memory it allocated, in bytes)."""
    tracemalloc.start()
    try:
        out = fn(*args)
    except W2VError as e:
        out = e
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak


def cli_error(*args) -> str:
    """The one line `python -m w2v ARGS` writes on stderr, having exited with status 2."""
    r = subprocess.run([sys.executable, "-m", "w2v", *map(str, args)], capture_output=True, text=True,
                       timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    return r.stderr


def binary_file(path, rows, newline=b"\n"):
    """A word2vec binary file of (word bytes, vector) rows, each followed by `newline`."""
    with open(path, "wb") as f:
        f.write(f"{len(rows)} {len(rows[0][1])}\n".encode())
        for w, v in rows:
            f.write(w + b" " + np.asarray(v, "<f4").tobytes() + newline)
    return path


# ---------------------------------------------------------------- vectors files

def test_a_text_line_longer_than_its_header_allows_is_refused_before_it_is_split(tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(b"2 300\nthe " + b"0.1 " * 300 + b"\ncat " + b"0.5 " * 1_000_000 + b"\n")
    err, peak = peak_bytes(WordVectors.load_word2vec, path)
    assert isinstance(err, W2VError) and "long.txt line 3 is over" in str(err) and "300 numbers" in str(err)
    assert peak < 1_000_000  # a 4 MB line, never split into a million numbers (about 70 MB)
    assert "line 3 is over" in cli_error("neighbors", path, "the")


def test_the_line_limit_leaves_room_for_the_widest_numbers_and_long_words(tmp_path):
    d = 50
    widest = " ".join(["-1.2345678901234567e-308"] * d)
    word = "w" * vectors.MAX_WORD_BYTES
    path = tmp_path / "wide.txt"
    path.write_text(f"2 {d}\n{word} {widest}\nb {widest}\n")
    wv = WordVectors.load_word2vec(path)
    assert wv.index_to_key == [word, "b"] and wv.vectors.shape == (2, d)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e39"])  # 1e39 overflows float32
def test_nan_or_infinity_in_a_text_file_is_refused_naming_its_line(tmp_path, bad):
    path = tmp_path / "bad.txt"
    path.write_text(f"3 2\nthe 0.1 0.2\ncat 0.3 {bad}\ndog 0.5 0.6\n")
    with pytest.raises(W2VError, match="bad.txt line 3 holds NaN or infinity") as e:
        WordVectors.load_word2vec(path)
    assert "\n" not in str(e.value)
    assert "line 3 holds NaN" in cli_error("evaluate", path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinity_in_a_binary_file_is_refused_naming_its_word(tmp_path, bad):
    rows = [(b"the", [0.1, 0.2]), (b"cat\nx", [0.3, bad]), (b"dog", [0.5, 0.6])]
    path = binary_file(tmp_path / "bad.bin", rows)
    with pytest.raises(W2VError, match=r"bad.bin word 'cat\\nx' \(number 2\) holds NaN or infinity") as e:
        WordVectors.load_word2vec(path)
    assert "\n" not in str(e.value)


class CountingReader:
    def __init__(self, f):
        self.f, self.calls = f, 0

    def read(self, n=-1):
        self.calls += 1
        return self.f.read(n)


def test_binary_files_are_read_in_blocks(tmp_path):
    wv = WordVectors([f"w{i}" for i in range(5000)], np.random.default_rng(0).normal(size=(5000, 8)))
    wv.save_word2vec(tmp_path / "v.bin", binary=True)
    with open(tmp_path / "v.bin", "rb") as f:
        f.readline()
        reader = CountingReader(f)
        got, vecs = vectors._read_binary(reader, 5000, 8, "v.bin")
    assert got == wv.index_to_key and np.array_equal(vecs, wv.vectors)
    size = (tmp_path / "v.bin").stat().st_size
    assert reader.calls <= size // vectors.BLOCK_BYTES + 3  # not one read per byte of each word


@pytest.mark.parametrize("newline", [b"", b"\n", b"\n\n\n"])
def test_binary_blocks_agree_with_gensim_across_block_edges(tmp_path, monkeypatch, newline):
    monkeypatch.setattr(vectors, "BLOCK_BYTES", 97)  # every row straddles a block edge somewhere
    rng = np.random.default_rng(1)
    names = ["x" * 1000, "é" * 300, "東京", "a"] + [f"w{i}" * (i % 40 + 1) for i in range(400)]
    rows = [(w.encode(), v) for w, v in zip(names, rng.normal(size=(len(names), 7)))]
    path = binary_file(tmp_path / "g.bin", rows, newline)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=True)
    wv = WordVectors.load_word2vec(path)
    assert wv.index_to_key == kv.index_to_key == names
    assert np.array_equal(wv.vectors, kv.vectors)


@pytest.mark.parametrize("cut,message", [
    (lambda data: data[:-5], "ends inside the vector of word 3"),
    (lambda data: data[:data.rindex(b"dog")], "ends after 2 of the 3 words"),
    (lambda data: data.replace(b"dog", b"d" * 1001), "word 3 is over 1000 bytes long"),
    (lambda data: data.replace(b"dog ", b"d" * 5000), "word 3 is over 1000 bytes long"),
])
def test_corrupt_binary_files_are_refused_naming_the_word(tmp_path, cut, message):
    path = binary_file(tmp_path / "cut.bin", [(b"the", [1, 2]), (b"cat", [3, 4]), (b"dog", [5, 6])])
    path.write_bytes(cut(path.read_bytes()))
    with pytest.raises(W2VError, match=message):
        WordVectors.load_word2vec(path)


def test_an_upload_with_nan_is_an_error_box_and_is_not_kept(tmp_path, monkeypatch):
    for var in ("RUNS", "VECTORS"):
        monkeypatch.setenv(f"W2V_{var}_DIR", str(tmp_path / var.lower()))
    at = AppTest.from_file(str(ROOT / "pages" / "neighbours.py"), default_timeout=60).run()
    at.get("file_uploader")[0].upload("nan.txt", b"2 2\nthe 0.1 nan\ncat 0.3 0.4\n", "text/plain").run()
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1 and "line 2 holds NaN or infinity" in at.error[0].value
    assert not (tmp_path / "vectors").exists() or not any((tmp_path / "vectors").iterdir())


# ---------------------------------------------------------------- neighbour blocks

def test_nearest_rows_scores_within_its_memory_budget(monkeypatch):
    monkeypatch.setattr(words, "BLOCK_BYTES", 2 << 20)
    unit = projection.unit_rows(np.random.default_rng(2).normal(size=(40_000, 4)))
    rows = np.arange(0, 40_000, 400)  # 100 rows: 16 MB at once without a budget
    near, peak = peak_bytes(words.nearest_rows, unit, rows, 5)
    assert words.block_rows(40_000) == 4 and peak < 1.25 * words.BLOCK_BYTES
    assert np.array_equal(near, words.nearest_rows(unit, rows, 5, block=len(rows)))
    assert words.block_rows(10 ** 9) == 1  # a vast vocabulary: one row at a time


# ---------------------------------------------------------------- the Map's search

SPELLINGS = ["abc", "a.c", "xa.cy", "ABC", "(ab)", "running", "ingot", "sing", "aaaaaaaaaaaaaaaaaa"]


def test_the_search_is_plain_text_never_a_regular_expression():
    found = lambda text: [SPELLINGS[i] for i in mapview.matching(SPELLINGS, text)]  # noqa: E731
    assert found("a.c") == ["a.c", "xa.cy"]  # the dot is a dot
    assert found("(AB") == ["(ab)"] and found("abc") == ["abc", "ABC"]
    assert found("ing$") == ["running", "sing"] and found("^ing") == ["ingot"] and found("^sing$") == ["sing"]
    assert found(r"^(\w|\w|\w|\w)*!$") == []  # hours of backtracking as a regular expression
    with pytest.raises(W2VError, match="type at most 100"):
        mapview.matching(SPELLINGS, "a" * 101)


@pytest.fixture
def env(runs, tmp_path, monkeypatch):
    """The tiny run of the pages' tests, alone in the runs folder; empty caches. Its path."""
    monkeypatch.setenv("W2V_RUNS_DIR", str(runs[0]))
    monkeypatch.setenv("W2V_VECTORS_DIR", str(tmp_path / "vectors"))
    monkeypatch.setenv("W2V_CACHE", str(tmp_path / "cache"))
    st.cache_data.clear()
    yield runs[0] / "tiny"
    end_map_jobs()


def test_the_map_search_box_says_what_it_matches_and_answers_a_hostile_pattern(env):
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=60).run()
    at.radio(key="map_mode").set_value("search").run()
    at.text_input(key="map_search").set_value(r"^(\w|\w|\w|\w)*!$").run()
    assert not at.exception and "Not a regular expression" in at.text_input(key="map_search").help
    assert len(at.error) == 1 and "fewer than two words match" in at.error[0].value
    at.text_input(key="map_search").set_value("^G3").run()
    assert not at.exception and not at.error and at.metric[0].value == "6"


def test_a_map_of_very_few_words_comes_back_from_the_cache(env):
    wv = sources.load_vectors("run", str(env))
    spec = {"mode": "neighbours", "word": "g2w1", "k": 2}  # 3 words: trustworthiness is undefined
    first = mapview.project(wv, spec, "tsne", {"seed": 0})
    again = mapview.project(wv, spec, "tsne", {"seed": 0})
    assert again.cached and np.array_equal(again.xy, first.xy)
    assert mapview.trust_text(again) == mapview.trust_text(first) == "–"


# ---------------------------------------------------------------- heavy work takes turns

class Recorder:
    """A projection that records how many run at once; the first waits (at most 60 s) until a
    second request is queued for the turn, so that without turns the two would overlap."""

    def __init__(self):
        self.active = self.most = 0
        self.log, self.lock, self.started = [], threading.Lock(), threading.Event()

    def __call__(self, x, method, params):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            self.log.append(("start", len(x)))
            first = len(self.log) == 1
        self.started.set()
        deadline = time.monotonic() + 60
        while first and words.queued() == 0 and self.active == 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            self.active -= 1
            self.log.append(("end", len(x)))
        return np.stack([np.arange(len(x)), np.zeros(len(x))], 1).astype(np.float32)


def run_both(first, second, record: Recorder):
    """first() in a thread, then (once it computes) second() in another: both results, or the
    exceptions they raised."""
    out = [None, None]

    def go(i, call):
        try:
            out[i] = call()
        except Exception as e:  # noqa: BLE001 - handed to the test
            out[i] = e
    threads = [threading.Thread(target=go, args=(i, call)) for i, call in enumerate((first, second))]
    threads[0].start()
    record.started.wait(60)
    threads[1].start()
    for t in threads:
        t.join(120)
    return out


def test_two_maps_requested_at_once_are_computed_one_after_the_other(env, monkeypatch):
    wv = sources.load_vectors("run", str(env))
    record = Recorder()
    monkeypatch.setattr(projection, "_compute", record)
    a, b = run_both(lambda: mapview.project(wv, {"mode": "search", "search": "^g1"}, "tsne", {"seed": 0}),
                    lambda: mapview.project(wv, {"mode": "search", "search": "^g"}, "umap", {"seed": 0}), record)
    assert a.xy.shape == (6, 2) and b.xy.shape == (48, 2) and not a.cached and not b.cached
    assert record.most == 1 and record.log == [("start", 6), ("end", 6), ("start", 48), ("end", 48)]
    assert words.queued() == 0 and words._TURN.acquire(blocking=False)  # the turn is free again
    words._TURN.release()


def test_the_same_map_requested_twice_at_once_is_computed_once(env, monkeypatch):
    wv = sources.load_vectors("run", str(env))
    record = Recorder()
    monkeypatch.setattr(projection, "_compute", record)
    spec = {"mode": "frequent", "n": 20}
    a, b = run_both(lambda: mapview.project(wv, spec, "tsne", {"seed": 1}),
                    lambda: mapview.project(wv, spec, "tsne", {"seed": 1}), record)
    assert record.log == [("start", 20), ("end", 20)] and [a.cached, b.cached] == [False, True]
    assert np.array_equal(a.xy, b.xy)


def hold_the_turn(release=None):
    """A thread that holds the turn until a request waits for it or `release` is set (60 s at
    most); .seen is how many waited then."""
    taken, release = threading.Event(), release or threading.Event()

    def hold():
        with words.heavy_turn():
            taken.set()
            deadline = time.monotonic() + 60
            while not words.queued() and not release.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            holder.seen = words.queued()
    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(10)
    return holder


def test_a_large_compare_waits_for_the_turn_or_says_it_is_busy(env, monkeypatch):
    monkeypatch.setattr(compare, "HEAVY_PAIRS", 0)
    wv = sources.load_vectors("run", str(env))
    holder = hold_the_turn()
    with pytest.raises(words.Busy, match="yours is queued"):
        compare.compare(wv, wv, k=5, wait=False)
    df = compare.compare(wv, wv, k=5)  # waits until the holder lets go
    holder.join(60)
    assert holder.seen == 1 and len(df) == len(wv) and (df["overlap@5"] == 1).all()
    monkeypatch.setattr(compare, "HEAVY_PAIRS", 10 ** 12)  # a small compare takes no turn
    release = threading.Event()
    holder = hold_the_turn(release)
    try:
        assert len(compare.compare(wv, wv, k=5, wait=False)) == len(wv)
    finally:
        release.set()
        holder.join(60)


def test_pages_keep_answering_while_a_map_is_computed_and_a_queued_map_says_so(env, monkeypatch):
    monkeypatch.setattr(mapview, "PCA_HEAVY_WORDS", 0)  # the t-SNE's preview, as for a large map
    holder = hold_the_turn()
    nb = AppTest.from_file(str(ROOT / "pages" / "neighbours.py"), default_timeout=60).run()
    assert not nb.exception and len(nb.dataframe) and holder.is_alive()  # answered, turn still held
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=90).run()  # t-SNE: heavy
    holder.join(60)
    assert holder.seen == 1 and not at.exception and not at.error
    assert any("for another map or comparison to finish" in c.value for c in at.caption)
    assert at.metric[0].value == "48"


def test_a_queued_compare_page_says_so_and_finishes(env, monkeypatch):
    monkeypatch.setattr(compare, "HEAVY_PAIRS", 0)
    holder = hold_the_turn()
    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=90).run()
    holder.join(60)
    assert holder.seen == 1 and not at.exception and not at.error
    assert any("for another map or comparison to finish" in c.value for c in at.caption)
    assert 0.0 <= float(at.metric[0].value) <= 1.0
