"""Corpus formats: a .zip of .txt files and .jsonl/.csv/.tsv tables, through the reader, the trainer
and the upload check, including hostile archives and the columns that must never be read."""

import csv
import gzip
import io
import json
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT
from w2v import formats
from w2v.corpus import Vocab, iter_token_blocks
from w2v.errors import W2VError
from w2v.studio import uploads

ALPHA = "alpha beta gamma delta epsilon zeta " * 30
OMEGA = "omega psi chi phi upsilon tau " * 30
ROWS = [{"id": "r1", "title": "secretheader one", "text": ALPHA, "label": "positive"},
        {"id": "r2", "title": "secretheader two", "text": OMEGA, "label": "negative"}]


def zipped(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def table(kind: str, rows=ROWS) -> bytes:
    if kind == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter="\t" if kind == "tsv" else ",")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


def tokens(path, text_field=""):
    return [t for block in iter_token_blocks(path, text_field=text_field) for t in block]


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    return tmp_path


# ---------------------------------------------------------------- reading

def test_a_zip_is_its_text_members_in_order_with_a_boundary_between(tmp_path):
    p = write(tmp_path, "c.zip", zipped({"b.txt": b"one two", "dir/a.TXT": b"three four",
                                          "pic.png": b"\x89PNG\x00\x01", "inner.zip": zipped({"x.txt": b"five"}),
                                          "__MACOSX/._b.txt": b"\x00\x05", "notes/": b""}))
    assert tokens(p) == ["one", "two", "", "three", "four"]


@pytest.mark.parametrize("kind", ["jsonl", "csv", "tsv"])
def test_a_table_yields_only_its_text_field_one_paragraph_per_record(tmp_path, kind):
    p = write(tmp_path, f"t.{kind}", table(kind))
    got = tokens(p, "text")
    assert got == ALPHA.split() + [""] + OMEGA.split() + [""]
    assert not {"secretheader", "id", "title", "label", "text", "positive", "r1"} & set(got)


def test_a_compressed_table_reads_like_the_plain_one(tmp_path):
    p = write(tmp_path, "t.csv.gz", gzip.compress(table("csv")))
    assert tokens(p, "text") == tokens(write(tmp_path, "t.csv", table("csv")), "text")


@pytest.mark.parametrize("name, data, field, message", [
    ("only-pics.zip", zipped({"a.png": b"\x89PNG", "b/": b""}), "", "holds no .txt file .only a.png"),
    ("empty.zip", zipped({}), "", "holds no .txt file .it is empty"),
    ("t.jsonl", table("jsonl"), "", r"is a JSONL table: name the field .* --text-field .*'id', 'title', 'text'"),
    ("t.csv", table("csv"), "body", r"t.csv, row 1, has no field 'body' .*'text'.*--text-field"),
    ("t.jsonl", table("jsonl") + b'{"id": "r3", "text": "unclosed\n', "text", r"t.jsonl, line 3, is not valid JSON"),
    ("t.jsonl", table("jsonl") + b'["a", "list"]\n', "text", r"t.jsonl, line 3, is a JSON list"),
    ("t.jsonl", b'{"text": 42}\n', "text", r"line 1: field 'text' holds int '42', not text"),
    ("t.csv", table("csv") + b"r3,only two\n", "text", r"t.csv, line 4, has 2 fields where the header has 4"),
    ("t.tsv", table("tsv") + b'r3\t"broken\tquote"x\t\tz\n', "text", "t.tsv, line 4"),
])
def test_each_bad_input_is_one_clear_line(tmp_path, name, data, field, message):
    p = write(tmp_path, name, data)
    with pytest.raises(W2VError, match=message) as e:
        tokens(p, field)
    assert "\n" not in str(e.value)


