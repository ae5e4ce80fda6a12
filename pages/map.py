"""Map: the vectors in 2-D (t-SNE / PCA, or custom axes), click a word to see its true neighbours,
select many with a box or a lasso, scrub the epochs; the view lives in the address bar."""

import json

import streamlit as st

import ui
from map_chart import map_chart
from w2v import projection
from w2v.studio import axes, labels as map_labels, mapjobs, mapview, selection, urlstate
from w2v.studio.sources import FINAL
from w2v.studio.words import lookup, neighbours

FIELDS = urlstate.map_fields()


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


@st.cache_data(max_entries=64, show_spinner=False)
def vocabulary_word(final, text):  # the clicked (or linked) word as the vectors spell it, or None
    return lookup(ui.load_vectors(final), text)[0] if text else None


@st.cache_data(max_entries=16, show_spinner=False)
def place_labels(final, spec, xy, budget, always, notes):  # the words `spec` chooses: not hashed word by word
    wv = ui.load_vectors(final)
    return map_labels.place_labels(xy, [wv.index_to_key[i] for i in select(final, spec)], budget, always,
                                   notes=notes)


@st.cache_data(max_entries=16, show_spinner=False)
def cluster(final, spec, k, xy):
    return mapview.clusters(ui.load_vectors(final), select(final, spec), k, xy)


def map_these(chosen):
    st.session_state.map_mode, st.session_state.map_list = "words", "\n".join(chosen)
    st.session_state.pop("map_selected", None)


def words_widgets(mode):
    """The sidebar's choice of words -> map_words' arguments."""
    if mode == "frequent":
        every = st.checkbox("all words", key="map_all", help="Map the whole vocabulary (t-SNE takes minutes).")
        return {"n": 0 if every else st.slider("How many", 100, 5000, step=100, key="map_n",
                                               help="The most frequent words to map.")}
    if mode == "search":
        return {"search": st.text_input("Words containing", key="map_search", help=mapview.SEARCH_HELP,
                                        max_chars=mapview.SEARCH_CHARS), "n": mapview.SEARCH_LIMIT}
    if mode == "words":
        return {"words": st.text_area("Words", key="map_list", max_chars=selection.LIST_CHARS,
                                      help="Words separated by spaces, commas or new lines (at most "
                                           f"{selection.SELECT_LIMIT:,}); a box or lasso selection fills it.")}
    return {"word": st.text_input("Neighbours of", key="map_word", max_chars=100,
                                  help="Map this word and its nearest words in the vectors."),
            "k": st.slider("How many neighbours", 10, 1000, step=10, key="map_k",
                           help="How many of its nearest words to map with it.")}


def projection_widgets(method):
    """The sidebar's projection settings -> (params, custom axes or None)."""
    if method == mapview.AXES:
        return {}, (st.text_input("x axis", key="map_x", max_chars=axes.AXIS_CHARS, help=axes.AXIS_HELP),
                    st.text_input("y axis", key="map_y", max_chars=axes.AXIS_CHARS, help=axes.AXIS_HELP))
    params = {"seed": int(st.number_input("Seed", 0, 10_000, key="map_seed",
                                          help="The random start of the projection: another seed, another layout."))}
    if method == "tsne":
        params["perplexity"] = st.slider("Perplexity", 5, 100, key="map_perplexity",
                                         help="About how many neighbours each word keeps close (t-SNE). On a map of "
                                              f"{projection.LARGE_FROM:,} words or more, each word keeps its "
                                              "perplexity ÷ 2 nearest, weighted alike (faster on big maps).")
    elif method == "umap":
        params["n_neighbors"] = st.slider("Neighbours (UMAP)", 5, 100, key="map_umap_k",
                                          help="How many neighbours shape each word's place (UMAP).")
    return params, None


st.title("Map")
found = ui.sources_or_stop()
ui.view_from_url("map", found, "map_source", FIELDS)

