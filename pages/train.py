"""Train: settings, a pre-flight estimate, launch, the live view of a job, stop/resume/continue, the runs list.

The job is its own process (`python -m w2v train ... --out runs/<name>`); this page only reads the
run directory, so a reload, a second tab or a restarted server finds the job where it is.
"""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from w2v.errors import W2VError
from w2v.runs import FINISHED, Run
from w2v.studio import corpus_stats, estimate, feed, form, jobs, paths, runlist

COLUMNS = 3  # settings per row in each group


def field_widget(f: form.Field):
    """One setting as a widget: its label and flag above it, its one-line help below, bounds and
    choices from the schema. The widget's own label is the setting's name, read by assistive tools."""
    st.markdown(f.title)
    common = dict(key=f.key, label_visibility="collapsed")
    if f.widget == "select":
        value = st.selectbox(f.name, f.choices, index=f.index, **common)
    elif f.widget == "check":
        value = st.checkbox(f.name, value=f.default, **common)
    elif f.widget in ("int", "float"):
        value = st.number_input(f.name, min_value=f.low, max_value=f.high, value=f.default, step=f.step,
                                format="%g" if f.widget == "float" else None, **common)
    else:
        value = st.text_input(f.name, value=f.default, placeholder=form.WORDS_PLACEHOLDER, **common)
    st.caption(f.help)
    return value


def settings_form(preset: str) -> tuple[dict, dict]:
    """Every setting, group by group as the schema groups them: (values by name, each group's
    space for what its settings cost)."""
    values, costs = {}, {}
    for group in form.groups(preset, st.session_state.get(form.key(preset, "mode"))):
        with st.expander(group.title, expanded=True):
            st.caption(group.blurb)
            for first in range(0, len(group.fields), COLUMNS):  # rows of COLUMNS settings
                for column, f in zip(st.columns(COLUMNS), group.fields[first:first + COLUMNS]):
                    with column:
                        values[f.name] = field_widget(f)
            costs[group.name] = st.container()
    return values, costs


def show_costs(spaces: dict, values: dict, preset: str, corpus) -> None:
    """The estimate's figures beside the settings that drive them, from the corpus's counts once it
    has been read (the Corpus page or Estimate reads it) and the last calibration's speed."""
    try:
        cfg = form.make_config(values, preset)
    except W2VError:
        return  # Start and Estimate say what is wrong
    if (summary := corpus_stats.cached(corpus, cfg.keep_punct, cfg.text_field)) is None:
        st.caption("What these settings cost (vocabulary, memory, pairs, time) shows in each group once "
                   "the corpus has been read: press Estimate, or open it on the Corpus page.")
        return
    for group, figures in estimate.costs(summary, cfg, corpus, st.session_state.get("estimate")).items():
        for column, (label, value, help_) in zip(spaces[group].columns(4), figures):
            column.metric(label, value, help=help_)


st.title("Train")
job = jobs.active_job()

# ---- corpus and settings
corpus = ui.corpus_picker(help="upload more on the Corpus page")
preset = st.radio("Preset", list(form.PRESETS), horizontal=True, key="preset", format_func=form.PRESETS.get)
run_name = st.text_input("Run name", key="run_name", placeholder="automatic: <corpus>-<date>-<time>")
values, cost_spaces = settings_form(preset)
init_from = st.selectbox("Start from the vectors of", [None, *runlist.init_sources()], key="init_from",
                         format_func=lambda name: "none: random vectors" if name is None else name,
                         help="a finished run with final vectors")
st.caption("A new run starts from that run's vectors for the words both share; the dimension must match.")
b1, b2 = st.columns([1, 5])
want_estimate = b1.button("Estimate", help="count the corpus's words and time one epoch on a prefix of it")
want_start = b2.button("Start training", type="primary")

if want_estimate or want_start:
    try:
        cfg = form.make_config(values, preset)
    except W2VError as e:
        st.error(str(e))
        cfg = None
    if cfg and want_estimate and (summary := ui.read_corpus(corpus, cfg.keep_punct)):
        try:
            with st.spinner("Calibrating: one epoch on a prefix of the corpus, in a process of its own…"):
                st.session_state["estimate"] = estimate.estimate(corpus, cfg, summary, calibrate=job is None)
        except W2VError as e:
            st.error(str(e))
    if cfg and want_start:
        try:
            st.session_state["watch"] = jobs.start(corpus, cfg, run_name.strip() or None, init_from)
            st.rerun()
        except W2VError as e:
            st.error(str(e))

show_costs(cost_spaces, values, preset, corpus)
if (est := st.session_state.get("estimate")) and est["note"]:
    (st.info if est["note"] == estimate.BUSY else st.warning)(f"No time estimate: {est['note']}")


