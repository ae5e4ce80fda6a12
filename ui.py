"""Page helpers shared by the app's pages (widgets only: every computation is a w2v.studio call).

Sections: corpus picking and reading with progress (Corpus and Train pages); choosing and loading
vectors (Neighbours, Map and Compare pages).
"""

# ---------------------------------------------------------------- corpus pages

from pathlib import Path  # noqa: E402

import streamlit as st  # noqa: E402

from w2v.errors import W2VError  # noqa: E402
from w2v.studio import corpora, corpus_stats  # noqa: E402


def _app_navigation_decides() -> None:
    """Streamlit takes the pages/ folder next to app.py for an automatic multipage app (its own
    page list: app, compare, corpus, …; app.py's wide layout never set) until a script run calls
    st.navigation, so a deep link such as /train as the server's first visit ran the page alone,
    for that whole session. Every page imports this module first: such a run ends here and runs
    again through app.py, whose st.navigation then decides for every session. (Streamlit keeps
    the switch in PagesManager.uses_pages_directory, 1.61 to 1.67 at least; tests/e2e/
    test_navigation.py notices a change.)"""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_app_navigation_decides()


def corpus_picker(help: str) -> Path:
    """The Corpus select box: the bundled sample, then the uploads. The choice is shared by the
    Corpus and Train pages (session state 'corpus_path')."""
    options, index = corpora.choice(st.session_state.get("corpus_path"))
    chosen = st.selectbox("Corpus", options, index=index, format_func=lambda p: Path(p).name, help=help)
    st.session_state["corpus_path"] = chosen
    return Path(chosen)


def text_field(path: Path) -> str:
    """The text field picked for a table corpus on the Corpus page ('' when none was)."""
    return st.session_state.get("text_fields", {}).get(str(path), "")


def read_corpus(path: Path, keep_punct: bool = False, field: str | None = None) -> corpus_stats.CorpusSummary | None:
    """The corpus's summary (one streamed pass, remembered per file for every session) under a
    progress bar, a table's text read from `field` (default: the one picked on the Corpus page);
    a corpus that cannot be read is an error box and None."""
    bar = st.empty()
    guess = corpus_stats.estimated_tokens(path)
    try:
        return corpus_stats.summarize_cached(path, keep_punct, progress=lambda n: bar.progress(
            min(n / guess, 0.99), text=f"Reading {path.name}: {n:,} tokens so far…"),
            text_field=text_field(path) if field is None else field)
    except W2VError as e:
        st.error(str(e))
        return None
    finally:
        bar.empty()


# ---------------------------------------------------------------- explore pages
import streamlit as st  # noqa: E402

from w2v.errors import W2VError  # noqa: E402
from w2v.studio import sources as vector_sources  # noqa: E402
from w2v.studio import urlstate  # noqa: E402
from w2v.studio import words as explore_words  # noqa: E402
from w2v.vectors import TABLES  # noqa: E402

NO_VECTORS = "No vectors yet: train a run on the Train page{train}, or upload a word2vec file {upload}."
CHECKPOINT_HELP = "The vectors at the start of an epoch (epoch 0 = random initialisation)."
WORDS_HELP = ("Vectors files list their words most frequent first: the first ones load in seconds even "
              "from a file of millions. Raise the number to load more (each word takes memory).")
SOURCE_HELP = "A trained run or an uploaded word2vec file (in a page's address: run=NAME or vectors=FILE)."
TABLE_HELP = "Input vectors (word2vec's usual output), output (context) vectors, or their average."


@st.cache_resource(max_entries=6, show_spinner="Loading vectors…")
def load_vectors(choice: vector_sources.Choice):
    """The vectors of `choice` (a sources.Choice, whose stamp makes rewritten files load again),
    kept for the pages' next runs."""
    return vector_sources.load_vectors(*choice)


def or_stop(compute, *args, **kwargs):
    """compute(*args, **kwargs), or the page stops with its W2VError shown."""
    try:
        return compute(*args, **kwargs)
    except W2VError as e:
        st.error(str(e))
        st.stop()


