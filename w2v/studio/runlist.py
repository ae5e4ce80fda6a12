"""The runs in the runs folder: the one runs table (Home and Train), which run the Train page
shows, and what that run's state means for the page (polling, progress, a note, resume)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..runs import ACTIVE, DIVERGED, FAILED, FINISHED, INTERRUPTED, RESUMABLE, STARTING, STATES, STOPPED, Run, \
    elsewhere, list_runs, read_json
from . import jobs, paths

STATE_ICONS = dict(zip(STATES, (":material/hourglass_top:", ":material/directions_run:", ":material/check_circle:",
                                ":material/pause_circle:", ":material/warning:", ":material/error:",
                                ":material/trending_up:")))
DIVERGED_NOTE = "The loss became infinite or NaN{where}: lower the learning rate (--lr) and train a new run."


def duration(seconds: float | None) -> str:
    """'1h 02m', '3m 05s', '42s', or '–' when unknown."""
    if seconds is None:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def rows(root: str | os.PathLike | None = None) -> list[dict]:
    """One row per run, newest first: name, state, progress, corpus, start time, the main
    settings, speed and final scores."""
    out = []
    for run in list_runs(root or paths.runs_dir()):
        cfg = read_json(run.config_path, {}) or {}
        train, st = cfg.get("train", {}), run.status()
        scores = st.get("scores") or {}
        out.append({
            "run": run.name,
            "state": st.get("state", "unknown"),
            "progress": round(100 * float(st.get("progress") or 0), 1),
            "corpus": Path(cfg.get("corpus") or "?").name,
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(cfg["created"])) if cfg.get("created") else None,
            **{k: train.get(k) for k in ("mode", "dim", "window", "epochs", "min_count", "lr")},
            "words/s": st.get("words_per_sec"),
            "analogy": scores.get("analogy_accuracy"),
            "WS353": scores.get("similarity_spearman"),
        })
    return out


def init_sources(root: str | os.PathLike | None = None) -> list[str]:
    """The runs a new run can start from (--init-from): finished, with final vectors; newest first."""
    return [run.name for run in list_runs(root or paths.runs_dir())
            if run.status().get("state") == FINISHED and run.in_vectors_path.exists()
            and run.out_vectors_path.exists() and run.vocab_path.exists()]


def watchable(job: dict | None, watch: str | None) -> tuple[list[str], str | None]:
    """The runs the Train page can show and the one to show: `watch` while it is listed, else the
    job training now, else the newest run. Listed too: the job's run before its directory is
    written, and a watched job refused before it wrote a run (its log says why)."""
    names = [r.name for r in list_runs(paths.runs_dir())]
    if job and job["run"] not in names:
        names.insert(0, job["run"])
    if watch and watch not in names and jobs.log_path(watch).exists():
        names.insert(0, watch)
    if watch not in names:
        watch = job["run"] if job else names[0] if names else None
    return names, watch


@dataclass(frozen=True)
class RunView:
    """What the Train page shows about one run."""

    name: str
    state: str  # one of runs.STATES
    status: dict
    live: bool  # a job trains it now: the page keeps polling
    progress: tuple[float, str] | None  # the progress bar (fraction, text), while training or finished
    note: tuple[str, str] | None  # ('info' | 'warning' | 'error', text) for a run that ended unfinished
    resumable: bool  # ended unfinished, with a checkpoint to continue from
    host: str | None = None  # the other machine that trains it (sharing the runs folder): not ours to stop

    @property
    def title(self) -> str:
        return f"{STATE_ICONS.get(self.state, '')} {self.name}: {self.state}"

    @property
    def stoppable(self) -> bool:
        return self.state in ACTIVE and not self.host


def view(name: str) -> RunView:
    """Run `name` as the page shows it now. A run without a status yet is starting while the job
    launched for it lives, and failed once it is gone (its log says why)."""
    run = Run(paths.runs_dir() / name)
    status = run.status()
    state = status.get("state")
    live = state in ACTIVE or (not status and (jobs.active_job() or {}).get("run") == name)
    state = state or (STARTING if live else FAILED)
    resumable = state in RESUMABLE and run.exists() and bool(run.checkpoints())
    host = elsewhere(status) if state in ACTIVE else None
    return RunView(name, state, status, live, _progress(state, status), _note(name, state, status), resumable,
                   host)


def _progress(state: str, st: dict) -> tuple[float, str] | None:
    if state == FINISHED:
        return 1.0, f"Finished in {duration(st.get('seconds'))} · {st.get('words_per_sec') or 0:,.0f} words/s"
    if state not in ACTIVE:
        return None
    if st.get("phase") == "reading corpus" or not st.get("words_total"):
        return 0.0, f"Reading the corpus… {st.get('words_read', 0):,} tokens"
    done = float(st.get("progress") or 0)
    epoch = min(st.get("epoch", 0) + 1, st.get("epochs") or 1)
    return min(done, 1.0), (f"{100 * done:.1f}% · epoch {epoch}/{st.get('epochs')} · "
                            f"{st.get('words_per_sec') or 0:,.0f} words/s · ETA {duration(st.get('eta_s'))}")


def _note(name: str, state: str, st: dict) -> tuple[str, str] | None:
    if state in ACTIVE and (host := elsewhere(st)):
        return "info", (f"Trained by process {st.get('pid')} on host {host}, which shares this runs folder: this "
                        "server cannot tell whether it still runs, nor stop it. Stop it there.")
    if state == STOPPED:
        return "info", f"Stopped at {100 * float(st.get('progress') or 0):.1f}% with a checkpoint saved."
    if state == INTERRUPTED:
        return "warning", ("The training process ended without finishing (killed, or the machine restarted). "
                           "Resume continues from its last checkpoint.")
    if state == FAILED:
        return "error", jobs.one_line(st.get("error")) or jobs.job_error(name)
    if state == DIVERGED:
        where = f" in epoch {st['epoch'] + 1}" if isinstance(st.get("epoch"), int) else ""
        return "error", jobs.one_line(st.get("error")) or DIVERGED_NOTE.format(where=where)
    return None