with st.sidebar:
    src, choice = ui.pick_vectors(found, ("map_source", None, "map_table"))
    st.subheader("Words")
    mode = st.radio("Map", list(mapview.MODES), key="map_mode", format_func=mapview.MODES.get,
                    help="Which words to map: the most frequent, a search, a word's neighbours, or a list.")
    spec = {"mode": mode, **words_widgets(mode)}
    st.subheader("Projection")
    method = st.selectbox("Method", list(mapview.METHODS), format_func=mapview.METHODS.get,
                          key="map_method", help="t-SNE keeps neighbours together; PCA keeps the widest "
                          "directions; UMAP is like t-SNE (needs umap-learn); custom axes place words along "
                          "two directions you name.")
    if missing := mapview.unavailable(method):
        st.info(missing)
        method = "pca"
    params, custom = projection_widgets(method)
    st.subheader("Look")
    colour = st.radio("Colour by", ["frequency", "cluster"], horizontal=True, key="map_colour",
                      format_func={"frequency": "log frequency", "cluster": "cluster"}.get,
                      help="Frequency on a Viridis scale, or k-means clusters in a colour-blind-safe "
                           "palette (Okabe–Ito; beyond 8 clusters colours repeat, the names tell them apart).")
    if colour == "cluster":
        n_clusters = st.slider("Clusters (k-means)", 2, 40, key="map_clusters", help="How many clusters.")
        on_map = st.checkbox("cluster the map, not the vectors", key="map_cluster_2d",
                             help="k-means on the 2-D points (what you see) instead of the full vectors.")
    density = st.checkbox("density shading", key="map_density", help="Shade where the points are dense.")
    budget = st.number_input("Words to label", 0, map_labels.MAX_BUDGET, value=None, key="map_labels",
                             placeholder="automatic", help="How many of the most frequent words to write on "
                             "the map, where they fit without overlapping (empty: 30 on 1,000 words, all of "
                             "a map of 100 or fewer). The clicked word and its neighbours are always written.")
    image = st.radio("Camera button saves", list(mapview.IMAGE_FORMATS), format_func=mapview.IMAGE_FORMATS.get,
                     horizontal=True, key="map_image", help="The camera button above the map saves it as a "
                     f"PNG at {mapview.IMAGE_SCALE}× its size on screen, or as an SVG for print.")

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
at = mapview.at_stop(src, choice, when)
job = None
if custom:
    xy = ui.or_stop(axes.project, ui.load_vectors(at or choice), idx, *custom)
    base = None
else:
    with st.spinner(f"Projecting {len(idx):,} words with {mapview.METHODS[method]}… (cached for the next visit)"):
        base, job = layout(choice, None, spec_json, method, params_json)
        shown = base
        if at is not None:  # a checkpoint's t-SNE starts from the final map (its preview until that is made)
            shown, at_job = layout(choice, at, spec_json, "pca" if job else method, params_json,
                                   None if job else base)
            job = job or at_job
    xy = mapview.aligned(shown, base)
if job:
    follow(job, method, len(idx))

m = st.columns(4)
m[0].metric("words", f"{len(idx):,}")
if custom:
    m[1].metric("x axis", custom[0], help="Cosine of each word with this direction (its words' sum).")
    m[2].metric("y axis", custom[1], help="Cosine of each word with this direction (its words' sum).")
else:
    m[1].metric("trustworthiness", mapview.trust_text(shown),
                help="How many of each word's nearest points on the map are among its nearest words in the "
                     "vectors (k=10; 1 = all, about 0.5 = chance; on a sample of 2,000 words). Below about 0.9, "
                     "trust clusters more than distances.")
    fresh = mapview.computed_now(shown, st.session_state.setdefault("map_seen", set()),
                                 st.session_state.get("map_waited", set()))
    m[2].metric(mapview.METHODS[shown.method], f"{shown.seconds:.1f} s", "computed now" if fresh else "cached",
                "off", delta_arrow="off",
                help="How long the projection took when it was computed; cached ones show at once.")
highlight_text = m[3].text_input("Highlight words containing", key="map_highlight", max_chars=100,
                                 help="Ring the mapped words containing these letters (at most "
                                      f"{mapview.HIGHLIGHT_LIMIT}).")

if colour == "cluster":
    labels, names = cluster(choice, spec_json, n_clusters, (base.xy if base else xy) if on_map else None)
    color, title, centres = labels, "cluster", projection.cluster_centres(xy, labels)
else:
    labels, names, centres = None, None, None
    color, title = mapview.colour(wv, idx)

# The chart's last press or selection, read before the chart is drawn so that one run shows the
# neighbours and the highlighted map; each is acted on once (the chart keeps reporting it, and
# "Clear" must stay cleared).
event = st.session_state.get("map_chart")
if event != st.session_state.get("map_event_seen"):
    st.session_state.map_event_seen = event
    if clicked := mapview.clicked_word(event):
        st.session_state.map_focus = clicked
    if selection.is_area(event):
        st.session_state.map_selected = selection.selected_words(event)