def test_a_table_preview_shows_columns_and_first_rows(tmp_path):
    cols, rows = formats.preview(write(tmp_path, "t.jsonl", table("jsonl")), rows=1)
    assert cols == ["id", "title", "text", "label"] and rows == ROWS[:1]


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("name, make, field", [
    ("c.zip", lambda: zipped({"a.txt": ALPHA.encode(), "b/b.txt": OMEGA.encode(), "x.csv": b"secretheader"}), None),
    ("c.jsonl", lambda: table("jsonl"), "text"),
    ("c.csv", lambda: table("csv"), "text"),
    ("c.tsv.gz", lambda: gzip.compress(table("tsv")), "text"),
])
def test_each_format_trains_and_no_other_column_leaks_into_the_vocabulary(tmp_path, name, make, field):
    corpus = write(tmp_path, name, make())
    run = tmp_path / "run"
    flags = ["--text-field", field] if field else []
    p = subprocess.run([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), *flags,
                        "--min-count", "1", "--dim", "8", "--epochs", "1", "--eval", "none", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    words = set(Vocab.load(run / "vocab.tsv").words)
    assert words == set(ALPHA.split()) | set(OMEGA.split())  # nothing else: no field name, no other column


def test_a_missing_field_stops_the_trainer_with_one_line_and_exit_2(tmp_path):
    corpus = write(tmp_path, "c.csv", table("csv"))
    p = subprocess.run([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(tmp_path / "run"),
                        "--text-field", "body", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "has no field 'body'" in p.stderr


# ---------------------------------------------------------------- uploads

@pytest.mark.parametrize("name, data, suffix", [
    ("texts.zip", lambda: zipped({"a.txt": ALPHA.encode()}), ".zip"),
    ("reviews.jsonl", lambda: table("jsonl"), ".jsonl"),
    ("reviews.csv", lambda: table("csv"), ".csv"),
    ("reviews.tsv.gz", lambda: gzip.compress(table("tsv")), ".tsv.gz"),
])
def test_each_format_is_stored_under_its_suffix(folders, name, data, suffix):
    path = uploads.save_corpus(name, data())
    assert path.name == name.split(".")[0] + suffix


def test_a_zip_bomb_member_is_refused_by_its_ratio(folders):
    bomb = zipped({"a.txt": ALPHA.encode(), "bomb.txt": b"a " * (32 << 20)})
    assert len(bomb) < 1 << 20
    with pytest.raises(W2VError, match=r"bomb.zip: bomb.txt expands more than 25x"):
        uploads.save_corpus("bomb.zip", bomb)
    assert not (folders / "corpora").exists() or not any((folders / "corpora").iterdir())


def test_the_decompressed_limit_counts_every_member(folders, monkeypatch):
    monkeypatch.setenv("W2V_MAX_CORPUS_MB", "1")
    members = {f"part{i}.txt": (ALPHA * 150).encode() for i in range(8)}  # 8 x 160 kB, stored uncompressed
    assert uploads.save_corpus("parts.zip", zipped(dict(list(members.items())[:4]), zipfile.ZIP_STORED))
    with pytest.raises(W2VError, match="more than 1 MiB of text"):
        uploads.save_corpus("parts.zip", zipped(members, zipfile.ZIP_STORED))


def test_nested_paths_in_a_zip_are_only_names_nothing_is_extracted(folders):
    data = zipped({"../../escaped.txt": ALPHA.encode(), "/abs/olute.txt": OMEGA.encode(),
                   "deep/er/nest.txt": ALPHA.encode()})
    path = uploads.save_corpus("nested.zip", data)
    assert sorted(p.name for p in folders.rglob("*") if p.is_file()) == ["nested.zip"]
    assert set(tokens(path)) - {""} == set(ALPHA.split()) | set(OMEGA.split())


@pytest.mark.parametrize("name, data, message", [
    ("pics.zip", lambda: zipped({"a.png": b"\x89PNG" * 100}), "holds no .txt file"),
    ("binary.zip", lambda: zipped({"a.txt": ALPHA.encode(), "b.txt": b"\x00\x01" * 100}), "b.txt looks like a binary"),
    ("latin.zip", lambda: zipped({"a.txt": ALPHA.encode() + b" caf\xe9"}), "not UTF-8"),
    ("cut.zip", lambda: zipped({"a.txt": ALPHA.encode() * 20})[:-60], "not a readable zip|could not be read"),
    ("bad.jsonl", lambda: table("jsonl") + b"{oops\n", "bad.jsonl, line 3, is not valid JSON"),
    ("ragged.csv", lambda: table("csv") + b"a,b\n", "ragged.csv, line 4, has 2 fields"),
    ("few.csv", lambda: b"id,text\n1,two words\n", "fewer than 100 words in every field"),
])
def test_a_bad_archive_or_table_is_refused_at_upload_and_stores_nothing(folders, name, data, message):
    with pytest.raises(W2VError, match=message) as e:
        uploads.save_corpus(name, data())
    assert name.split(".")[0] in str(e.value) and uploads.TEMP_PREFIX not in str(e.value)
    assert not (folders / "corpora").exists() or not any((folders / "corpora").iterdir())
