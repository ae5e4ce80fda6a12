"""Map: the vectors in 2-D (t-SNE / PCA), click a word to see its true neighbours, scrub the epochs."""

import json

import streamlit as st

import ui
from w2v import projection
from w2v.studio import mapjobs, mapview
from w2v.studio.sources import FINAL
from w2v.studio.words import neighbours


@st.cache_data(max_entries=16, show_spinner=False)
def select(final, spec):
    return mapview.map_words(ui.load_vectors(final), **json.loads(spec))


@st.cache_data(max_entries=32, show_spinner=False)
def project(final, at, spec, method, params, init=None):  # words.Busy while another tab computes a
    # PCA map; mapview.Pending (never cached) while a t-SNE or UMAP map is computed in the background
    return mapview.finished(ui.load_vectors(final), json.loads(spec), method, json.loads(params),
                            None if at is None else ui.load_vectors(at), init, wait=False)


def layout(final, at, spec, method, params, init=None):
    """(the map to show, the state of the background job making it or None): the map when it is
    made, else its PCA preview."""
    try:
        return ui.taking_turns(project, final, at, spec, method, params, init), None
    except mapview.Pending as p:
        preview = json.dumps(mapview.preview_params(json.loads(params)))
        return ui.taking_turns(project, final, at, spec, "pca", preview), p.state


def follow(job, method, n):
    """The background map's progress, polled each second until it is made (or fails); Cancel."""
    @st.fragment(run_every=1.0)
    def progress():
        state = mapjobs.poll(job.key)
        if state.state in (mapjobs.DONE, mapjobs.FAILED):
            st.rerun()  # the whole page: the map replaces its preview
        c = st.columns([5, 1])
        c[0].info(mapview.job_text(state, method, n), icon="⏳")
        if c[1].button("Cancel", key="map_cancel"):
            mapjobs.cancel(job.key)
            st.rerun()
    if job.state == mapjobs.FAILED:
        st.warning(f"No {mapview.METHODS[method]} map: {job.error}. The PCA preview is shown.")
        if st.button("Try again", key="map_retry"):
            mapjobs.forget(job.key)
            st.rerun()
    else:
        st.session_state.setdefault("map_waited", set()).add(job.key)
        progress()


@st.cache_data(max_entries=4, show_spinner="Finding each word's neighbours…")
def table(final, spec, xy, labels):  # words.Busy while another tab computes a map
    return mapview.map_table(ui.load_vectors(final), select(final, spec), xy, labels, wait=False)


@st.cache_data(max_entries=16, show_spinner=False)
def cluster(final, spec, k, xy):
    return mapview.clusters(ui.load_vectors(final), select(final, spec), k, xy)


st.title("Map")
found = ui.sources_or_stop()

with st.sidebar:
    src, choice = ui.pick_vectors(found, ("map_source", None, "map_table"))
    st.subheader("Words")
    mode = st.radio("Map", list(mapview.MODES), key="map_mode", format_func=mapview.MODES.get)
    spec = {"mode": mode}
    if mode == "frequent":
        every = st.checkbox("all words", key="map_all")
        spec["n"] = 0 if every else st.slider("How many", 100, 5000, 1000, 100, key="map_n")
    elif mode == "search":
        spec["search"] = st.text_input("Words containing", "ing$", key="map_search", help=mapview.SEARCH_HELP,
                                       max_chars=mapview.SEARCH_CHARS)
        spec["n"] = mapview.SEARCH_LIMIT
    else:
        spec["word"] = st.text_input("Neighbours of", "king", key="map_word")
        spec["k"] = st.slider("How many neighbours", 10, 1000, 200, 10, key="map_k")
    st.subheader("Projection")
    method = st.selectbox("Method", list(mapview.METHODS), format_func=mapview.METHODS.get, key="map_method")
    if missing := mapview.unavailable(method):
        st.info(missing)
        method = "pca"
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

