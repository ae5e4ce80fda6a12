"""Home: what the studio is, the bundled sample, and the runs found on disk."""

import pandas as pd
import streamlit as st

import ui  # noqa: F401  (first, as on every page: app.py's navigation decides, even on a first deep link)
from w2v.studio import corpora, paths, runlist

st.title("w2v studio")
st.markdown(
    "Train **word2vec** (skip-gram or CBOW with negative sampling, in PyTorch) on your own text, "
    "watch it learn, and explore the vectors it finds."
)
st.info(
    f"Bundled sample corpus: **{corpora.sample().name}** — the first 2.1 M words of English Wikipedia "
    "(text8). Train it from a terminal with `python -m w2v train --out runs/sample`.",
    icon=":material/menu_book:",
)
table = runlist.rows()
st.subheader("Runs")
if table:
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch",
                 column_config={"progress": st.column_config.ProgressColumn(format="%.0f%%", min_value=0,
                                                                            max_value=100)})
else:
    st.caption(f"No runs yet in `{paths.runs_dir().name}/`.")