focus_word = vocabulary_word(choice, st.session_state.get("map_focus"))
focus = words.index(focus_word) if focus_word in words else None
near = neighbours(wv, focus_word, mapview.FOCUS_NEIGHBOURS) if focus_word else None
marked = mapview.marked(words, near.word if near is not None else (), highlight_text)

left, right = st.columns([3, 1])
with right:  # filled first: the neighbours appear while the browser still draws the map
    if near is not None:
        st.subheader(focus_word)
        st.caption("Nearest words in the original space (ringed on the map when mapped):"
                   if focus is not None else "Not on this map. Its nearest words in the original space:")
        mapped = set(words)
        st.dataframe(near.assign(on_map=[w in mapped for w in near.word]), hide_index=True, width="stretch",
                     column_config={"similarity": st.column_config.ProgressColumn(
                         "cosine", min_value=0.0, max_value=1.0, format="%.3f")})
        b1, b2 = st.columns(2)
        if b1.button("Clear", key="map_clear", help="Forget the clicked word."):
            st.session_state.pop("map_focus", None)
            st.rerun()
        if b2.button("Neighbours page", key="map_open", help="Open this word on the Neighbours page."):
            st.session_state.nb_last = focus_word
            st.switch_page("pages/neighbours.py", query_params={**urlstate.source_param(src), "word": focus_word})
    else:
        if st.session_state.get("map_focus"):
            st.warning(f"'{urlstate.shown(st.session_state.map_focus)}' is not in these vectors.")
        st.info("Click a point to see that word's nearest neighbours; drag a box or a lasso to select many.")
with left:
    labelled = place_labels(choice, spec_json, xy,
                            map_labels.default_budget(len(words)) if budget is None else budget,
                            [*([] if focus is None else [focus]), *marked], mapview.cluster_notes(names, centres))
    fig = mapview.map_figure(words, xy, color, title, names, centres, marked, focus, labelled, density=density,
                             axis_titles=custom)
    map_chart(fig, mapview.chart_config(image, len(words)), key="map_chart")

chosen = st.session_state.get("map_selected") or []
if chosen:
    with st.expander(f"Selected: {len(chosen):,} words", expanded=True):
        st.write(", ".join(chosen[:200]) + (" …" if len(chosen) > 200 else ""))
        c = st.columns(4)
        c[0].download_button("Words (text)", selection.as_text(chosen), "selected.txt", "text/plain",
                             help="One word a line.")
        c[1].download_button("Words (CSV)", selection.as_csv(wv, chosen), "selected.csv", "text/csv",
                             help="Word, frequency and rank in the vocabulary.")
        c[2].button("Map these words alone", key="map_these", on_click=map_these, args=(chosen,),
                    help="A map of just these words (Map: words I chose).")
        if c[3].button("Clear selection", key="map_unselect", help="Forget the selected words."):
            st.session_state.pop("map_selected", None)
            st.rerun()
        st.markdown("**Nearest words to their centroid** (the mean of their unit vectors; the selected words "
                    "left out)")
        st.dataframe(ui.or_stop(selection.centroid_neighbours, wv, chosen, 20), hide_index=True, width="stretch",
                     column_config={"similarity": st.column_config.ProgressColumn(
                         "cosine", min_value=0.0, max_value=1.0, format="%.3f")})

with st.expander("Export this map"):
    st.caption("For a picture, use the camera button above the map (PNG or SVG, chosen in the sidebar).")
    if st.toggle("Prepare files", key="map_export", help="Build the table, projector and HTML files."):
        df = ui.taking_turns(table, choice, spec_json, xy, labels)
        c = st.columns(3)
        c[0].download_button("Table (CSV)", df.to_csv(index=False).encode(), "map.csv", "text/csv",
                             help="word, x, y, cluster, frequency and each word's 10 nearest words.")
        c[1].download_button("Embedding Projector (TSV, zip)", mapview.projector_zip(wv, words),
                             "projector.zip", "application/zip",
                             help="vectors.tsv and metadata.tsv for projector.tensorflow.org.")
        c[2].download_button("Figure (HTML)", mapview.figure_html(fig).encode(), "map.html", "text/html",
                             help="The interactive map in one file that opens offline (plotly.js inside).")

ui.view_to_url("map", {f.key: st.session_state.get(f.key) for f in FIELDS}, FIELDS, src)
