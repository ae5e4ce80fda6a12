"""The Neighbours, Map and Compare pages through Streamlit's AppTest, on a tiny run trained here.

A plotly click cannot be made headless: the map test sets the chart's selection state in
session_state, which is what a click in the browser sends."""

import json
import os
import signal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import planted_text
from w2v import projection
from w2v.runs import read_json
from w2v.studio import mapjobs
from w2v.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    text, groups = planted_text(paragraphs=600)
    (root / "planted.txt").write_text(text)
    train(root / "planted.txt", root / "runs" / "tiny",
          TrainConfig(dim=16, epochs=2, min_count=1, sample=0, threads=1, eval="none", seed=3))
    return root / "runs", groups


@pytest.fixture
def env(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_RUNS_DIR", str(runs[0]))
    monkeypatch.setenv("W2V_VECTORS_DIR", str(tmp_path / "vectors"))
    monkeypatch.setenv("W2V_CACHE", str(tmp_path / "cache"))
    yield runs
    end_map_jobs()


def end_map_jobs():
    """End the background map jobs a test's pages started (their cache folder goes with the test)."""
    for pid in list(mapjobs._procs):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        mapjobs._procs.pop(pid).wait()


def map_job(at) -> str:
    """The key of the background map the page waits for (its first, in these tests its only one)."""
    (key,) = at.session_state["map_waited"]
    return key


def page(name):
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def texts(at, kind="markdown"):
    return " ".join(str(e.value) for e in getattr(at, kind))


def test_neighbours_click_through_and_back(env):
    _, groups = env
    at = page("neighbours").run()
    assert not at.exception
    at.text_input(key="nb_word").set_value("g1w2").run()
    df = at.dataframe[0].value
    assert set(df.word[:5]) == set(groups[1]) - {"g1w2"}
    nxt = df.word[0]
    at.button(key=f"nb_go_{nxt}").click().run()  # click a neighbour: it becomes the query
    assert at.text_input(key="nb_word").value == nxt
    trail = list(at.session_state["nb_trail"])
    assert trail[-2:] == ["g1w2", nxt]
    at.button(key=f"nb_crumb_{len(trail) - 2}").click().run()  # the breadcrumb goes back
    assert at.text_input(key="nb_word").value == "g1w2" and at.session_state["nb_trail"] == trail[:-1]


def test_neighbours_unknown_word_gets_suggestions(env):
    at = page("neighbours").run()
    at.text_input(key="nb_word").set_value("g4w").run()
    assert not at.exception and not at.error
    assert "not in the vocabulary" in texts(at, "warning")
    at.button(key="nb_hint_g4w0").click().run()
    assert at.text_input(key="nb_word").value == "g4w0" and at.dataframe[0].value.word[:5].str.startswith("g4").all()


def test_analogy_similarity_and_why(env):
    _, groups = env
    at = page("neighbours").run()
    at.text_input(key="nb_word").set_value("g2w0").run()
    for key, w in (("an_a", "g0w0"), ("an_b", "g1w0"), ("an_c", "g2w0")):
        at.text_input(key=key).set_value(w)
    at.text_input(key="sim_a").set_value("g5w1")
    at.text_input(key="sim_b").set_value("g5w2").run()
    assert not at.exception
    assert "3CosAdd" in texts(at) and "3CosMul" in texts(at)
    assert float(at.metric[0].value) > 0.5
    # why: the shared context table and the concordance lines of both words
    shared = next(d.value for d in at.dataframe if "context" in d.value.columns)
    assert len(shared) and set(shared.context) <= set(groups[2])
    other = at.selectbox(key="why_other").value
    code = " ".join(c.value for c in at.code)
    assert "[g2w0]" in code and f"[{other}]" in code
    at.text_input(key="an_b").set_value("g1w0x").run()
    assert "did you mean" in texts(at, "warning")


def test_map_click_shows_neighbours_and_highlights_them(env):
    _, groups = env
    st.cache_data.clear()
    at = page("map").run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "48"  # the tiny vocabulary, all of it
    assert at.metric[2].label == "PCA" and len(at.get("plotly_chart")) == 1  # the preview, at once,
    assert "being computed in the background" in texts(at, "info")  # while t-SNE runs as its own process
    assert mapjobs.wait(map_job(at), 600).state == mapjobs.DONE
    at.run()  # what the page's poll does once the job is done
    assert at.metric[2].label == "t-SNE" and "being computed" not in texts(at, "info")
    assert 0.5 < float(at.metric[1].value) <= 1.0  # trustworthiness shown
    assert "computed" in str(at.metric[2].proto.delta)
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": ["g3w1"], "point_index": 0}],
                                                   "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.session_state["map_focus"] == "g3w1"
    assert any(h.value == "g3w1" for h in at.subheader)
    near = at.dataframe[0].value
    assert set(near.word[:5]) == set(groups[3]) - {"g3w1"}
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t.get("name"): t for t in spec["data"]}
    assert set(traces["highlighted"]["text"]) >= set(groups[3]) - {"g3w1"}
    assert traces["selected"]["text"] == ["g3w1"]
    assert "cached" in str(at.metric[2].proto.delta)
    st.cache_data.clear()  # a new server process: the projection comes from the disk cache
    assert "cached" in str(page("map").run().metric[2].proto.delta)


