"""Home: what the studio is, the bundled sample, and the runs found on disk."""

import pandas as pd
import streamlit as st

from w2v.app_support import SAMPLE_CORPUS, runs_dir, runs_table

st.title("w2v studio")
st.markdown(
    "Train **word2vec** (skip-gram or CBOW with negative sampling, in PyTorch) on your own text, "
    "watch it learn, and explore the vectors it finds."
)
st.info(
    f"Bundled sample corpus: **{SAMPLE_CORPUS.name}** — the first 2.1 M words of English Wikipedia "
    "(text8). Train it from a terminal with `python -m w2v train --out runs/sample`.",
    icon=":material/menu_book:",
)
table = runs_table()
st.subheader("Runs")
if table:
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
else:
    st.caption(f"No runs yet in `{runs_dir().name}/`.")