wv = ui.or_stop(ui.load_vectors, choice)
spec_json, params_json = json.dumps(spec, sort_keys=True), json.dumps(params, sort_keys=True)
idx = ui.or_stop(select, choice, spec_json)
words = [wv.index_to_key[i] for i in idx]

stops = mapview.timeline(src)  # a run's start-of-epoch checkpoints, each map aligned onto the final one
when = FINAL
if stops:
    when = st.select_slider("Timeline", stops, value=FINAL, key="map_when",
                            help="The map at the start of each epoch, rotated onto the final map "
                                 "(orthogonal Procrustes) so that points move only where the space changed.")
with st.spinner(f"Projecting {len(idx):,} words with {mapview.METHODS[method]}… (cached for the next visit)"):
    base, job = layout(choice, None, spec_json, method, params_json)
    at, shown = mapview.at_stop(src, choice, when), base
    if at is not None:  # a checkpoint's t-SNE starts from the final map (its preview until that is made)
        shown, at_job = layout(choice, at, spec_json, "pca" if job else method, params_json, None if job else base)
        job = job or at_job
xy = mapview.aligned(shown, base)
if job:
    follow(job, method, len(idx))

m = st.columns(4)
m[0].metric("words", f"{len(idx):,}")
m[1].metric("trustworthiness", mapview.trust_text(shown),
            help="How many of each word's nearest points on the map are among its nearest words in the "
                 "vectors (k=10; 1 = all, about 0.5 = chance; on a sample of 2,000 words). Below about 0.9, "
                 "trust clusters more than distances.")
fresh = mapview.computed_now(shown, st.session_state.setdefault("map_seen", set()),
                             st.session_state.get("map_waited", set()))
m[2].metric(mapview.METHODS[shown.method], f"{shown.seconds:.1f} s", "computed now" if fresh else "cached", "off",
            delta_arrow="off", help="How long the projection took when it was computed; cached ones show at once.")
highlight_text = m[3].text_input("Highlight words containing", key="map_highlight")

if colour == "cluster":
    labels, names = cluster(choice, spec_json, n_clusters, base.xy if on_map else None)
    color, title, centres = labels, "cluster", projection.cluster_centres(xy, labels)
else:
    labels, names, centres = None, None, None
    color, title = mapview.colour(wv, idx)

# The clicked word lives in session state, read before the chart is drawn so that one run shows
# the neighbours and the highlighted map (the chart's selection resets when its figure changes).
if mapview.clicked_word(st.session_state.get("map_chart")):
    st.session_state.map_focus = mapview.clicked_word(st.session_state.get("map_chart"))
focus_word = st.session_state.get("map_focus")
focus = words.index(focus_word) if focus_word in words else None
near = neighbours(wv, focus_word, mapview.FOCUS_NEIGHBOURS) if focus is not None else None
marked = mapview.marked(words, near.word if near is not None else (), highlight_text)

left, right = st.columns([3, 1])
with right:  # filled first: the neighbours appear while the browser still draws the map
    if near is not None:
        st.subheader(focus_word)
        st.caption("Nearest words in the original space (ringed on the map when mapped):")
        mapped = set(words)
        st.dataframe(near.assign(on_map=[w in mapped for w in near.word]), hide_index=True, width="stretch",
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
    fig = mapview.map_figure(words, xy, color, title, names, centres, marked, focus, density=density)
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="map_chart",
                            width="stretch")
    clicked = mapview.clicked_word(event)
    if clicked and clicked != st.session_state.get("map_focus"):  # not seen above: draw it again
        st.session_state.map_focus = clicked
        st.rerun()

with st.expander("Export this map"):
    if st.toggle("Prepare files", key="map_export"):
        df = ui.taking_turns(table, choice, spec_json, xy, labels)
        c = st.columns(3)
        c[0].download_button("Table (CSV)", df.to_csv(index=False).encode(), "map.csv", "text/csv")
        c[1].download_button("Embedding Projector (TSV, zip)", mapview.projector_zip(wv, words),
                             "projector.zip", "application/zip")
        c[2].download_button("Figure (HTML)", mapview.figure_html(fig).encode(), "map.html", "text/html")
