"""Map: the vectors in 2-D (t-SNE / PCA), click a word to see its true neighbours, scrub the epochs."""

import json
import os

import numpy as np
import streamlit as st

from w2v import explore, projection
from w2v.errors import W2VError
from w2v.vectors import TABLES

METHODS = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP"}


@st.cache_resource(max_entries=6, show_spinner="Loading vectors…")
def load(kind, path, table, checkpoint, stamp):
    return explore.load_vectors(kind, path, table, checkpoint)


@st.cache_data(max_entries=16, show_spinner=False)
def select(src_key, table, checkpoint, stamp, spec):
    wv = load(*src_key, table, checkpoint, stamp)
    return explore.map_words(wv, **json.loads(spec))


@st.cache_data(max_entries=32, show_spinner=False)
def project(src_key, table, checkpoint, stamp, spec, method, params):
    wv = load(*src_key, table, checkpoint, stamp)
    idx = select(src_key, table, None, stamp, spec)  # the words are chosen on the final vectors
    return projection.project(wv.vectors[idx], [wv.index_to_key[i] for i in idx], method, **json.loads(params))


@st.cache_data(max_entries=16, show_spinner=False)
def cluster(src_key, table, stamp, spec, k, xy):
    wv = load(*src_key, table, None, stamp)
    idx = select(src_key, table, None, stamp, spec)
    x = xy if xy is not None else wv.vectors[idx]
    labels, names = projection.clusters(x, k, [wv.index_to_key[i] for i in idx],
                                        None if wv.counts is None else wv.counts[idx])
    return labels, names


def stamp(path):
    return os.path.getmtime(path) if os.path.exists(path) else 0


