"""The Neighbours, Map and Compare pages through Streamlit's AppTest, on a tiny run trained here.

A plotly click cannot be made headless: the map test sets the chart's selection state in
session_state, which is what a click in the browser sends."""

import base64
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import end_map_jobs, planted_text
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


def map_job(at) -> str:
    """The key of the background map the page waits for (its first, in these tests its only one)."""
    (key,) = at.session_state["map_waited"]
    return key


def page(name):
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def map_figures(at) -> list[tuple[dict, dict]]:
    """The Map page's charts (the map_chart component): each one's plotly figure and config."""
    return [(json.loads(a["spec"]), json.loads(a["config"]))
            for a in (json.loads(e.proto.json_args) for e in at.get("component_instance"))]


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
    assert other in groups[2]  # the new word's nearest, not the one chosen for the page's first word
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
    assert at.metric[2].label == "PCA" and len(map_figures(at)) == 1  # the preview, at once,
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
    spec = map_figures(at)[0][0]
    traces = {t.get("name"): t for t in spec["data"]}
    assert set(traces["highlighted"]["text"]) >= set(groups[3]) - {"g3w1"}
    assert traces["selected"]["text"] == ["g3w1"]
    assert spec["layout"]["clickmode"] == "event"  # a press reports its point, selecting nothing
    assert "cached" in str(at.metric[2].proto.delta)
    press = {"press": 1, "selection": {"points": [{"customdata": ["g3w1"]}], "box": [], "lasso": []}}
    at.session_state["map_chart"] = press
    at.button(key="map_clear").click().run()  # the chart still reports its last press: Clear holds
    assert "map_focus" not in at.session_state and not any(h.value == "g3w1" for h in at.subheader)
    at.run()
    assert "map_focus" not in at.session_state
    at.session_state["map_chart"] = {**press, "press": 2}  # the same point pressed again is news
    at.run()
    assert at.session_state["map_focus"] == "g3w1"
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
    assert at.metric[2].label == "PCA" and len(map_figures(at)) == 1


def test_map_timeline_clusters_search_and_exports(env):
    at = page("map").run()
    at.radio(key="map_colour").set_value("cluster")
    at.selectbox(key="map_method").set_value("pca")
    at.text_input(key="map_highlight").set_value("g7")
    at.toggle(key="map_export").set_value(True).run()
    assert not at.exception
    spec = map_figures(at)[0][0]
    assert len(spec["layout"]["annotations"]) == 8  # a name at each cluster's centre (8: the palette)
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


def test_a_vectors_folder_file_opens_with_a_word_limit_that_can_be_raised(env, monkeypatch):
    from w2v.studio import sources
    from w2v.vectors import WordVectors
    monkeypatch.setattr(sources, "DEFAULT_WORDS", 120)  # as 100,000 words of a file of millions
    folder = Path(os.environ["W2V_VECTORS_DIR"])
    folder.mkdir()
    words = [f"v{i}" for i in range(300)]
    WordVectors(words, np.random.default_rng(0).normal(size=(300, 8))).save_word2vec(folder / "big.bin", binary=True)
    at = page("neighbours").run()
    at.selectbox(key="nb_source").set_value(sources.sources()[-1]).run()
    limit = at.number_input[0]
    assert not at.exception and limit.label == "Words to load" and limit.value == 120
    assert "120 most frequent words (the first in the file) of 300" in texts(at, "caption")
    assert "120 words × 8 dimensions" in texts(at, "caption")
    at.text_input(key="nb_word").set_value("v200").run()
    assert "not in the vocabulary" in texts(at, "warning")  # beyond the words loaded
    limit.set_value(300).run()
    assert "All 300 words of this word2vec binary file" in texts(at, "caption")
    assert "300 words × 8 dimensions" in texts(at, "caption") and at.dataframe[0].value.word[0].startswith("v")


def traces(at):
    return {t.get("name"): t for t in map_figures(at)[0][0]["data"]}


def numbers(a):
    """A plotly JSON array: a list, or numpy's bytes in base64 ({"dtype", "bdata"})."""
    return np.frombuffer(base64.b64decode(a["bdata"]), a["dtype"]) if isinstance(a, dict) else np.asarray(a)


def test_an_address_opens_a_words_neighbours_and_follows_the_view(env):
    _, groups = env
    at = page("neighbours")
    at.query_params["run"], at.query_params["word"], at.query_params["k"] = "tiny", "g1w2", "5"
    at.run()
    assert not at.exception and not at.warning
    assert at.text_input(key="nb_word").value == "g1w2" and set(at.dataframe[0].value.word) == set(groups[1]) - {"g1w2"}
    at.text_input(key="nb_word").set_value("g2w0").run()  # changing the view changes the address
    assert dict(at.query_params) == {"run": "tiny", "word": "g2w0", "k": "5"}


