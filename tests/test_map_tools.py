"""The Map page's tools in w2v.studio: label placement, custom axes, the address bar's view,
selections and the offline HTML export, on planted data made here."""

import re

import numpy as np
import pytest

from w2v.errors import W2VError
from w2v.studio import axes, labels, mapview, selection, urlstate
from w2v.studio.sources import Source
from w2v.vectors import WordVectors


def overlapping(b: np.ndarray) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(b)) for j in range(i + 1, len(b))
            if b[i, 0] < b[j, 1] and b[j, 0] < b[i, 1] and b[i, 2] < b[j, 3] and b[j, 2] < b[i, 3]]


@pytest.fixture
def scatter():
    """1,000 points spread as a t-SNE map spreads them, with words of 3 to 11 letters."""
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(1000, 2)) * [40, 30]
    words = ["w" * int(rng.integers(3, 12)) + str(i) for i in range(1000)]
    return xy, words


def test_labels_fill_a_1000_word_map_without_overlap(scatter):
    xy, words = scatter
    chosen = labels.place_labels(xy, words, labels.default_budget(len(words)))
    assert len(chosen) >= 30 == labels.default_budget(1000)
    assert not overlapping(labels.boxes(xy, words)[chosen])
    assert chosen == sorted(chosen)  # the most frequent (first) words that fit, in order
    skipped = sorted(set(range(max(chosen))) - set(chosen))
    assert skipped and all(overlapping(labels.boxes(xy, words)[sorted([*chosen, i])]) for i in skipped[:20])


def test_fewer_words_get_more_labels_and_the_clicked_word_always_has_one(scatter):
    xy, words = scatter
    assert labels.default_budget(200) > labels.default_budget(1000) and labels.default_budget(60) == 60
    small = labels.place_labels(xy[:200], words[:200], labels.default_budget(200))
    assert len(small) > 30
    always = [999, 998, 10]  # a rare clicked word, its neighbours, even where they overlap
    xy2 = xy.copy()
    xy2[[998, 999]] = xy2[10]
    chosen = labels.place_labels(xy2, words, 30, always=always)
    assert chosen[:3] == always and len(chosen) >= 30
    assert not overlapping(labels.boxes(xy2, words)[chosen[3:]])
    assert labels.place_labels(xy, words, 0) == [] and labels.place_labels(xy[:0], [], 10) == []


def test_a_label_box_is_as_wide_as_its_word_at_the_plots_scale():
    xy = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = labels.boxes(xy, ["ab", "abcd"], size=(100, 100), font=10)
    widths = b[:, 1] - b[:, 0]
    assert widths[1] - widths[0] == pytest.approx(2 * 10 * labels.CHAR_WIDTH)
    assert b[1, 0] + widths[1] / 2 == pytest.approx(100)  # centred on its point, 100 px along
    far = labels.boxes(xy * 1000, ["ab", "abcd"], size=(100, 100), font=10)
    assert np.allclose(b, far)  # data units do not matter, only the plot's pixels


@pytest.fixture
def planted():
    """Orthonormal directions: he/she differ along e0, good/bad along e1, all share e2; a word
    built along a direction lands on it."""
    e = np.eye(8, dtype=np.float32)
    vecs = {"he": e[0] + e[2], "she": -e[0] + e[2], "good": e[1] + e[2], "bad": -e[1] + e[2],
            "manly": e[0], "nasty": -e[1] + 0.1 * e[3], "plain": e[3], "kind": 0.6 * e[0] + 0.8 * e[1]}
    return WordVectors(list(vecs), np.stack(list(vecs.values())))


def test_custom_axes_place_planted_words_where_they_were_built(planted):
    idx = range(len(planted))
    xy = axes.project(planted, idx, "he - she", "good - bad")
    at = dict(zip(planted.index_to_key, map(tuple, xy)))
    assert at["manly"] == pytest.approx((1.0, 0.0), abs=1e-6)
    assert at["plain"] == pytest.approx((0.0, 0.0), abs=1e-6)
    assert at["kind"] == pytest.approx((0.6, 0.8), abs=1e-6)
    assert at["nasty"][1] < -0.99 and abs(at["nasty"][0]) < 1e-6
    assert at["he"][0] > 0 > at["she"][0]
    assert np.allclose(axes.project(planted, idx, "−she + he", "good−bad"), xy)  # signs, order, unicode minus


@pytest.mark.parametrize("text, message", [
    ("", "name each axis"), ("he - he", "no direction"), ("he - shee", "did you mean she"),
    ("a" * 101, "at most 100"), (" + ".join(["he"] * 11), "at most 10"), ("he - - she", "cannot read")])
def test_bad_axes_are_one_clear_line(planted, text, message):
    with pytest.raises(W2VError, match=message):
        axes.direction(planted, text)


def test_the_view_reads_back_from_its_address():
    fields = urlstate.map_fields()
    view = {"map_focus": "king", "map_mode": "search", "map_search": "^un", "map_n": 2000, "map_all": True,
            "map_method": "pca", "map_x": "he - she", "map_labels": 50, "map_seed": 0}
    src = Source("run", "/somewhere/runs/text8", "text8 (run, finished)")
    query = urlstate.write(view, fields, src)
    assert query == {"run": "text8", "word": "king", "mode": "search", "search": "^un", "n": "2000", "all": "1",
                     "method": "pca", "labels": "50"}  # the defaults (seed 0, the x axis) left out
    values, problems = urlstate.read(query, fields)
    assert not problems and values == {k: v for k, v in view.items() if k not in ("map_x", "map_seed")}
    assert urlstate.source_of([Source("file", "/v/text8", "f"), src], query) == (src, None)
    assert urlstate.source_of([src], {"vectors": "text8"})[0] is None


