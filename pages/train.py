"""Train: settings, a pre-flight estimate, launch, the live view of a job, stop/resume, the runs list.

The job is its own process (`python -m w2v train ... --out runs/<name>`); this page only reads the
run directory, so a reload, a second tab or a restarted server finds the job where it is.
"""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from w2v import corpus_stats, jobs
from w2v.app_support import SAMPLE_CORPUS
from w2v.errors import W2VError
from w2v.runs import Run, list_runs
from w2v.train import TrainConfig

STATE_ICON = {"starting": ":material/hourglass_top:", "running": ":material/directions_run:",
              "finished": ":material/check_circle:", "stopped": ":material/pause_circle:",
              "interrupted": ":material/warning:", "failed": ":material/error:"}


def duration(s) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024


def field_widget(f: dict, default, key: str):
    """One TrainConfig field as a widget, by its type."""
    label, help_ = f["name"], f["help"]
    if f["choices"]:
        return st.selectbox(label, f["choices"], index=f["choices"].index(default), key=key, help=help_)
    if f["type"] == "bool":
        return st.checkbox(label, value=default, key=key, help=help_)
    if f["type"] == "int":
        return int(st.number_input(label, min_value=0, value=int(default), step=1, key=key, help=help_))
    if f["type"] == "float":
        return float(st.number_input(label, min_value=0.0, value=float(default), step=float(default or 1e-3) / 10,
                                     format="%g", key=key, help=help_))
    text = st.text_input(label, value=",".join(default), key=key, placeholder="word1,word2 (default: chosen for you)",
                         help=help_)
    return text


st.title("Train")
job = jobs.active_job()

# ---- corpus and settings
options = [str(p) for p in jobs.list_corpora()]
current = st.session_state.get("corpus_path")
current = current if current in options else str(SAMPLE_CORPUS)
corpus = st.selectbox("Corpus", options, index=options.index(current), format_func=lambda p: Path(p).name,
                      help="upload more on the Corpus page")
st.session_state["corpus_path"] = corpus
preset = st.radio("Preset", ["word2vec", "seed"], horizontal=True, key="preset",
                  format_func={"word2vec": "word2vec / gensim defaults",
                               "seed": "the lecture's seed recipe (dim 300, Adam, slow by design)"}.get)
base = TrainConfig.seed_recipe() if preset == "seed" else TrainConfig()

with st.form("config"):
    run_name = st.text_input("Run name", key="run_name", placeholder="automatic: <corpus>-<date>-<time>")
    cols = st.columns(4)
    values = {}
    for i, f in enumerate(jobs.config_fields()):
        with cols[i % 4]:
            values[f["name"]] = field_widget(f, getattr(base, f["name"]), f"cfg-{preset}-{f['name']}")
    b1, b2 = st.columns([1, 5])
    want_estimate = b1.form_submit_button("Estimate")
    want_start = b2.form_submit_button("Start training", type="primary")

if want_estimate or want_start:
    try:
        cfg = jobs.make_config(values, preset)
    except W2VError as e:
        st.error(str(e))
        cfg = None
    if cfg and want_estimate:
        bar = st.empty()
        try:
            guess = corpus_stats.estimated_tokens(corpus)
            summary = corpus_stats.summarize_cached(corpus, cfg.keep_punct, lambda n: bar.progress(
                min(n / guess, 0.99), text=f"Reading {Path(corpus).name}: {n:,} tokens…"))
            with st.spinner("Calibrating: one epoch on a prefix of the corpus…"):
                st.session_state["estimate"] = jobs.estimate(corpus, cfg, summary, calibrate=job is None)
        except W2VError as e:
            st.error(str(e))
        bar.empty()
    if cfg and want_start:
        try:
            name = jobs.start(corpus, cfg, run_name.strip() or None)
            st.session_state["watch"] = name
            st.rerun()
        except W2VError as e:
            st.error(str(e))

if est := st.session_state.get("estimate"):
    e = st.columns(4)
    e[0].metric("Vocabulary", f"{est['vocab_size']:,}")
    e[1].metric("Parameter memory", size(est["param_bytes"]), help="2 tables × V × dim × 4 bytes (float32)")
    e[2].metric("Pairs per epoch", f"{est['pairs_per_epoch']:,}", help="after subsampling, (window + 1) per word")
    e[3].metric("Estimated training time", duration(est["seconds"]),
                help=f"{est['words_per_sec']:,.0f} words/s measured on a prefix" if est["words_per_sec"]
                else "calibration skipped while a job is training")