def test_an_address_opens_the_map_with_its_word_clicked(env):
    _, groups = env
    at = page("map")
    at.query_params.update({"run": "tiny", "word": "g3w1", "method": "pca", "colour": "cluster", "clusters": "4"})
    at.run()
    assert not at.exception and not at.warning
    assert at.session_state["map_focus"] == "g3w1" and any(h.value == "g3w1" for h in at.subheader)
    assert traces(at)["selected"]["text"] == ["g3w1"] and at.slider(key="map_clusters").value == 4
    assert dict(at.query_params) == {"run": "tiny", "word": "g3w1", "method": "pca", "colour": "cluster",
                                     "clusters": "4"}
    at.button(key="map_clear").click().run()
    assert "word" not in at.query_params


@pytest.mark.parametrize("name", ["map", "neighbours"])
def test_hostile_addresses_are_a_clear_line_each_never_a_traceback(env, name):
    at = page(name)
    at.query_params.update({"run": "../../etc/passwd", "word": "<script>alert(1)</script>" * 20, "k": "9" * 5000,
                            "n": "1e308", "mode": "\x00", "method": "tsne'; drop", "labels": "-1"})
    at.run()
    assert not at.exception and not at.error
    lines = [w.value for w in at.warning]
    assert "There is no run named" in lines[0] and "showing tiny" in lines[0]
    assert all(len(line) < 200 and "<script>" not in line for line in lines)
    assert len(lines) == (7 if name == "map" else 3)
    at.query_params.clear()
    at.query_params["word"] = "nosuchword"
    at.run()
    assert not at.exception and ("not in" in texts(at, "warning"))


def test_the_map_writes_words_and_a_box_selection_becomes_a_list_a_map_and_a_query(env):
    _, groups = env
    at = page("map")
    at.query_params["method"] = "pca"
    at.run()
    assert len(traces(at)["labels"]["text"]) >= 8  # 48 words in 8 tight groups: each one that fits
    at.number_input(key="map_labels").set_value(5).run()
    assert len(traces(at)["labels"]["text"]) == 5 and at.query_params["labels"] == "5"
    box = groups[4][:4] + groups[5][:2]
    at.session_state["map_chart"] = {"selection": {
        "points": [{"customdata": [w], "point_index": i} for i, w in enumerate(box)],
        "point_indices": list(range(6)), "box": [{"x": [0, 1], "y": [0, 1]}], "lasso": []}}
    at.run()
    assert not at.exception and at.session_state["map_selected"] == box
    assert "map_focus" not in at.session_state or not at.session_state["map_focus"]  # no click
    assert "Selected: 6 words" in [e.label for e in at.expander]
    near = at.dataframe[0].value  # the neighbours of their centroid, the selected words left out
    assert not set(near.word) & set(box) and set(near.word[:3]) <= set(groups[4][4:] + groups[5][2:])
    at.button(key="map_these").click().run()
    assert at.radio(key="map_mode").value == "words" and at.metric[0].value == "6"
    assert at.query_params["mode"] == "words" and at.query_params["words"].split() == box


def test_custom_axes_place_words_along_the_named_directions(env):
    at = page("map")
    at.query_params.update({"method": "axes", "x": "g0w0 - g1w0", "y": "g2w0 - g3w0"})
    at.run()
    assert not at.exception and not at.error
    pts = traces(at)["words"]
    x = dict(zip((c[0] for c in pts["customdata"]), numbers(pts["x"])))
    y = dict(zip((c[0] for c in pts["customdata"]), numbers(pts["y"])))
    assert min(x[w] for w in ("g0w1", "g0w2")) > 0.2 > -0.2 > max(x[w] for w in ("g1w1", "g1w2"))
    assert min(y[w] for w in ("g2w1", "g2w2")) > 0.2 > -0.2 > max(y[w] for w in ("g3w1", "g3w2"))
    layout = map_figures(at)[0][0]["layout"]
    assert layout["xaxis"]["title"]["text"] == "g0w0 - g1w0"
    at.text_input(key="map_x").set_value("g0w0 - nope").run()
    assert not at.exception and "'nope' is not in the vocabulary" in at.error[0].value


def test_a_1000_word_vectors_file_gets_30_labels_and_the_image_buttons(env, tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "vectors"
    folder.mkdir()
    words = [f"word{i:04d}" for i in range(1200)]
    (folder / "big.txt").write_text(f"1200 8\n" + "".join(
        w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=8)) + "\n" for w in words))
    at = page("map")
    at.query_params.update({"vectors": "big.txt", "method": "pca"})
    at.run()
    assert not at.exception and at.metric[0].value == "1,000"
    assert len(traces(at)["labels"]["text"]) >= 30
    config = map_figures(at)[0][1]
    assert config["toImageButtonOptions"]["format"] == "png" and config["toImageButtonOptions"]["scale"] == 3
    at.radio(key="map_image").set_value("svg").run()
    assert map_figures(at)[0][1]["toImageButtonOptions"]["format"] == "svg"
    at.radio(key="map_colour").set_value("cluster").run()
    controls = [w for kind in ("radio", "slider", "checkbox", "selectbox", "text_input", "number_input",
                               "toggle", "select_slider", "button") for w in getattr(at, kind)]
    assert len(controls) > 12 and [w.label for w in controls if not w.help] == []  # help on every control
