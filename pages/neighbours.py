"""Neighbours: search a word, click through its nearest words, analogies, and why two words are near.
The run, the word and how many neighbours live in the address bar (?run=NAME&word=WORD)."""

import streamlit as st

import ui
from w2v.errors import W2VError
from w2v.studio import concordance, uploads, urlstate, words
from w2v.studio.sources import stamp


@st.cache_resource(max_entries=2, show_spinner=False)
def corpus(kind, path, stamp):
    return concordance.Corpus.of_source(kind, path)


def go_to(word):
    st.session_state.nb_word = word


st.title("Neighbours")

with st.expander("Upload word2vec vectors (text or binary)"):
    up = st.file_uploader("A word2vec file", type=[s.lstrip(".") for s in uploads.VECTOR_SUFFIXES])
    if up is not None and st.button("Add these vectors"):
        try:
            st.success(f"Added {uploads.save_vectors(up.name, up.getvalue()).name}: choose it below.")
        except W2VError as e:
            st.error(str(e))

found = ui.sources_or_stop(upload="above", train=" (or `python -m w2v train --out runs/sample`)")
ui.view_from_url("neighbours", found, "nb_source", urlstate.NEIGHBOURS_FIELDS)
src, choice = ui.pick_vectors(found, ("nb_source", "nb_ckpt", "nb_table"), columns=st.columns([3, 2, 2]))
wv = ui.or_stop(ui.load_vectors, choice)
st.caption(f"{len(wv):,} words × {wv.vector_size} dimensions")

if "nb_word" not in st.session_state:  # nb_last outlives visits to other pages (and the map's link)
    st.session_state.nb_word = words.first_word(wv, st.session_state.get("nb_last"))
trail = st.session_state.setdefault("nb_trail", [])

tab_nb, tab_an, tab_why = st.tabs(["Neighbours", "Analogies & similarity", "Why are these neighbours?"])

with tab_nb:
    a, b = st.columns([3, 1])
    text = st.session_state.nb_last = a.text_input("Word", key="nb_word",
                                                   help="Press Enter; unknown words get close spellings.")
    k = b.slider("How many", 5, 50, key="nb_k")
    word, hints = words.lookup(wv, text)
    if word is not None:
        trail[:] = words.visit(trail, word)
    if len(trail) > 1:
        cols = st.columns(len(trail) + 1)
        cols[0].caption("Path:")
        for i, w in enumerate(trail):
            cols[i + 1].button(w, key=f"nb_crumb_{i}", on_click=go_to, args=(w,), disabled=w == word,
                               type="tertiary")
    if word is None:
        st.warning(f"'{text}' is not in the vocabulary." + (" Did you mean:" if hints else " Try another word."))
        cols = st.columns(max(len(hints), 1))
        for i, w in enumerate(hints):
            cols[i].button(w, key=f"nb_hint_{w}", on_click=go_to, args=(w,))
    else:
        df = words.neighbours(wv, word, k)
        left, right = st.columns(2)
        left.dataframe(df, hide_index=True, width="stretch", column_config={
            "similarity": st.column_config.ProgressColumn("cosine", min_value=0.0, max_value=1.0, format="%.3f")})
        right.plotly_chart(words.neighbours_figure(df), width="stretch")
        st.caption("Click a word to explore it:")
        cols = st.columns(5)
        for i, w in enumerate(df.word):
            cols[i % 5].button(w, key=f"nb_go_{w}", on_click=go_to, args=(w,), width="stretch")

with tab_an:
    st.markdown("**a : b :: c : ?** (e.g. man : king :: woman : queen)")
    defaults = words.analogy_defaults(wv)
    cols = st.columns(4)
    a_, b_, c_ = (cols[i].text_input("abc"[i], defaults[i], key=f"an_{'abc'[i]}") for i in range(3))
    topn = cols[3].number_input("answers", 1, 20, 5, key="an_topn")
    try:
        res = words.analogy(wv, a_, b_, c_, int(topn))
        cols = st.columns(2)
        for col, (name, rows) in zip(cols, res.items()):
            col.markdown(f"**{name}**")
            col.dataframe([{"word": w, "score": round(s, 4)} for w, s in rows], hide_index=True, width="stretch")
    except W2VError as e:
        st.warning(str(e))
    st.divider()
    cols = st.columns(3)
    s1 = cols[0].text_input("Similarity of", defaults[1], key="sim_a")
    s2 = cols[1].text_input("and", defaults[2], key="sim_b")
    try:
        cols[2].metric("cosine", f"{words.similarity(wv, s1, s2):.3f}")
    except W2VError as e:
        cols[2].warning(str(e))

with tab_why:
    word, _ = words.lookup(wv, st.session_state.nb_word)
    crp = corpus(src.kind, src.path, stamp(src.path))
    if word is None:
        st.info("Choose a word on the Neighbours tab first.")
    elif crp is None:
        st.info("Concordances need a run's corpus: choose a run (uploaded vectors come without their text).")
    else:
        if st.session_state.get("why_word") != word:  # another word: start from its own nearest
            st.session_state.pop("why_other", None)
            st.session_state["why_word"] = word
        other = st.selectbox(f"Why is this word near **{word}**?", concordance.candidates(wv, word),
                             key="why_other")
        window = st.slider("Context window", 1, 10, 5, key="why_window")
        st.markdown(f"**Context words that {word} and {other} share most**")
        st.dataframe(crp.shared_contexts(word, other, window), hide_index=True, width="stretch")
        cols = st.columns(2)
        for col, w in zip(cols, (word, other)):
            col.markdown(f"**{w}** in the corpus")
            lines = crp.concordance(w, n=8)
            col.code("\n".join(lines) if lines else f"{w} does not occur in the corpus", language=None,
                     wrap_lines=True)
        st.caption("Words rarer than the run's min_count are left out of these lines.")

ui.view_to_url("neighbours", {"nb_word": word or text, "nb_table": choice.table, "nb_k": k},
               urlstate.NEIGHBOURS_FIELDS, src)
