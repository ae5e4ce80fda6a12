"""Storing uploads: checked, bounded, never overwriting, nothing left behind when refused."""

import bz2
import gzip
import os
import time

import pytest

from w2v.errors import W2VError
from w2v.studio import uploads

TEXT = b"the quick brown fox jumps over the lazy dog " * 200


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    monkeypatch.setenv("W2V_VECTORS_DIR", str(tmp_path / "vectors"))
    return tmp_path


def stored(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("name, data, suffix", [
    ("book.txt", TEXT, ".txt"), ("book.txt.gz", gzip.compress(TEXT), ".txt.gz"),
    ("book.bz2", bz2.compress(TEXT), ".txt.bz2"), ("misnamed.txt", gzip.compress(TEXT), ".txt.gz")])
def test_a_corpus_is_stored_under_the_suffix_its_bytes_say(folders, name, data, suffix):
    path = uploads.save_corpus(name, data)
    assert path.name.endswith(suffix) and path.read_bytes() == data
    assert stored(folders / "corpora") == [path.name]


def test_a_decompression_bomb_is_refused(folders):
    bomb = gzip.compress(b"a " * (32 << 20), compresslevel=1)  # 64 MB of text in about 300 kB
    with pytest.raises(W2VError, match=r"expands more than 25x .* W2V_MAX_COMPRESSION_RATIO"):
        uploads.save_corpus("bomb.txt.gz", bomb)
    assert stored(folders / "corpora") == []
    assert stored(folders / "corpora") == []


def test_the_decompressed_size_is_capped_by_the_environment(folders, monkeypatch):
    monkeypatch.setenv("W2V_MAX_CORPUS_MB", "0.5")
    with pytest.raises(W2VError, match=r"more than 0 MiB of text|more than 1 MiB of text"):
        uploads.save_corpus("big.txt", TEXT * 100)  # 900 kB
    assert uploads.save_corpus("small.txt", TEXT).exists()


def test_the_ratio_cap_is_configurable(folders, monkeypatch):
    packed = gzip.compress(b"the same words again and again " * 700_000, compresslevel=1)  # 21 MB of text
    with pytest.raises(W2VError, match="expands more than"):
        uploads.save_corpus("r.txt.gz", packed)
    monkeypatch.setenv("W2V_MAX_COMPRESSION_RATIO", "10000")
    assert uploads.save_corpus("r.txt.gz", packed).exists()


@pytest.mark.parametrize("name, data, message", [
    ("late.txt", TEXT * 50 + b"caf\xe9 " + TEXT, "not UTF-8"),  # a bad byte past the first MB
    ("cut.txt.gz", gzip.compress(TEXT * 50)[:-40], "archive complete"),
    ("nul.txt", TEXT + b"\x00\x01" * 10, "binary"),
    ("short.txt", b"too few words", "only 3 words"),
    ("empty.txt", b"", "empty"),
])
def test_a_bad_corpus_is_refused_naming_the_upload_and_leaves_nothing(folders, name, data, message):
    with pytest.raises(W2VError, match=message) as e:
        uploads.save_corpus(name, data)
    assert name in str(e.value) and uploads.TEMP_PREFIX not in str(e.value)
    assert stored(folders / "corpora") == []


def test_the_word_count_stops_once_there_are_enough_words(folders, monkeypatch):
    blocks = []
    real = uploads.iter_token_blocks

    def counting(path, *a, **k):
        for b in real(path, *a, block_chars=1 << 12):
            blocks.append(len(b))
            yield b
    monkeypatch.setattr(uploads, "iter_token_blocks", counting)
    uploads.save_corpus("long.txt", TEXT * 20)
    assert len(blocks) == 1


def test_a_stored_file_is_never_replaced_and_the_same_file_is_reused(folders):
    a = uploads.save_corpus("notes.txt", TEXT)
    b = uploads.save_corpus("notes.txt", TEXT + b"more words ")
    assert a != b and a.read_bytes() == TEXT and b.name == "notes-2.txt"
    assert uploads.save_corpus("../../notes.txt", TEXT) == a


def test_stale_temporary_files_are_removed_and_fresh_ones_kept(folders):
    folder = folders / "corpora"
    folder.mkdir()
    old, new = folder / ".upload-old.tmp", folder / ".upload-new.tmp"
    old.write_bytes(b"x"), new.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * uploads.STALE_SECONDS,) * 2)
    uploads.save_corpus("c.txt", TEXT)
    assert not old.exists() and new.exists()


def test_a_vectors_file_is_checked_by_loading_it(folders):
    good = b"2 3\nking 1 2 3\nqueen 1 2 4\n"
    path = uploads.save_vectors("../my vectors!.vec", good)
    assert path.parent == folders / "vectors" and path.suffix == ".vec" and path.read_bytes() == good
    with pytest.raises(W2VError) as e:
        uploads.save_vectors("junk.txt", b"hello world\n")
    assert "junk.txt" in str(e.value)
    assert stored(folders / "vectors") == [path.name]


def test_hidden_and_temporary_files_are_not_vector_sources(folders):
    from w2v.studio import sources
    good = uploads.save_vectors("mine.txt", b"2 3\nking 1 2 3\nqueen 1 2 4\n")
    (good.parent / ".upload-crashed.txt").write_bytes(good.read_bytes())  # left by a server that died
    (good.parent / ".upload-x.tmp").write_bytes(b"partial")
    assert [s.label for s in sources.sources() if s.kind == "file"] == ["mine.txt (vectors file)"]
