"""w2v studio: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="w2v studio", page_icon="🔤", layout="wide")

pages = [st.Page("pages/home.py", title="Home", icon="🏠", default=True),
         st.Page("pages/corpus.py", title="Corpus", icon="📄"),
         st.Page("pages/train.py", title="Train", icon="🏋️"),
         st.Page("pages/neighbours.py", title="Neighbours", icon="🔎"),
         st.Page("pages/map.py", title="Map", icon="🗺️"),
         st.Page("pages/compare.py", title="Compare", icon="⚖️"),
         ]
st.navigation(pages).run()
