"""The app through Streamlit's AppTest: every page renders without an exception."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from w2v.runs import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent


def test_home_lists_runs(tmp_path, monkeypatch):
    run = tmp_path / "myrun"
    run.mkdir()
    atomic_write_json(run / "config.json", {"train": {"dim": 42, "mode": "skipgram", "epochs": 3}})
    atomic_write_json(run / "status.json", {"state": "finished", "progress": 1.0,
                                            "scores": {"analogy_accuracy": 0.5}})
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "w2v studio"
    df = at.dataframe[0].value
    assert df["run"].tolist() == ["myrun"] and df["dim"].tolist() == [42]


def test_home_without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "none"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception and "No runs yet" in at.caption[0].value
