"""Corpus: upload a text or pick the sample, read its statistics, and see the word2vec pipeline on it."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import ui
from w2v.errors import W2VError
from w2v.config import TrainConfig
from w2v.phrases import PhraseSettings
from w2v.studio import corpora, corpus_stats, form, tables, uploads

st.title("Corpus")
st.caption("Bring a text, or take the bundled sample. Everything below is computed on the corpus you pick; "
           "the Train page trains on the same one.")

# ---- choose: upload, the sample, or a stored corpus
left, right = st.columns([3, 1])
upload = left.file_uploader("Upload a UTF-8 text file (.txt, or compressed .gz / .bz2 / .xz), a .zip of .txt files, "
                            "or a table (.jsonl / .csv / .tsv) whose text field you pick below",
                            type=[s.lstrip(".") for s in uploads.CORPUS_SUFFIXES], key="corpus_upload")
if upload is not None and st.session_state.get("upload_seen") != upload.file_id:
    st.session_state["upload_seen"] = upload.file_id
    try:
        with st.spinner(f"Checking and storing {upload.name}…"):
            stored = uploads.save_corpus(upload.name, upload)
        st.session_state["corpus_path"] = str(stored)
        st.session_state["upload_msg"] = ("success", f"Stored as **{stored.name}** in the corpora folder.")
    except W2VError as e:
        st.session_state["upload_msg"] = ("error", str(e))
if upload is None:
    st.session_state.pop("upload_msg", None)
if msg := st.session_state.get("upload_msg"):
    (st.success if msg[0] == "success" else st.error)(msg[1])

right.write("")
sample_corpus = corpora.sample()
if right.button("Use the sample corpus", key="use_sample", type="primary",
                help=f"{sample_corpus.name}: the first 2.1 M words of English Wikipedia (text8)"):
    st.session_state["corpus_path"] = str(sample_corpus)

path = ui.corpus_picker(help="the bundled sample and every corpus uploaded so far")

# ---- a table: pick the field that holds the text, from its first rows
text_field = ""
if (table := ui.or_stop(tables.preview, path)) is not None:
    st.markdown(f"**{path.name} is a table.** Its first rows; only the field you pick is read as text "
                "(the other fields, and the field names, never reach the vocabulary).")
    st.dataframe(pd.DataFrame(table.rows, columns=table.columns), hide_index=True)
    picked = ui.text_field(path)
    text_field = st.selectbox("Text field", table.columns, key=f"text_field-{path.name}",
                              index=table.columns.index(picked if picked in table.columns else table.guess),
                              help="the column (CSV/TSV) or key (JSON lines) whose text is the corpus: "
                                   "`--text-field` on the command line, the Train page's Text field")
    st.session_state.setdefault("text_fields", {})[str(path)] = text_field
    for preset in form.PRESETS:  # the Train form starts from this choice
        st.session_state[form.key(preset, "text_field")] = text_field

# ---- one streamed pass over the corpus (remembered per file, for every page and session)
c1, c2, c3 = st.columns(3)
min_count = c1.number_input("min_count", min_value=1, max_value=100_000, value=5, step=1, key="cs_min_count",
                            help="words rarer than this are dropped from the vocabulary")
sample = c2.select_slider("sample (subsampling threshold t)", options=[0.0, 1e-5, 1e-4, 1e-3, 1e-2],
                          value=1e-3, format_func=lambda t: "off" if not t else f"{t:g}", key="cs_sample",
                          help="frequent words are kept with probability (sqrt(f/t) + 1) * t/f")
keep_punct = c3.toggle("Keep punctuation as tokens", key="cs_punct")

summary = ui.read_corpus(path, keep_punct, text_field)
if summary is None:
    st.stop()
vocab = corpus_stats.vocab_at(summary, min_count)

m = st.columns(4)
m[0].metric("Tokens", f"{summary.tokens:,}")
m[1].metric("Word types", f"more than {summary.max_types:,}" if summary.pruned_at else f"{summary.types:,}")
m[2].metric(f"Vocabulary (min_count {min_count})", f"{len(vocab):,}")
m[3].metric("Tokens covered", f"{corpus_stats.coverage(summary, min_count):.1%}")
if note := corpus_stats.approximation(summary):
    st.warning(note, icon=":material/info:")

words, vocab_tab, sub_tab, pipe_tab, phrase_tab = st.tabs(["Words and Zipf", "Vocabulary vs min_count",
                                                           "Subsampling", "The pipeline on your text", "Phrases"])

with words:
    a, b = st.columns([1, 2])
    a.dataframe(pd.DataFrame(corpus_stats.top_words(summary, 30)), hide_index=True, height=420,
                column_config={"share": st.column_config.NumberColumn(format="percent")})
    z = pd.DataFrame(corpus_stats.zipf(summary))
    fig = px.scatter(z, x="rank", y="count", hover_name="word", log_x=True, log_y=True,
                     title="Zipf plot: frequency against rank (log-log)")
    fig.update_traces(marker=dict(size=4))
    b.plotly_chart(fig, key="zipf")

with vocab_tab:
    vc = corpus_stats.vocab_curve(summary)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=vc["min_count"], y=vc["vocab_size"], name="vocabulary size"))
    fig.add_trace(go.Scatter(x=vc["min_count"], y=vc["coverage"], name="share of tokens covered",
                             line=dict(dash="dot")), secondary_y=True)
    fig.add_vline(x=min_count, line_color="grey")
    fig.update_layout(title="Vocabulary size against min_count", xaxis_title="min_count")
    fig.update_yaxes(title_text="words", secondary_y=False)
    fig.update_yaxes(title_text="tokens covered", tickformat=".0%", secondary_y=True)
    st.plotly_chart(fig, key="vocab_curve")

with sub_tab:
    st.metric("Expected share of tokens kept per epoch", f"{corpus_stats.kept_share(vocab, sample):.1%}",
              help="subsampling is redrawn every epoch; rare words are always kept")
    kc = corpus_stats.keep_curve(vocab, sample)
    fig = go.Figure(go.Scatter(x=kc["freq"], y=kc["keep"], name="keep probability"))
    top = corpus_stats.dropped_words(vocab, sample, 12)
    if top:
        fig.add_trace(go.Scatter(x=[r["count"] / max(vocab.total, 1) for r in top], y=[r["keep_prob"] for r in top],
                                 text=[r["word"] for r in top], mode="markers+text", textposition="top center",
                                 name="most thinned words"))
    fig.update_layout(title="Keep probability against word frequency", xaxis_type="log",
                      xaxis_title="frequency f (share of tokens)", yaxis_title="keep probability")
    st.plotly_chart(fig, key="keep_curve")
    st.markdown("**Which words subsampling drops** (expected tokens dropped per epoch)")
    if top:
        st.dataframe(pd.DataFrame(corpus_stats.dropped_words(vocab, sample, 20)), hide_index=True,
                     column_config={"keep_prob": st.column_config.NumberColumn(format="%.3f")})
    else:
        st.caption("No word is frequent enough to be dropped at this threshold.")

with pipe_tab:
    if not summary.examples:
        st.caption("This corpus has no passage to show.")
    else:
        labels = [" ".join(e[:8]) + " …" for e in summary.examples]
        i = st.selectbox("Passage", range(len(labels)), format_func=lambda k: labels[k], key="cs_passage")
        p1, p2, p3 = st.columns(3)
        window = p1.slider("window", 1, 10, 2, key="cs_window")
        use_sample = p2.toggle("subsample (t as above)", key="cs_use_sample")
        reduced = p3.toggle("reduced windows (b drawn in 1..window)", key="cs_reduced")
        res = corpus_stats.sentence_pairs(summary.examples[i], vocab, window, sample if use_sample else 0.0,
                                          reduced)
        st.markdown("**Passage:** " + " ".join(summary.examples[i]))
        if res["dropped"]:
            st.markdown("**Dropped before pairing:** " + ", ".join(f"~~{w}~~ ({why})" for w, why in res["dropped"]))
        st.markdown("**What the trainer sees:** " + " ".join(
            f"{w}<sub>b={b}</sub>" if reduced else w for w, b in zip(res["kept"], res["windows"])),
            unsafe_allow_html=True)
        st.caption(f"{len(res['pairs'])} (centre, context) pairs; each becomes one positive example with "
                   "`negative` noise words drawn from the distribution below.")
        st.dataframe(pd.DataFrame(res["pairs"], columns=["centre", "context", "offset"]), hide_index=True,
                     height=260)
        nt = pd.DataFrame(corpus_stats.noise_table(vocab, 15))
        if len(nt):
            fig = px.bar(nt.melt(id_vars="word", var_name="distribution", value_name="probability"),
                         x="word", y="probability", color="distribution", barmode="group",
                         title="Noise distribution of the top words: unigram vs unigram^0.75")
            st.plotly_chart(fig, key="noise")
            st.caption("Raising counts to the power 0.75 flattens the distribution: frequent words are drawn "
                       "as noise less often, rare words more often.")

with phrase_tab:
    st.caption("Frequent pairs such as *new york* can be trained as one token, `new_york` (`--phrases N` on the "
               "Train page or the command line; gensim's Phrases). A pair becomes a phrase when "
               "(count(a b) − min count) / (count(a) · count(b)) × types counted is above the threshold.")
    defaults = TrainConfig()
    q1, q2, q3 = st.columns(3)
    passes = q1.number_input("passes", 1, 3, 1, key="cs_phrase_passes",
                             help="a second pass joins phrases into longer ones (new_york + times)")
    threshold = q2.number_input("threshold", 1e-6, 1e9, defaults.phrase_threshold, key="cs_phrase_threshold")
    phrase_min = q3.number_input("min count", 1, 1_000_000, defaults.phrase_min_count, key="cs_phrase_min")
    if st.toggle("Find the phrases", key="cs_phrases",
                 help=f"reads at most the first {corpus_stats.PHRASE_TOKENS:,} tokens (a few seconds)"):
        with st.spinner("Counting word pairs…"):
            found = ui.or_stop(corpus_stats.phrases_cached, path, PhraseSettings(passes, threshold, phrase_min),
                               keep_punct, text_field)
        scope = "the whole corpus" if found["whole"] else f"the first {found['tokens']:,} tokens"
        st.markdown(f"**{len(found['rows']):,} phrases** in {scope}, best first")
        st.dataframe(pd.DataFrame(found["rows"], columns=["phrase", "count", "score", "pass"]), hide_index=True,
                     height=360, column_config={"score": st.column_config.NumberColumn(format="%.1f")})
