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


def test_the_pages_leave_torch_out_of_the_server(tmp_path):
    """Home, Corpus and Train (an estimate included: its calibration trains in a process of its
    own) run in a fresh interpreter that never imports torch."""
    import os
    import subprocess
    import sys
    import textwrap

    from conftest import planted_text
    sample = tmp_path / "sample.txt"
    sample.write_text(planted_text(paragraphs=300)[0])
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        from streamlit.testing.v1 import AppTest
        import w2v.studio.paths
        w2v.studio.paths.SAMPLE_CORPUS = Path(sys.argv[1])
        for page in ("app.py", "pages/corpus.py", "pages/train.py"):
            at = AppTest.from_file(page, default_timeout=120).run()
            assert not at.exception, (page, at.exception)
        for name, value in {"dim": 10, "min_count": 1, "threads": 1}.items():
            at.number_input(key=f"cfg-word2vec-{name}").set_value(value)
        next(b for b in at.button if b.label == "Estimate").click().run()
        metrics = {m.label: m.value for m in at.metric}
        assert not at.exception and metrics["Estimated training time"] != "–", metrics
        print("torch" in sys.modules)
    """)
    env = {**os.environ, "W2V_RUNS_DIR": str(tmp_path / "runs"), "W2V_CORPORA_DIR": str(tmp_path / "corpora")}
    done = subprocess.run([sys.executable, "-c", code, str(sample)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
