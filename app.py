"""w2v studio: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="w2v studio", page_icon=":material/scatter_plot:", layout="wide")

pages = [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
         st.Page("pages/corpus.py", title="Corpus", icon=":material/description:"),
         st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
         st.Page("pages/neighbours.py", title="Neighbours", icon=":material/hub:"),
         st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
         st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
         ]
st.navigation(pages).run()