def test_a_killed_map_job_says_so_and_the_preview_stays_usable(env):
    _, groups = env
    st.cache_data.clear()
    at = page("map").run()
    key = map_job(at)
    pid = read_json(projection.cache_dir() / "jobs" / key / "pid.json")["pid"]
    os.killpg(pid, signal.SIGKILL)
    assert mapjobs.wait(key, 600).state == mapjobs.FAILED
    at.run()
    assert not at.exception and "stopped before it finished" in at.warning[0].value
    assert at.metric[2].label == "PCA"  # the preview stays, and answers a click
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": ["g3w1"], "point_index": 0}],
                                                   "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert any(h.value == "g3w1" for h in at.subheader)
    assert set(at.dataframe[0].value.word[:5]) == set(groups[3]) - {"g3w1"}
    at.button(key="map_retry").click().run()  # Try again: a new job
    assert "being computed in the background" in texts(at, "info") and not at.warning


def test_a_checkpoint_map_starts_from_the_final_map(env):
    st.cache_data.clear()
    at = page("map").run()
    final = map_job(at)
    assert mapjobs.wait(final, 600).state == mapjobs.DONE
    at.run()
    at.select_slider(key="map_when").set_value("epoch 1").run()  # its t-SNE: started from the final map
    assert not at.exception and at.metric[2].label == "PCA"  # its preview meanwhile
    (epoch,) = at.session_state["map_waited"] - {final}
    assert mapjobs.wait(epoch, 600).state == mapjobs.DONE
    at.run()
    assert at.metric[2].label == "t-SNE" and not at.exception
    assert json.loads((projection.cache_dir() / f"{epoch}.json").read_text())["init"] is True


def test_umap_without_umap_learn_says_how_to_install_it(env):
    if projection.available("umap"):
        pytest.skip("umap-learn is installed here")
    at = page("map").run()
    at.selectbox(key="map_method").set_value("umap").run()
    assert not at.exception and "pip install umap-learn" in texts(at, "info")
    assert at.metric[2].label == "PCA" and len(at.get("plotly_chart")) == 1


def test_map_timeline_clusters_search_and_exports(env):
    at = page("map").run()
    at.radio(key="map_colour").set_value("cluster")
    at.selectbox(key="map_method").set_value("pca")
    at.text_input(key="map_highlight").set_value("g7")
    at.toggle(key="map_export").set_value(True).run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["layout"]["annotations"]) == 12  # a name at each cluster's centre
    assert sorted(next(t for t in spec["data"] if t.get("name") == "highlighted")["text"]) == \
        [f"g7w{i}" for i in range(6)]
    assert len(at.get("download_button")) == 3
    at.select_slider(key="map_when").set_value("epoch 0").run()  # random initial vectors
    assert not at.exception
    at.radio(key="map_mode").set_value("neighbours").run()  # its default word is not in this corpus
    assert "'king' is not in the vocabulary" in at.error[0].value
    at.text_input(key="map_word").set_value("g6w2").run()
    assert not at.error and at.metric[0].value == "48"


def test_compare_two_checkpoints(env):
    at = page("compare").run()
    assert not at.exception
    assert at.selectbox(key="cmp_ckpt_B").value == "epoch 1"
    assert 0.0 <= float(at.metric[0].value) <= 1.0
    changed = at.dataframe[0].value
    assert list(changed.columns[:2]) == ["word", "overlap@10"] and changed["overlap@10"].is_monotonic_increasing
    at.selectbox(key="cmp_ckpt_B").set_value("final").run()
    assert float(at.metric[0].value) == 1.0  # a run compared with itself
    at.button(key="cmp_bench").click().run()
    assert not at.exception


def test_pages_without_vectors_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_RUNS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("W2V_VECTORS_DIR", str(tmp_path / "none"))
    for name in ("neighbours", "map", "compare"):
        at = page(name).run()
        assert not at.exception and "No vectors yet" in at.info[0].value
