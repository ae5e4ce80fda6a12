"""Compare: two runs, or two checkpoints of one run: neighbour overlap per word and benchmark scores."""

import streamlit as st

import ui
from w2v.studio import compare as comparison
from w2v.studio.sources import recorded_scores


@st.cache_data(max_entries=8, show_spinner="Comparing neighbours…")
def compare(a, b, k, n):  # words.Busy while another tab computes a large comparison or a map
    return comparison.compare(ui.load_vectors(a), ui.load_vectors(b), k=k, n=n, wait=False)


@st.cache_data(max_entries=8, show_spinner="Running the benchmarks…")
def benchmark(choice):
    return comparison.benchmark(ui.load_vectors(choice))


st.title("Compare")
st.caption("Two runs, or two checkpoints of one run (pick the same run on both sides). "
           "By default B is the same run one epoch before the end: what the last epoch changed.")
found = ui.sources_or_stop()
ca, cb = st.columns(2)
with ca:
    _, choice_a = ui.pick_vectors(found, ("cmp_src_A", "cmp_ckpt_A", "cmp_table_A"), side="A")
with cb:
    _, choice_b = ui.pick_vectors(found, ("cmp_src_B", "cmp_ckpt_B", "cmp_table_B"), side="B", before_last=True)
c = st.columns(2)
k = c[0].slider("Neighbours per word (k)", 5, 50, 10, key="cmp_k")
n = c[1].select_slider("Words compared (most frequent)", comparison.WORD_COUNTS, comparison.DEFAULT_WORDS,
                       key="cmp_n")

df = ui.taking_turns(compare, choice_a, choice_b, k, n)
col = comparison.overlap_column(k)
st.metric(f"mean neighbour overlap@{k}", f"{df[col].mean():.3f}",
          help=f"Share of each word's {k} nearest neighbours that A and B agree on, averaged over {len(df):,} words.")
left, right = st.columns([1, 2])
left.plotly_chart(comparison.histogram(df, k), width="stretch")
right.markdown("**Words whose neighbours changed most**")
right.dataframe(df.head(200), hide_index=True, width="stretch", height=300)
look = st.text_input("Look up one word", key="cmp_word")
if look.strip():
    row = comparison.find(df, look)
    st.dataframe(row, hide_index=True, width="stretch")
    if not len(row):
        st.caption(f"'{look}' is not among the {len(df):,} words compared: raise the number of words.")

st.subheader("Benchmark scores")
scores_a, scores_b = recorded_scores(choice_a), recorded_scores(choice_b)
if (scores_a is None or scores_b is None) and \
        st.button("Run the benchmarks (analogies, WordSim-353)", key="cmp_bench"):
    scores_a, scores_b = benchmark(choice_a), benchmark(choice_b)
table = comparison.scores_table(scores_a, scores_b)
if len(table):
    st.dataframe(table, hide_index=True, width="stretch")
else:
    st.caption("No scores recorded for these vectors: run the benchmarks.")