def clicked_word(event):
    """The word of the first clicked point of a plotly selection (its custom_data), if any."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    return next((p["customdata"][0] for p in points if p.get("customdata")), None)


st.title("Map")
sources = explore.sources()
if not sources:
    st.info("No vectors yet: train a run on the Train page, or upload a word2vec file on the Neighbours page.")
    st.stop()

with st.sidebar:
    src = st.selectbox("Vectors", sources, format_func=lambda s: s.label, key="map_source")
    table = st.radio("Table", TABLES, horizontal=True, key="map_table", disabled=src.kind != "run")
    st.subheader("Words")
    mode = st.radio("Map", ["frequent", "search", "neighbours"], key="map_mode", format_func={
        "frequent": "the most frequent", "search": "words matching a search",
        "neighbours": "the neighbours of a word"}.get)
    spec = {"mode": mode}
    if mode == "frequent":
        every = st.checkbox("all words", key="map_all")
        spec["n"] = 0 if every else st.slider("How many", 100, 5000, 1000, 100, key="map_n")
    elif mode == "search":
        spec["search"] = st.text_input("Words containing (or a regular expression)", "ing$", key="map_search")
        spec["n"] = 5000
    else:
        spec["word"] = st.text_input("Neighbours of", "king", key="map_word")
        spec["k"] = st.slider("How many neighbours", 10, 1000, 200, 10, key="map_k")
    st.subheader("Projection")
    method = st.selectbox("Method", projection.methods(), format_func=METHODS.get, key="map_method")
    params = {"seed": int(st.number_input("Seed", 0, 10_000, 0, key="map_seed"))}
    if method == "tsne":
        params["perplexity"] = st.slider("Perplexity", 5, 100, 30, key="map_perplexity")
    elif method == "umap":
        params["n_neighbors"] = st.slider("Neighbours (UMAP)", 5, 100, 15, key="map_umap_k")
    st.subheader("Look")
    colour = st.radio("Colour by", ["log frequency", "cluster"], horizontal=True, key="map_colour")
    if colour == "cluster":
        n_clusters = st.slider("Clusters (k-means)", 2, 40, 12, key="map_clusters")
        on_map = st.checkbox("cluster the map, not the vectors", key="map_cluster_2d")
    density = st.checkbox("density shading", key="map_density")

key = (src.kind, src.path)
st_ = stamp(src.path)
try:
    wv = load(*key, table, None, st_)
    spec_json = json.dumps(spec, sort_keys=True)
    idx = select(key, table, None, st_, spec_json)
except W2VError as e:
    st.error(str(e))
    st.stop()
words = [wv.index_to_key[i] for i in idx]
params_json = json.dumps(params, sort_keys=True)

# the timeline: a run's start-of-epoch checkpoints, each map aligned onto the final one
ckpts = dict(src.checkpoints) if src.kind == "run" else {}
when = "final"
if len(ckpts) > 1:
    when = st.select_slider("Timeline", [*ckpts, "final"], value="final", key="map_when",
                            help="The map at the start of each epoch, rotated onto the final map "
                                 "(orthogonal Procrustes) so that points move only where the space changed.")
with st.spinner(f"Projecting {len(idx):,} words with {METHODS[method]}… (cached for the next visit)"):
    try:
        base = project(key, table, None, st_, spec_json, method, params_json)
        shown = base if when == "final" else project(key, table, ckpts[when], st_, spec_json, method, params_json)
    except W2VError as e:
        st.error(str(e))
        st.stop()
xy = base.xy if when == "final" else projection.procrustes_align(shown.xy, base.xy)[0]

m = st.columns(4)
m[0].metric("words", f"{len(idx):,}")
m[1].metric("trustworthiness", "–" if shown.trust != shown.trust else f"{shown.trust:.3f}",
            help="How many of each word's nearest points on the map are among its nearest words in the "
                 "vectors (k=10; 1 = all, about 0.5 = chance; on a sample of 2,000 words). Below about 0.9, "
                 "trust clusters more than distances.")
seen = st.session_state.setdefault("map_seen", set())  # projections this session has shown
fresh = not shown.cached and shown.key not in seen
seen.add(shown.key)
m[2].metric(METHODS[method], f"{shown.seconds:.1f} s", "computed now" if fresh else "cached", "off",
            delta_arrow="off", help="How long the projection took when it was computed; cached ones show at once.")
highlight_text = m[3].text_input("Highlight words containing", key="map_highlight")

if colour == "cluster":
    labels, names = cluster(key, table, st_, spec_json, n_clusters, base.xy if on_map else None)
    color, title, centres = labels, "cluster", projection.cluster_centres(xy, labels)
else:
    labels, names, centres = None, None, None
    if wv.counts is not None:
        color, title = np.log10(np.maximum(wv.counts[idx], 1)), "log10 count"
    else:  # word2vec files list words most frequent first: the rank stands in for the count
        color, title = -np.log10(np.asarray(idx) + 1.0), "−log10 rank"

# The clicked word lives in session state, read before the chart is drawn so that one run shows
# the neighbours and the highlighted map (the chart's selection resets when its figure changes).
if clicked_word(st.session_state.get("map_chart")):
    st.session_state.map_focus = clicked_word(st.session_state.get("map_chart"))
focus_word = st.session_state.get("map_focus")
pos = {w: i for i, w in enumerate(words)}
if focus_word not in pos:
    focus_word = None
near = explore.neighbours(wv, focus_word, 15) if focus_word else None
marked = [pos[w] for w in near.word if w in pos] if near is not None else []
if highlight_text.strip():
    marked += [i for i, w in enumerate(words) if highlight_text.strip().lower() in w.lower()][:500]

left, right = st.columns([3, 1])
with right:  # filled first: the neighbours appear while the browser still draws the map
    if focus_word:
        st.subheader(focus_word)
        st.caption("Nearest words in the original space (ringed on the map when mapped):")
        st.dataframe(near.assign(on_map=[w in pos for w in near.word]), hide_index=True, width="stretch",
                     column_config={"similarity": st.column_config.ProgressColumn(
                         "cosine", min_value=0.0, max_value=1.0, format="%.3f")})
        b1, b2 = st.columns(2)
        if b1.button("Clear", key="map_clear"):
            st.session_state.pop("map_focus", None)
            st.rerun()
        if b2.button("Neighbours page", key="map_open"):
            st.session_state.nb_last = focus_word
            st.switch_page("pages/neighbours.py")
    else:
        st.info("Click a point to see that word's nearest neighbours.")
with left:
    fig = explore.map_figure(words, xy, color, title, names, centres, marked,
                             pos.get(focus_word) if focus_word else None, density=density)
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="map_chart",
                            width="stretch")
    clicked = clicked_word(event)
    if clicked and clicked != st.session_state.get("map_focus"):  # not seen above: draw it again
        st.session_state.map_focus = clicked
        st.rerun()

with st.expander("Export this map"):
    if st.toggle("Prepare files", key="map_export"):
        df = explore.map_table(wv, idx, xy, labels)
        c = st.columns(3)
        c[0].download_button("Table (CSV)", df.to_csv(index=False).encode(), "map.csv", "text/csv")
        c[1].download_button("Embedding Projector (TSV, zip)", explore.projector_zip(wv, words),
                             "projector.zip", "application/zip")
        c[2].download_button("Figure (HTML)", explore.figure_html(fig).encode(), "map.html", "text/html")
