"""w2v studio: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="w2v studio", page_icon="🔤", layout="wide")

pages = [st.Page("pages/home.py", title="Home", icon="🏠", default=True)]
st.navigation(pages).run()