# ---- the live view of one run
def live_view(name: str, active: bool) -> None:
    """Everything about run `name`; polls once a second (a fragment) while its job is active."""

    @st.fragment(run_every=1.0 if active else None)
    def panel():
        run = Run(jobs.runs_dir() / name)
        if st.session_state.get("feed_run") != name:
            st.session_state["feed_run"], st.session_state["feed"] = name, jobs.new_feed()
        feed = jobs.read_feed(run, st.session_state["feed"])  # only the bytes added since the last poll
        status = run.status()
        state = status.get("state")
        live = state in jobs.ACTIVE or (not status and jobs.active_job() is not None)
        state = state or ("starting" if live else "failed")
        st.subheader(f"{STATE_ICON.get(state, '')} {name}: {state}")

        if state in jobs.ACTIVE:
            if status.get("phase") == "reading corpus" or not status.get("words_total"):
                st.progress(0.0, text=f"Reading the corpus… {status.get('words_read', 0):,} tokens")
            else:
                st.progress(min(float(status.get("progress") or 0), 1.0),
                            text=f"{100 * float(status.get('progress') or 0):.1f}% · "
                                 f"epoch {min(status.get('epoch', 0) + 1, status.get('epochs') or 1)}"
                                 f"/{status.get('epochs')} · {status.get('words_per_sec') or 0:,.0f} words/s · "
                                 f"ETA {duration(status.get('eta_s'))}")
            if st.button("Stop", key=f"stop-{name}", help="save a checkpoint and end the job; Resume continues it"):
                if jobs.stop(name):
                    st.info("Stopping: the trainer is writing a checkpoint…")
        elif state == "finished":
            st.progress(1.0, text=f"Finished in {duration(status.get('seconds'))} · "
                                  f"{status.get('words_per_sec') or 0:,.0f} words/s")
        elif state in ("stopped", "interrupted", "failed"):
            if state == "stopped":
                st.info(f"Stopped at {100 * float(status.get('progress') or 0):.1f}% with a checkpoint saved.")
            elif state == "interrupted":
                st.warning("The training process ended without finishing (killed, or the machine restarted). "
                           "Resume continues from its last checkpoint.")
            else:
                st.error(status.get("error") or jobs.log_tail(name, 1) or "the job failed: see its log")
            if run.exists() and run.checkpoints() and st.button("Resume", key=f"resume-{name}", type="primary"):
                try:
                    jobs.resume(name)
                    st.rerun()
                except W2VError as e:
                    st.error(str(e))

        start = feed["start"] or {}
        if start:
            st.caption(f"{start.get('engine')} engine on {start.get('device')}, {start.get('threads')} threads, "
                       f"vocabulary {start.get('vocab_size', 0):,} words")
        curve = jobs.loss_curve(feed["steps"])
        if curve["words_done"]:
            fig = go.Figure([go.Scatter(x=curve["words_done"], y=curve[col], name=label, mode="lines")
                             for col, label in (("loss", "loss (total)"), ("loss_pos", "positive term"),
                                                ("loss_neg", "negative term"))])
            fig.add_trace(go.Scatter(x=curve["words_done"], y=curve["lr"], name="learning rate", mode="lines",
                                     yaxis="y2", line=dict(dash="dot", color="grey")))
            fig.update_layout(title="Loss per pair (smoothed) and learning rate", xaxis_title="words trained",
                              yaxis=dict(title="loss"), height=380, margin=dict(t=50, b=40),
                              yaxis2=dict(title="learning rate", overlaying="y", side="right", showgrid=False),
                              legend=dict(orientation="h", y=-0.2))
            st.plotly_chart(fig, key=f"loss-{name}")

        changes = jobs.neighbour_changes(feed["epochs"])
        if changes:
            k = len(changes) - 1
            if len(changes) > 1:
                k = st.slider("Neighbours after epoch", 1, len(changes), len(changes), key=f"nbr-epoch-{name}") - 1
            st.markdown(f"**Probe words' nearest neighbours after epoch {changes[k]['epoch']}** "
                        "(:orange[**new**] since the epoch before)")
            rows = [f"| **{probe}** | " + ", ".join(f":orange[**{w}**]" if new else w for w, _, new in nbrs) + " |"
                    for probe, nbrs in changes[k]["words"].items()]
            st.markdown("| probe | neighbours |\n|---|---|\n" + "\n".join(rows))
        scores = jobs.score_table(feed["epochs"])
        if scores:
            st.markdown("**Benchmark scores per epoch**")
            st.dataframe(pd.DataFrame(scores), hide_index=True)

        if active and not live:
            st.rerun()  # the job ended: one full rerun stops the polling and refreshes the runs list

    panel()


names = [r.name for r in list_runs(jobs.runs_dir())]
if job and job["run"] not in names:
    names.insert(0, job["run"])  # launched, its run directory not written yet
if (w := st.session_state.get("watch")) and w not in names and (jobs.runs_dir() / f"{w}.log").exists():
    names.insert(0, w)  # a job refused before it wrote a run: its log says why
if job and st.session_state.get("watch") not in names:
    st.session_state["watch"] = job["run"]
if names:
    st.divider()
    watch = st.session_state.get("watch")
    watch = watch if watch in names else (job["run"] if job else names[0])
    watch = st.selectbox("Run", names, index=names.index(watch), help="the run to show below")
    st.session_state["watch"] = watch
    if job and job["run"] != watch:
        st.info(f"Run **{job['run']}** is training now.")
    live_view(watch, bool(job and job["run"] == watch))

# ---- every run
st.divider()
st.subheader("Runs")
rows = jobs.runs_rows()
if not rows:
    st.caption(f"No runs yet in `{jobs.runs_dir().name}/`.")
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
