"""Compare: two runs, or two checkpoints of one run: neighbour overlap per word and benchmark scores."""

import os

import plotly.express as px
import streamlit as st

from w2v import explore
from w2v.errors import W2VError
from w2v.vectors import TABLES


@st.cache_resource(max_entries=4, show_spinner="Loading vectors…")
def load(kind, path, table, checkpoint, stamp):
    return explore.load_vectors(kind, path, table, checkpoint)


@st.cache_data(max_entries=8, show_spinner="Comparing neighbours…")
def compare(a, b, k, n):
    return explore.compare(load(*a), load(*b), k=k, n=n)


@st.cache_data(max_entries=8, show_spinner="Running the benchmarks…")
def benchmark(spec):
    return explore.benchmark(load(*spec))


def stamp(path):
    return os.path.getmtime(path) if os.path.exists(path) else 0


def pick(side, sources, default):
    """One side's vectors: source, checkpoint, table -> the arguments of load()."""
    src = st.selectbox(f"Vectors {side}", sources, index=default, format_func=lambda s: s.label,
                       key=f"cmp_src_{side}")
    ckpts = dict(src.checkpoints)
    options = ["final", *ckpts]
    ckpt = st.selectbox(f"Checkpoint {side}", options, key=f"cmp_ckpt_{side}", disabled=src.kind != "run",
                        index=0 if side == "A" or src.kind != "run" or len(options) < 3 else len(options) - 2)
    table = st.radio(f"Table {side}", TABLES, horizontal=True, key=f"cmp_table_{side}",
                     disabled=src.kind != "run")
    return src, (src.kind, src.path, table, ckpts.get(ckpt), stamp(src.path)), ckpt


st.title("Compare")
st.caption("Two runs, or two checkpoints of one run (pick the same run on both sides). "
           "By default B is the same run one epoch before the end: what the last epoch changed.")
sources = explore.sources()
if not sources:
    st.info("No vectors yet: train a run on the Train page, or upload a word2vec file on the Neighbours page.")
    st.stop()
ca, cb = st.columns(2)
with ca:
    src_a, spec_a, ck_a = pick("A", sources, 0)
with cb:
    src_b, spec_b, ck_b = pick("B", sources, 0)
c = st.columns(2)
k = c[0].slider("Neighbours per word (k)", 5, 50, 10, key="cmp_k")
n = c[1].select_slider("Words compared (most frequent)", [100, 500, 1000, 2000, 5000, 10000], 2000, key="cmp_n")

try:
    df = compare(spec_a, spec_b, k, n)
except W2VError as e:
    st.error(str(e))
    st.stop()
col = f"overlap@{k}"
st.metric(f"mean neighbour overlap@{k}", f"{df[col].mean():.3f}",
          help=f"Share of each word's {k} nearest neighbours that A and B agree on, averaged over {len(df):,} words.")
left, right = st.columns([1, 2])
left.plotly_chart(px.histogram(df, x=col, nbins=k + 1, height=300), width="stretch")
right.markdown("**Words whose neighbours changed most**")
right.dataframe(df.head(200), hide_index=True, width="stretch", height=300)
look = st.text_input("Look up one word", key="cmp_word")
if look.strip():
    row = df[df.word == look.strip().lower()]
    st.dataframe(row if len(row) else df.head(0), hide_index=True, width="stretch")
    if not len(row):
        st.caption(f"'{look}' is not among the {len(df):,} words compared: raise the number of words.")

st.subheader("Benchmark scores")
# the trainer records scores of the input table; other tables are benchmarked on request
scores_a = explore.stored_scores(*spec_a[:2], spec_a[3]) if spec_a[2] == "input" else None
scores_b = explore.stored_scores(*spec_b[:2], spec_b[3]) if spec_b[2] == "input" else None
if (scores_a is None or scores_b is None) and \
        st.button("Run the benchmarks (analogies, WordSim-353)", key="cmp_bench"):
    scores_a, scores_b = benchmark(spec_a), benchmark(spec_b)
table = explore.scores_table(scores_a, scores_b)
if len(table):
    st.dataframe(table, hide_index=True, width="stretch")
else:
    st.caption("No scores recorded for these vectors: run the benchmarks.")
