"""The Corpus page through AppTest: upload, the sample button, a bad upload, the pipeline view."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import planted_text

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "corpus.py")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Runs and corpora in tmp_path; a small planted text stands in for the bundled sample."""
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    sample = tmp_path / "sample.txt"
    sample.write_text(planted_text(paragraphs=200)[0])  # 2,400 tokens, 48 types
    monkeypatch.setattr("w2v.studio.paths.SAMPLE_CORPUS", sample)
    return tmp_path


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def page(monkeypatch) -> AppTest:
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(PAGE, default_timeout=60)


UPLOAD = ("alpha beta gamma delta " * 30 + "\n\n" + "beta gamma epsilon " * 20).encode()


def test_upload_then_sample_button(env, monkeypatch):
    at = page(monkeypatch).run()
    assert not at.exception and metrics(at)["Tokens"] == "2,400"  # the sample by default
    at.file_uploader(key="corpus_upload").upload("../My Book.txt", UPLOAD, "text/plain").run()
    assert not at.exception
    stored = env / "corpora" / "My-Book.txt"
    assert stored.read_bytes() == UPLOAD and "My-Book.txt" in at.success[0].value
    m = metrics(at)
    assert m["Tokens"] == "180" and m["Word types"] == "5" and at.selectbox[0].value.endswith("My-Book.txt")
    at.run()  # the upload stays in the widget: it is not stored twice
    assert [p.name for p in (env / "corpora").iterdir()] == ["My-Book.txt"]
    at.button(key="use_sample").click().run()
    assert not at.exception and metrics(at)["Tokens"] == "2,400"
    assert at.selectbox[0].value == str(env / "sample.txt")


def test_bad_upload_shows_a_message_and_stores_nothing(env, monkeypatch):
    at = page(monkeypatch).run()
    at.file_uploader(key="corpus_upload").upload("good.txt", UPLOAD, "text/plain").run()
    at.file_uploader(key="corpus_upload").clear().run()
    at.file_uploader(key="corpus_upload").upload("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
                                                "text/plain").run()
    assert not at.exception
    assert len(at.error) == 1 and "photo" in at.error[0].value and "UTF-8" in at.error[0].value
    assert [p.name for p in (env / "corpora").iterdir()] == ["good.txt"]
    assert metrics(at)["Tokens"] == "180"  # still the corpus stored before
    at.file_uploader(key="corpus_upload").clear().run()
    at.file_uploader(key="corpus_upload").upload("empty.txt", b"", "text/plain").run()
    assert "empty" in at.error[0].value


def test_statistics_follow_min_count_and_the_pipeline_shows_pairs(env, monkeypatch):
    at = page(monkeypatch).run()
    assert metrics(at)["Vocabulary (min_count 5)"] == "48" and metrics(at)["Tokens covered"] == "100.0%"
    at.number_input(key="cs_min_count").set_value(100_000).run()
    assert metrics(at)["Vocabulary (min_count 100000)"] == "0"
    at.number_input(key="cs_min_count").set_value(1).run()
    at.slider(key="cs_window").set_value(1).run()
    pairs = at.dataframe[-1].value
    assert len(pairs) == 2 * (12 - 1)  # a 12-word planted paragraph, window 1: both neighbours
    assert set(pairs["offset"]) == {-1, 1}
    assert len(at.get("plotly_chart")) == 4  # Zipf, vocabulary curve, keep probability, noise


def test_the_real_sample_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_CORPORA_DIR", str(tmp_path / "corpora"))
    at = page(monkeypatch).run()
    assert not at.exception
    m = metrics(at)
    assert m["Tokens"] == "2,139,748" and m["Vocabulary (min_count 5)"] == "22,541"


def _zip(members: dict) -> bytes:
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


TEXT_A = "alpha beta gamma delta " * 30
TEXT_B = "beta gamma epsilon " * 20
CSV = ("id,headline,text\n1,secretheader one," + TEXT_A + "\n2,secretheader two," + TEXT_B + "\n").encode()
JSONL = ('{"id": 1, "headline": "secretheader one", "text": "' + TEXT_A + '"}\n'
         '{"id": 2, "headline": "secretheader two", "text": "' + TEXT_B + '"}\n').encode()


@pytest.mark.parametrize("name, data", [("news.csv", CSV), ("news.jsonl", JSONL),
                                        ("news.tsv", CSV.replace(b",", b"\t"))])
def test_a_table_upload_shows_its_rows_and_reads_the_picked_field(env, monkeypatch, name, data):
    from w2v.studio import form
    at = page(monkeypatch).run()
    at.file_uploader(key="corpus_upload").upload(name, data, "text/plain").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.columns) == ["id", "headline", "text"]  # the preview
    field = at.selectbox(key="text_field-" + name)
    assert field.value == "text" and metrics(at)["Tokens"] == "180" and metrics(at)["Word types"] == "5"
    assert at.session_state[form.key("word2vec", "text_field")] == "text"  # the Train form starts from it
    field.set_value("headline").run()
    assert metrics(at)["Tokens"] == "4" and "secretheader" in set(at.dataframe[1].value["word"])


def test_a_zip_upload_reads_every_text_member_and_a_zip_without_text_is_refused(env, monkeypatch):
    at = page(monkeypatch).run()
    data = _zip({"a.txt": TEXT_A, "sub/b.txt": TEXT_B, "cover.png": b"\x89PNG\x00"})
    at.file_uploader(key="corpus_upload").upload("books.zip", data, "application/zip").run()
    assert not at.exception and "books.zip" in at.success[0].value
    assert metrics(at)["Tokens"] == "180" and metrics(at)["Word types"] == "5"
    at.file_uploader(key="corpus_upload").clear().run()
    at.file_uploader(key="corpus_upload").upload("pics.zip", _zip({"cover.png": b"\x89PNG"}), "application/zip").run()
    assert len(at.error) == 1 and "holds no .txt file" in at.error[0].value
    assert sorted(p.name for p in (env / "corpora").iterdir()) == ["books.zip"]


def test_the_phrases_tab_finds_planted_phrases(env, monkeypatch):
    import random
    rng = random.Random(0)
    paras = [" ".join(rng.choice([f"w{i}" for i in range(100)]) for _ in range(8)) + " new york" for _ in range(300)]
    at = page(monkeypatch).run()
    at.file_uploader(key="corpus_upload").upload("city.txt", "\n\n".join(paras).encode(), "text/plain").run()
    at.number_input(key="cs_phrase_threshold").set_value(1.0)  # a small corpus: few types to score against
    at.toggle(key="cs_phrases").set_value(True).run()
    assert not at.exception
    found = at.dataframe[-1].value
    assert found["phrase"].iloc[0] == "new york" and found["count"].iloc[0] == 300
    assert any("whole corpus" in m.value for m in at.markdown)