def taking_turns(compute, *args):
    """or_stop(compute, *args), where `compute` is a cached page function whose heavy work takes
    the server's one turn without waiting (raising words.Busy while another tab holds it): then
    the page says that it is queued, waits for the turn, and computes holding it."""
    try:
        return or_stop(compute, *args)
    except explore_words.Busy:
        pass
    note, waited = st.empty(), [0.0]

    def waiting(seconds: float) -> None:  # each call also lets Streamlit stop a page left meanwhile
        waited[0] = seconds
        note.info(f"{explore_words.QUEUED} (waited {seconds:.0f} s)…", icon="⏳")
    with explore_words.heavy_turn(waiting=waiting):
        result = or_stop(compute, *args)
    note.caption(f"Waited {waited[0]:.0f} s for another map or comparison to finish.")
    return result


def sources_or_stop(upload: str = "on the Neighbours page", train: str = "") -> list:
    """The vector sources; without any, the page says how to get some and stops."""
    found = vector_sources.sources()
    if not found:
        st.info(NO_VECTORS.format(train=train, upload=upload))
        st.stop()
    return found


def pick_vectors(found: list, keys: tuple, side: str = "", columns=None, before_last: bool = False):
    """The source, checkpoint and table pickers -> (source, sources.Choice). `keys` are the three
    widgets' keys (checkpoint None: no checkpoint picker, the final vectors); `columns` where each
    goes; `before_last` starts the checkpoint one epoch before the end."""
    where = columns or (st, st, st)
    name = f" {side}" if side else ""
    src = where[0].selectbox(f"Vectors{name}", found, format_func=lambda s: s.label, key=keys[0], help=SOURCE_HELP)
    ckpt, limit = vector_sources.FINAL, None
    if not src.is_run:  # a file has no checkpoints: in their place, how many of its words to load
        limit = word_limit(src, where[1], f"{keys[0]}_words", name)
    elif keys[1]:
        ckpt = where[1].selectbox(f"Checkpoint{name}", src.checkpoint_labels(), key=keys[1],
                                  index=vector_sources.default_checkpoint(src, before_last),
                                  help=CHECKPOINT_HELP)
    table = where[2].radio(f"Table{name}", TABLES, horizontal=True, key=keys[2], disabled=not src.is_run,
                           help=TABLE_HELP)
    return src, vector_sources.choose(src, table, ckpt, limit)


def word_limit(src, where, key: str, name: str = "") -> int:
    """How many words of the vectors file `src` to load, its most frequent first: a number that
    starts at sources.DEFAULT_WORDS (or all of a smaller file), with what that covers below."""
    info, default = or_stop(vector_sources.file_limit, src.path)
    limit = where.number_input(f"Words to load{name}", 1, info.words if info.header else None, default,
                               step=vector_sources.DEFAULT_WORDS, key=f"{key}:{src.path}", help=WORDS_HELP)
    where.caption(vector_sources.limit_text(info, int(limit)))
    return int(limit)


def view_from_url(page: str, found: list, source_key: str, fields) -> None:
    """Before a page's widgets: when the address carries a view this session has not shown (a
    shared link, an edited address), set the source picker `source_key` and the `fields`' widgets
    from it, saying in one line each what it could not use; then the fields' defaults."""
    query = st.query_params.to_dict()
    if query and query != st.session_state.get(f"url_{page}"):
        st.session_state[f"url_{page}"] = query  # applied once, even if the page stops on it
        src, problem = urlstate.source_of(found, query)
        values, problems = urlstate.read(query, fields)
        if src is not None:
            st.session_state[source_key] = src
        st.session_state.update(values)
        for line in filter(None, [problem, *problems]):
            st.warning(line, icon=":material/link_off:")
    for key, value in urlstate.defaults(fields).items():
        st.session_state.setdefault(key, value)


def view_to_url(page: str, view: dict, fields, src) -> None:
    """After a page's widgets: the address shows the view (`view`: the fields' values in use) and
    the source `src`, so that copying it shares what is on the screen."""
    query = urlstate.write(view, fields, src)
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)
    st.session_state[f"url_{page}"] = query