# ---- the live view of one run
def loss_chart(curve: dict, diverged: dict | None = None) -> go.Figure:
    """The smoothed loss terms and the learning rate; a diverged run's chart marks where its loss
    stopped being a number (even when that was before its first point)."""
    fig = go.Figure([go.Scatter(x=curve["words_done"], y=curve[col], name=label, mode="lines")
                     for col, label in (("loss", "loss (total)"), ("loss_pos", "positive term"),
                                        ("loss_neg", "negative term"))])
    if diverged and isinstance(diverged.get("words_done"), (int, float)):
        fig.add_vline(x=diverged["words_done"], line_dash="dash", line_color="crimson",
                      annotation_text="the loss became infinite or NaN", annotation_position="top left")
        fig.update_xaxes(range=[0, 1.02 * diverged["words_done"]])  # the whole run, up to where it ended
    fig.add_trace(go.Scatter(x=curve["words_done"], y=curve["lr"], name="learning rate", mode="lines",
                             yaxis="y2", line=dict(dash="dot", color="grey")))
    fig.update_layout(title="Loss per pair (smoothed) and learning rate", xaxis_title="words trained",
                      yaxis=dict(title="loss"), height=380, margin=dict(t=50, b=40),
                      yaxis2=dict(title="learning rate", overlaying="y", side="right", showgrid=False),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def neighbours(name: str, epochs: list[dict]) -> None:
    changes = feed.neighbour_changes(epochs)
    if not changes:
        return
    k = len(changes) - 1
    if len(changes) > 1:
        k = st.slider("Neighbours after epoch", 1, len(changes), len(changes), key=f"nbr-epoch-{name}") - 1
    st.markdown(f"**Probe words' nearest neighbours after epoch {changes[k]['epoch']}** "
                "(:orange[**new**] since the epoch before)")
    rows = [f"| **{probe}** | " + ", ".join(f":orange[**{w}**]" if new else w for w, _, new in nbrs) + " |"
            for probe, nbrs in changes[k]["words"].items()]
    st.markdown("| probe | neighbours |\n|---|---|\n" + "\n".join(rows))


def controls(v: runlist.RunView) -> None:
    """The progress bar, Stop while it trains, what happened to a run that ended unfinished, Resume;
    Continue training on a finished run."""
    if v.progress:
        st.progress(*v.progress)
    if v.stoppable and st.button("Stop", key=f"stop-{v.name}",
                                 help="save a checkpoint and end the job; Resume continues it"):
        try:
            if jobs.stop(v.name):
                st.info("Stopping: the trainer is writing a checkpoint…")
        except W2VError as e:
            st.error(str(e))
    if v.note:
        getattr(st, v.note[0])(v.note[1])
    if v.resumable and st.button("Resume", key=f"resume-{v.name}", type="primary"):
        try:
            jobs.resume(v.name)
            st.rerun()
        except W2VError as e:
            st.error(str(e))
    if v.state == FINISHED and not v.live:
        continue_control(v.name)


def continue_control(name: str) -> None:
    """A finished run trains on: how many more epochs, and the button."""
    more_col, button_col = st.columns([1, 3], vertical_alignment="bottom")
    more = more_col.number_input("More epochs", min_value=1, value=1, step=1, key=f"more-{name}",
                                 help="epochs to add; the learning rate falls from the run's starting rate "
                                      "to its final rate again over them")
    if button_col.button("Continue training", key=f"continue-{name}"):
        try:
            jobs.continue_run(name, int(more))
            st.rerun()
        except W2VError as e:
            st.error(str(e))


def live_view(name: str, active: bool) -> None:
    """Everything about run `name`; polls once a second (a fragment) while its job is active."""

    @st.fragment(run_every=1.0 if active else None)
    def panel():
        if st.session_state.get("feed_run") != name:
            st.session_state["feed_run"], st.session_state["feed"] = name, feed.new_feed()
        events = feed.read_feed(Run(paths.runs_dir() / name), st.session_state["feed"])  # new bytes only
        v = runlist.view(name)
        st.subheader(v.title)
        controls(v)
        if line := feed.engine_line(events):
            st.caption(line)
        curve = feed.loss_curve(events["steps"])
        if curve["words_done"] or events.get("diverged"):
            st.plotly_chart(loss_chart(curve, events.get("diverged")), key=f"loss-{name}")
        neighbours(name, events["epochs"])
        if scores := feed.score_table(events["epochs"]):
            st.markdown("**Benchmark scores per epoch**")
            st.dataframe(pd.DataFrame(scores), hide_index=True)
        if active and not v.live:
            st.rerun()  # the job ended: one full rerun stops the polling and refreshes the runs list

    panel()


names, watch = runlist.watchable(job, st.session_state.get("watch"))
st.session_state["watch"] = watch
if names:
    st.divider()
    watch = st.selectbox("Run", names, index=names.index(watch), help="the run to show below")
    st.session_state["watch"] = watch
    if job and job["run"] != watch:
        st.info(f"Run **{job['run']}** is training now.")
    live_view(watch, bool(job and job["run"] == watch))

# ---- every run
st.divider()
st.subheader("Runs")
rows = runlist.rows()
if not rows:
    st.caption(f"No runs yet in `{paths.runs_dir().name}/`.")
else:
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"progress": st.column_config.ProgressColumn(format="%.0f%%", min_value=0,
                                                                            max_value=100)})
    d1, d2 = st.columns([3, 1])
    target = d1.selectbox("Delete a run", [r["run"] for r in rows], key="delete_target")
    if d2.button("Delete…", key="delete"):
        st.session_state["confirm_delete"] = target
    if (pending := st.session_state.get("confirm_delete")) in {r["run"] for r in rows}:
        st.warning(f"Delete run **{pending}** and everything in it (vectors, checkpoints)? This cannot be undone.")
        y, n = st.columns([1, 5])
        if y.button(f"Yes, delete {pending}", key="delete_yes", type="primary"):
            st.session_state.pop("confirm_delete")
            try:
                jobs.delete_run(pending)
                st.rerun()
            except W2VError as e:
                st.error(str(e))
        if n.button("Cancel", key="delete_no"):
            st.session_state.pop("confirm_delete")
            st.rerun()