@pytest.mark.parametrize("param, raw", [
    ("n", "1e99"), ("n", "9" * 40), ("n", "-5"), ("n", ""), ("mode", "<script>"), ("all", "yes"),
    ("word", "x" * 101), ("word", "a\x00b"), ("search", "\u202e" * 3), ("clusters", "41")])
def test_hostile_address_values_are_left_out_with_one_line(param, raw):
    values, problems = urlstate.read({param: raw}, urlstate.map_fields())
    assert values == {} and len(problems) == 1 and f"{param}=" in problems[0] and "left out" in problems[0]
    assert len(problems[0]) < 200 and "\x00" not in problems[0]


def test_address_values_are_rounded_to_the_widgets_steps_and_unknown_sources_named():
    values, _ = urlstate.read({"n": "1234", "k": ["10", "25"]}, urlstate.map_fields())
    assert values == {"map_n": 1200, "map_k": 30}  # the last of a repeated parameter
    src = Source("run", "/r/a", "a (run, finished)")
    assert urlstate.source_of([src], {"run": "../../etc"}) == (None, "There is no run named '\\.\\./\\.\\./etc' "
                                                                      "here: showing a (run, finished) instead.")
    assert "[x](y)" not in urlstate.shown("[x](y)")  # Markdown shows it as typed, not as a link


def test_a_box_or_lasso_selection_and_its_centroid(planted):
    event = {"selection": {"points": [{"customdata": ["he"]}, {"customdata": ["manly"]}, {"customdata": ["he"]},
                                      {"x": 1}], "box": [{"x": [0, 1]}], "lasso": []}}
    assert selection.is_area(event) and selection.selected_words(event) == ["he", "manly"]
    assert mapview.clicked_word(event) is None  # a box is not a click
    click = {"selection": {"points": [{"customdata": ["he"]}], "box": [], "lasso": []}}
    assert not selection.is_area(click) and mapview.clicked_word(click) == "he"
    near = selection.centroid_neighbours(planted, ["he", "manly"], k=3)
    assert "he" not in set(near.word) and near.word[0] == "kind"  # nearest e0 + e0/2 + e2/2, the words left out
    assert selection.as_text(["a", "b"]) == "a\nb\n"
    assert selection.as_csv(planted, ["she", "nope"]).splitlines()[1:] == ["she,,2"]
    assert selection.parse_list("a, b\nb  c") == ["a", "b", "c"]
    with pytest.raises(W2VError, match="at most 3"):
        selection.parse_list("a b c d", limit=3)
    with pytest.raises(W2VError, match="select some words"):
        selection.centroid_neighbours(planted, ["nope"])


def test_the_html_export_works_offline_and_clusters_use_the_safe_palette():
    words = [f"w{i}" for i in range(20)]
    xy = np.random.default_rng(0).normal(size=(20, 2))
    fig = mapview.map_figure(words, xy, np.arange(20) % 10, "cluster", [f"c{i}" for i in range(10)],
                             np.zeros((10, 2)), labelled=[0, 1, 2])
    html = mapview.figure_html(fig)
    assert not re.search(r"<script[^>]*src=[\"']?(https?:)?//", html, re.I)
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js is inside
    colours = fig.data[0].marker.color
    assert set(colours) <= set(mapview.OKABE_ITO) and colours[0] == colours[8] != colours[1]
    assert next(t for t in fig.data if t.name == "labels").text == ("w0", "w1", "w2")
    assert mapview.chart_config("svg")["toImageButtonOptions"]["format"] == "svg"
    assert mapview.chart_config("png")["toImageButtonOptions"]["scale"] == mapview.IMAGE_SCALE
    assert mapview.chart_config("png", 100_000)["plotGlPixelRatio"] == 1  # every redraw draws every point
    assert mapview.chart_config("png", 2_000)["plotGlPixelRatio"] == 2  # plotly's default: crisp points


def test_the_theme_follows_the_users_light_or_dark_choice():
    import tomllib
    from pathlib import Path
    cfg = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert "base" not in cfg["theme"] and {"light", "dark"} <= set(cfg["theme"])  # not forced light
    fig = mapview.map_figure(["a", "b"], np.zeros((2, 2)), np.zeros(2), "c", ["x"], np.zeros((1, 2)))
    layout = {k: v for k, v in fig.to_plotly_json()["layout"].items() if k != "template"}
    assert not re.search(r"white|255, ?255, ?255|#fff", str(layout), re.I)  # nothing drawn for light only


def test_labels_keep_clear_of_the_cluster_names(scatter):
    xy, words = scatter
    free = labels.place_labels(xy, words, 30)
    name = (xy[free[0], 0], xy[free[0], 1], "a long cluster name")  # written over the first label
    chosen = labels.place_labels(xy, words, 30, notes=[name])
    assert free[0] not in chosen and len(chosen) == 30
    boxes = np.concatenate([labels.boxes(xy, words)[chosen],
                            labels.boxes([name[:2]], [name[2]], frame=xy, above=False)])
    assert not overlapping(boxes)
