"""The pre-flight estimate of a training run: vocabulary size, parameter memory, pairs per epoch
and, calibrated, the training time; and `costs`, the same figures placed beside the settings that
drive them, computed from a corpus summary already read and the last calibration (no training).

Calibration trains one epoch on a prefix of the corpus in a process of its own,
`python -m w2v train PREFIX --out TMP/run --epochs 1 --eval none --quiet ...` (the other flags from
`config.to_args`), under a time limit, and reads the words/s it reached from the temporary run's
status.json. The app's server never trains and never imports torch: a calibration that fails or
runs past its limit leaves the time out and says why in one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import config
from ..config import TrainConfig
from ..corpus import iter_token_blocks
from ..runs import Run, read_json
from . import corpus_stats, jobs, paths
from .runlist import duration

LIMIT_S = 60.0  # longest a calibration may take
PREFIX_TOKENS = 60_000
BUSY = "calibration skipped while a job is training"
_REFUSED = 2  # the CLI's exit status for a refused request (a one-line W2VError)
UNTIMED = "press Estimate to time these settings: one epoch on a prefix, in a process of its own"
SPEED_FREE = frozenset({"epochs", "lr", "min_lr", "seed", "eval", "probe_words"})  # leave words/s as it is
# The estimate's figures and the settings that drive them; the form shows each in the first one's group.
FIGURES = {"Vocabulary": ("min_count", "max_vocab", "keep_punct"),
           "Parameter memory": ("dim", "min_count", "max_vocab"),
           "Pairs per epoch": ("sample", "window", "min_count"),
           "Estimated training time": ("epochs", "dim", "window", "negative", "mode", "engine", "threads")}


def estimate(corpus: str | os.PathLike, cfg: TrainConfig, summary=None, calibrate: bool = True,
             prefix_tokens: int = PREFIX_TOKENS, limit_s: float = LIMIT_S) -> dict:
    """{'vocab_size', 'vocab_tokens', 'param_bytes' (2 x V x dim float32), 'pairs_per_epoch',
    'words_per_sec', 'seconds', 'note'}. With `calibrate`, words/s is measured by a one-epoch
    job on a prefix of the corpus and `seconds` follows from it; without (while a job trains,
    whose speed it would share), or when calibration fails, both stay None and 'note' says why."""
    out = sizes(summary or corpus_stats.summarize_cached(corpus, cfg.keep_punct, text_field=cfg.text_field), cfg)
    out["speed_key"] = speed_key(corpus, cfg)
    if not calibrate:
        out["note"] = BUSY
    elif out["vocab_size"] < 2:
        out["note"] = f"fewer than 2 words are seen {cfg.min_count} times: lower the minimum count"
    else:
        wps, out["note"] = words_per_sec(corpus, cfg, prefix_tokens, limit_s)
        timed(out, cfg, wps)
    return out


def sizes(summary: corpus_stats.CorpusSummary, cfg: TrainConfig) -> dict:
    """The estimate's figures that follow from the corpus's counts alone (no training, no reading):
    vocabulary, parameter memory, pairs per epoch; words/s, seconds and note left None."""
    vocab = corpus_stats.vocab_at(summary, cfg.min_count, cfg.max_vocab)
    kept = vocab.total * corpus_stats.kept_share(vocab, cfg.sample)
    return {"vocab_size": len(vocab), "vocab_tokens": vocab.total,
            "param_bytes": 2 * len(vocab) * cfg.dim * 4,
            "pairs_per_epoch": int(kept * (cfg.window + 1)),  # 2 * E[b], b uniform in 1..window
            "words_per_sec": None, "seconds": None, "note": None}


def timed(est: dict, cfg: TrainConfig, wps: float | None) -> dict:
    """`est` with the time `cfg`'s epochs take at `wps` words/s (left None without a speed)."""
    if wps:
        est["words_per_sec"], est["seconds"] = wps, est["vocab_tokens"] * cfg.epochs / wps
    return est


def speed_key(corpus: str | os.PathLike, cfg: TrainConfig) -> tuple:
    """What a measured words/s holds for: the corpus and every setting that changes the speed."""
    return (str(corpus), *((s.name, getattr(cfg, s.name)) for s in config.settings()
                           if s.name not in SPEED_FREE))


