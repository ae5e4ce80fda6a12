"""Following a run's metrics.jsonl: what the Train page keeps between polls and what it draws.

    feed = new_feed()
    read_feed(run, feed)                 # appends the events written since the last call
    loss_curve(feed["steps"])            # the loss terms and the rate, smoothed, whole run
    neighbour_changes(feed["epochs"])    # probe words' neighbours, new ones marked
    score_table(feed["epochs"])          # benchmark scores per evaluated epoch
"""

from __future__ import annotations

import numpy as np

from ..runs import Run

STEP_COLUMNS = ("words_done", "loss", "loss_pos", "loss_neg", "lr", "words_per_sec", "epoch")
_SMOOTHED = ("loss", "loss_pos", "loss_neg")
_SINGLE = ("vocab", "start", "end", "stopped", "diverged")  # events kept as the last one seen


def new_feed() -> dict:
    """The state a page keeps between polls of one run's metrics.jsonl."""
    return {"offset": 0, "file": None, "steps": [], "epochs": [], **{kind: None for kind in _SINGLE}}


def read_feed(run: Run, feed: dict) -> dict:
    """Append the events written since the last call to `feed` (one read of the new bytes).
    A step is kept as {column: value} for STEP_COLUMNS; an epoch as {'epoch', 'words_done',
    'neighbours', 'scores'}. A metrics file that was replaced (a resume rewinds it to its
    checkpoint) or is shorter than the offset (a new run of the same name): start over."""
    st = run.metrics_path.stat() if run.metrics_path.exists() else None
    identity = (st.st_dev, st.st_ino) if st else None
    if (st.st_size if st else 0) < feed["offset"] or identity != feed.get("file"):
        feed.update(new_feed())
    feed["file"] = identity
    events, feed["offset"] = run.metrics(feed["offset"])
    for ev in events:
        kind = ev.get("event")
        if kind == "step":
            feed["steps"].append({c: ev.get(c) for c in STEP_COLUMNS})
        elif kind == "epoch":
            feed["epochs"].append({"epoch": ev["epoch"], "words_done": ev.get("words_done"),
                                   "neighbours": ev.get("neighbours") or {}, "scores": ev.get("scores") or {}})
        elif kind in _SINGLE:
            feed[kind] = ev
    return feed


def engine_line(feed: dict) -> str | None:
    """What the job trains with, from its start event: engine, device, threads, vocabulary."""
    start = feed["start"]
    if not start:
        return None
    return (f"{start.get('engine')} engine on {start.get('device')}, {start.get('threads')} threads, "
            f"vocabulary {start.get('vocab_size', 0):,} words")


def loss_curve(steps: list[dict], max_points: int = 400, smooth: float = 0.9) -> dict[str, list]:
    """The loss terms smoothed (exponential moving average, `smooth` weight on the past) and,
    for a long run, averaged over equal buckets of steps down to `max_points`: the whole run
    stays on the chart, never a truncated tail. Returns {column: values} for STEP_COLUMNS. A value
    that is not a finite number (a diverged run's inf or NaN loss) counts as missing."""
    if not steps:
        return {c: [] for c in STEP_COLUMNS}
    a = np.array([[_number(s.get(c)) for c in STEP_COLUMNS] for s in steps], dtype=np.float64)
    a[~np.isfinite(a)] = np.nan
    for j in (STEP_COLUMNS.index(c) for c in _SMOOTHED):  # carrying over missing values
        acc = np.nan
        for i, v in enumerate(a[:, j]):
            if not np.isnan(v):
                acc = v if np.isnan(acc) else smooth * acc + (1 - smooth) * v
            a[i, j] = acc
    if len(a) > max_points:
        edges = np.linspace(0, len(a), max_points + 1).astype(int)
        words = a[edges[1:] - 1, 0]  # x = words done at the end of each bucket
        a = np.array([np.nanmean(a[s:e], axis=0) if e > s else a[s] for s, e in zip(edges[:-1], edges[1:])])
        a[:, 0] = words
    return {c: [None if np.isnan(v) else float(v) for v in a[:, j]] for j, c in enumerate(STEP_COLUMNS)}


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) else np.nan


def neighbour_changes(epochs: list[dict], k: int = 8) -> list[dict]:
    """Per epoch, each probe word's neighbours marked new where they were not among its
    neighbours one epoch earlier: [{'epoch', 'words': {probe: [(word, score, new)]}}]."""
    out, prev = [], {}
    for ep in epochs:
        words = {}
        for probe, nbrs in ep["neighbours"].items():
            before = {w for w, _ in prev.get(probe, [])}
            words[probe] = [(w, s, bool(prev) and w not in before) for w, s in nbrs[:k]]
        out.append({"epoch": ep["epoch"], "words": words})
        prev = ep["neighbours"]
    return out


def score_table(epochs: list[dict]) -> list[dict]:
    """Benchmark scores after each evaluated epoch."""
    keys = ("analogy_accuracy", "similarity_spearman")
    return [{"epoch": ep["epoch"], **{k: ep["scores"].get(k) for k in keys}}
            for ep in epochs if any(ep["scores"].get(k) is not None for k in keys)]
