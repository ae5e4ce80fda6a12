"""The app's server never imports torch: every page, run headless over a real run, in a fresh
interpreter (the test process itself trains the run, so it cannot be the one that checks)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import planted_text
from w2v.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent

PAGES = textwrap.dedent("""
    import sys
    from streamlit.testing.v1 import AppTest
    for page in ("app.py", "pages/corpus.py", "pages/train.py", "pages/neighbours.py", "pages/map.py",
                 "pages/compare.py"):
        at = AppTest.from_file(page, default_timeout=180).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
        if page == "pages/neighbours.py":
            at.text_input(key="nb_word").set_value("g1w2").run()
            assert not at.exception and len(at.dataframe[0].value) > 0
    print("torch" in sys.modules, "streamlit" in sys.modules)
""")


def test_every_page_over_a_real_run_leaves_torch_out(tmp_path):
    text, _ = planted_text(paragraphs=600)
    (tmp_path / "planted.txt").write_text(text)
    train(tmp_path / "planted.txt", tmp_path / "runs" / "tiny",
          TrainConfig(dim=16, epochs=2, min_count=1, sample=0, threads=1, eval="none", seed=3))
    env = {**os.environ, "W2V_RUNS_DIR": str(tmp_path / "runs"), "W2V_CORPORA_DIR": str(tmp_path / "corpora"),
           "W2V_VECTORS_DIR": str(tmp_path / "vectors"), "W2V_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", PAGES], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["False", "True"]  # streamlit ran; torch never came in