def costs(summary: corpus_stats.CorpusSummary, cfg: TrainConfig, corpus: str | os.PathLike,
          calibrated: dict | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """The estimate's figures for `cfg` as {schema group: [(label, value, help)]}, each in the group
    of the first setting that drives it, its help naming those settings' flags. The sizes come
    from `summary` at once; the time from `calibrated` (the last `estimate`) while no setting that
    changes the speed has changed since, else it says to press Estimate."""
    est = sizes(summary, cfg)
    same = calibrated and calibrated.get("speed_key") == speed_key(corpus, cfg)
    timed(est, cfg, calibrated["words_per_sec"] if same else None)
    if not est["seconds"]:  # why not: the calibration's own reason, or that there was none for these
        est["note"] = calibrated["note"] if same and calibrated["note"] else UNTIMED
    schema = {s.name: s for s in config.settings()}
    out: dict[str, list[tuple[str, str, str]]] = {}
    for label, value, help_ in metrics(est):
        drivers = FIGURES[label]
        why = "set by " + ", ".join(schema[d].flag for d in drivers if d in schema)
        shown = (label, value, f"{help_}; {why}" if help_ else why)
        out.setdefault(schema[drivers[0]].group, []).append(shown)
    return out


def words_per_sec(corpus: str | os.PathLike, cfg: TrainConfig, prefix_tokens: int = PREFIX_TOKENS,
                  limit_s: float = LIMIT_S) -> tuple[float | None, str | None]:
    """(words/s, None) measured by training one epoch of `cfg` on the first `prefix_tokens`
    tokens of `corpus` in a child process, or (None, why) when it failed or ran past `limit_s`.
    A prefix too small for the minimum count is tried again with every word kept."""
    deadline = time.monotonic() + limit_s
    small = dataclasses.replace(cfg, epochs=1, eval="none", probe_words=())
    with tempfile.TemporaryDirectory(prefix="w2v-calibrate-") as tmp:
        prefix = _write_prefix(corpus, cfg, Path(tmp, "prefix.txt"), prefix_tokens)
        for attempt, c in enumerate((small, dataclasses.replace(small, min_count=1, max_vocab=0))):
            run = Run(Path(tmp, f"run{attempt}"))
            rc, why = _train(prefix, run.path, c, deadline - time.monotonic())
            if rc is None:
                return None, f"calibration took longer than {limit_s:g} s"
            wps = float((read_json(run.status_path, {}) or {}).get("words_per_sec") or 0)
            if rc == 0 and wps > 0:
                return wps, None
            if rc != _REFUSED:
                break
    return None, f"calibration failed: {why or f'the trainer exited with status {rc}'}"


def _write_prefix(corpus, cfg: TrainConfig, path: Path, prefix_tokens: int) -> Path:
    """The first `prefix_tokens` tokens of `corpus` (a table's text field) as plain text, paragraphs kept."""
    text, n = [], 0
    for block in iter_token_blocks(corpus, cfg.keep_punct, text_field=cfg.text_field):
        text.append(" ".join(t if t else "\n\n" for t in block))
        n += len(block)
        if n >= prefix_tokens:
            break
    words = " ".join(text).split(" ")[:prefix_tokens]
    path.write_text(" ".join(words) + "\n", encoding="utf-8")
    return path


def _train(corpus: Path, out: Path, cfg: TrainConfig, seconds: float) -> tuple[int | None, str]:
    """Run the trainer on `corpus` into `out`; (exit status, its one-line error as the browser may
    show it, or ''), or (None, '') when it ran past `seconds` (then it and its children are killed)."""
    cmd = [sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(out), *config.to_args(cfg), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=paths.ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=max(seconds, 0.1))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, ""
    return proc.returncode, jobs.error_line(err.decode("utf-8", "replace")) or ""


def size(n: float) -> str:
    """'512 bytes', '3.8 KiB', '1.2 GiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024


def metrics(est: dict) -> list[tuple[str, str, str | None]]:
    """The estimate as (label, value, help) metrics for the page."""
    timed = f"{est['words_per_sec']:,.0f} words/s measured on a prefix" if est["words_per_sec"] else est["note"]
    return [("Vocabulary", f"{est['vocab_size']:,}", None),
            ("Parameter memory", size(est["param_bytes"]), "2 tables × V × dim × 4 bytes (float32)"),
            ("Pairs per epoch", f"{est['pairs_per_epoch']:,}", "after subsampling, (window + 1) per word"),
            ("Estimated training time", duration(est["seconds"]), timed)]
