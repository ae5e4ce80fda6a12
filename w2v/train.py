"""TrainConfig and train(): the one trainer behind the CLI, the app and the benchmark.

    cfg = TrainConfig(dim=100, epochs=5)
    result = train("data/text8-prefix.txt.gz", "runs/text8", cfg, callback=print)

Each epoch streams the encoded corpus in chunks. Per chunk: subsample (redrawn every epoch), draw
the reduced windows, and train on every (centre, context) pair, with the learning rate falling
linearly from `lr` to `min_lr` over the whole run. The engine that trains a chunk (the C++
kernel, batched torch SGD, or the lecture's autograd loop) is picked from the settings: see
w2v/engines.py. Under torchrun the ranks share the chunks and merge their updates: see
w2v/distributed.py; in one process that layer does nothing.

Events go to `callback(event)` and to metrics.jsonl; a checkpoint is written every epoch and when
`stop` is set (the CLI sets it on SIGINT/SIGTERM), and a long run keeps 12 of them, evenly spaced;
`resume=True` continues from the last good one. A NaN or infinite loss ends the run as 'diverged'
with a one-line error (Diverged); settings whose tables and buffers do not fit in the memory
available are refused before they are allocated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import kernel as _kernel
from .config import DEFAULT_CORPUS, TrainConfig
from .corpus import Vocab, count_chunks, ensure_free_space, read_chunk, scan_corpus
from .distributed import SYNCS_PER_CHUNK, Group, Replica, Round
from .engines import Chunk, Engine, Loss, make_engine
from .errors import W2VError
from .evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY, evaluate
from .phrases import FILE as PHRASES_FILE, PhraseSettings, write_tsv as write_phrases
from .runs import DIVERGED, FINISHED, RUNNING, DamagedCheckpoint, Run, atomic_save_npy, atomic_write_json, load_npy
from .vectors import WordVectors

CHUNK_TOKENS = 1 << 18  # corpus positions per chunk
STEP_EVENTS = 100  # a run writes at least this many step events (its chart's points)...
REPORT_WORDS = 256  # ...each covering at least this many words of the corpus
STATUS_SECONDS = 1.0  # a stretch inside a round writes status.json at most this often
EPOCH_EVAL_EVERY = 16  # --eval epoch scores every 16th analogy question (--eval final: all of them)


def default_probe_words(vocab: Vocab, seed: int = 1, n: int = 8) -> list[str]:
    """The lecture's validation words: n random words among the 100 most frequent and n among
    ranks 1000-1100 (scaled down for a small vocabulary)."""
    rng = np.random.default_rng(seed)
    V = len(vocab)
    top = rng.choice(min(100, V), size=min(n, min(100, V)), replace=False)
    lo, hi = (1000, 1100) if V >= 1100 else (V // 2, V)
    rare = rng.choice(np.arange(lo, hi), size=min(n, hi - lo), replace=False) if hi > lo else []
    idx = sorted(set(top.tolist()) | set(np.asarray(rare).tolist()))
    return [vocab.words[i] for i in idx]


def _chunk_seed(seed: int, epoch: int, chunk: int) -> int:
    h = hashlib.blake2b(f"{seed}/{epoch}/{chunk}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")




class Diverged(W2VError):
    """The loss (or the tables) became NaN or infinite: the learning rate is too high."""


def train(corpus: str | os.PathLike | None, out: str | os.PathLike, config: TrainConfig | None = None,
          *, resume: bool = False, epochs: int | None = None, init_from: str | os.PathLike | None = None,
          callback: Callable[[dict], None] | None = None,
          stop: Callable[[], bool] | None = None,
          analogies: str | os.PathLike | None = DEFAULT_ANALOGIES,
          similarity: str | os.PathLike | None = DEFAULT_SIMILARITY) -> dict:
    """Train word2vec on `corpus` into the run directory `out`; returns the final status.

    `stop()` is polled between chunks: when it returns True a checkpoint is written and the run
    ends as 'stopped' (resume it with resume=True). With resume=True, `epochs` larger than the
    run's continues a finished run to that many epochs, the learning rate falling from lr to
    min_lr again over the added ones. `init_from` (a new run) names a run whose final tables give
    the starting rows of the words both vocabularies hold. Raises W2VError on bad input, and Diverged
    (a W2VError; the run ends as 'diverged') when the loss becomes NaN or infinite. Rank 0 holds
    the run's lock (Run.lock) from the moment the run directory exists until it returns."""
    started = time.time()
    group = Group((config or TrainConfig()).resolved_device())
    run = Run(out) if group.is_main else _ReadOnlyRun(out)
    try:
        with contextlib.ExitStack() as held:
            prepared = group.on_main(lambda: _prepare(run, corpus, config, resume, started, held, epochs,
                                                      init_from))
            if group.is_main:
                cfg, corpus = prepared
            else:  # the other ranks take what rank 0 prepared
                saved = run.config()
                cfg, corpus = _placed(TrainConfig.from_dict(saved["train"]), config), saved["corpus"]
            run.write_status(state="starting", pid=os.getpid(), started=started, epochs=cfg.epochs, error=None,
                             ranks=group.world)
            return _train_closing(run, Path(corpus), cfg, resume, callback, stop or (lambda: False),
                                  analogies, similarity, started, group)
    finally:
        group.close()


def _train_closing(run: Run, *args) -> dict:
    """Train; whatever ends it, status.json says how (and the error, in one line)."""
    try:
        return _train(run, *args)
    except KeyboardInterrupt:
        run.write_status(state="interrupted", error="interrupted before a checkpoint was written")
        raise
    except Diverged as e:
        run.write_status(state=DIVERGED, phase=DIVERGED, error=str(e))
        raise
    except W2VError as e:
        run.write_status(state="failed", error=str(e))
        raise
    except Exception as e:
        run.write_status(state="failed", error=f"{e.__class__.__name__}: {e}")
        raise


def _prepare(run: Run, corpus, config: TrainConfig | None, resume: bool, started: float,
             held: contextlib.ExitStack, epochs: int | None = None, init_from=None):
    """Check the request, take the run's lock (held in `held`) and write config.json: the
    settings (saved ones on resume, with more epochs when a finished run is continued) and corpus."""
    if resume:
        if init_from:
            raise W2VError("--init-from starts a new run: drop --resume (a resumed run has its own tables)")
        return _prepare_resume(run, config, started, held, epochs)
    cfg = (config or TrainConfig()).validate()
    corpus = Path(corpus or DEFAULT_CORPUS)
    if not corpus.exists():
        raise W2VError(f"corpus {corpus} does not exist: give the path of a .txt, .gz or .bz2 file")
    if corpus.is_dir():
        raise W2VError(f"corpus {corpus} is a directory: give the path of a .txt, .gz or .bz2 file")
    source = _check_init_from(init_from, cfg) if init_from else None
    check_memory(cfg, _engine_name(cfg))  # the working buffers, before anything is written
    if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
        raise W2VError(f"{run.path} already exists: pass --resume to continue it, or choose another --out")
    run.path.mkdir(parents=True, exist_ok=True)
    held.enter_context(run.lock())
    if run.exists():  # another trainer took this directory since it was looked at
        raise W2VError(f"{run.path} already exists: pass --resume to continue it, or choose another --out")
    atomic_write_json(run.config_path, {"train": asdict(cfg), "corpus": str(Path(corpus).resolve()),
                                        "created": started, "format": 1,
                                        **({"init_from": source} if source else {})})
    return cfg, corpus


def _prepare_resume(run: Run, config: TrainConfig | None, started: float, held: contextlib.ExitStack,
                    epochs: int | None):
    if not run.exists():
        raise W2VError(f"{run.path} is not a run directory: nothing to resume (drop --resume to start it)")
    held.enter_context(run.lock())  # a second trainer, or a deletion under way, is refused here
    saved = run.config()
    cfg = _placed(TrainConfig.from_dict(saved["train"]), config).validate()
    state = run.status().get("state")
    if state == DIVERGED:
        raise W2VError(f"run {run.name} diverged (its loss became NaN or infinite) and would again: train a "
                       f"new run with a lower --lr than {cfg.lr:g}")
    if state == RUNNING:
        raise W2VError(f"run {run.name} is being trained by process {run.status().get('pid')}: stop it first")
    if epochs is not None and epochs != cfg.epochs:
        cfg = _continue(run, saved, cfg, state, epochs, started)
    elif state == FINISHED:
        raise W2VError(f"run {run.name} has already finished its {cfg.epochs} epochs: continue it with a larger "
                       f"--epochs, or train a new run with another --out")
    return cfg, saved["corpus"]


def _continue(run: Run, saved: dict, cfg: TrainConfig, state: str | None, epochs: int, started: float):
    """A finished run continued to `epochs` epochs: config.json records the new total and where
    the learning rate starts falling again (a 'continued' entry); returns the settings."""
    if epochs < cfg.epochs:
        raise W2VError(f"run {run.name} trains {cfg.epochs} epochs: give --epochs more than {cfg.epochs} to "
                       "continue it (or leave --epochs out to resume it)")
    if state != FINISHED:
        raise W2VError(f"run {run.name} has not finished its {cfg.epochs} epochs ({state or 'not started'}): "
                       "resume it without --epochs first, then continue it with a larger --epochs")
    cfg = cfg.with_values({"epochs": epochs})
    entry = {"from_epoch": TrainConfig.from_dict(saved["train"]).epochs, "epochs": epochs, "time": started}
    atomic_write_json(run.config_path, {**saved, "train": {**saved["train"], "epochs": epochs},
                                        "continued": [*saved.get("continued", []), entry]})
    return cfg


def _check_init_from(source, cfg: TrainConfig) -> str:
    """The resolved path of run `source` (--init-from) once it has final tables of --dim columns."""
    src = Run(source)
    if not src.exists():
        raise W2VError(f"--init-from {source}: no such run (no config.json there): give the directory of a "
                       "finished run")
    if not (src.in_vectors_path.exists() and src.out_vectors_path.exists() and src.vocab_path.exists()):
        raise W2VError(f"--init-from {source}: run {src.name} has no final vectors yet: finish it first "
                       "(resume it), or pick a finished run")
    try:
        shape = load_npy(src.in_vectors_path, mmap=True).shape
    except (OSError, ValueError) as e:
        raise W2VError(f"--init-from {source}: its vectors could not be read ({e}): pick another run") from None
    if len(shape) != 2 or shape[1] != cfg.dim:
        raise W2VError(f"--init-from {source}: its vectors have {shape[-1]} dimensions, this run --dim "
                       f"{cfg.dim}: give --dim {shape[-1]} or pick a run of dimension {cfg.dim}")
    return str(src.path.resolve())


def _placed(saved: TrainConfig, config: TrainConfig | None) -> TrainConfig:
    """The saved settings, run where `config` asks: where a job runs may change on resume, what
    it trains may not."""
    return saved if config is None else dataclasses.replace(saved, threads=config.threads, device=config.device)


class _ReadOnlyRun(Run):
    """The run directory as ranks other than 0 see it: they read it, only rank 0 writes."""

    def write_status(self, **fields):
        return fields

    def append_metric(self, event):
        pass

    def save_checkpoint(self, epoch, chunk, in_vectors, out_vectors, state):
        return self.checkpoint_path(epoch, chunk)

    def remove_checkpoints(self, paths):
        pass

    def rewind_metrics(self, words_done):
        pass


# ---------------------------------------------------------------- the training loop

@dataclass
class Progress:
    """Where training stands (what a checkpoint records), and this session's pace."""

    epoch: int = 0
    chunk: int = 0  # the next chunk of the epoch to train
    words_done: int = 0
    pairs_done: int = 0
    corpus_tokens: int | None = None
    step: int = 0  # this session's step events
    session_words: int = 0
    train_seconds: float = 0.0

    def state(self) -> dict:
        return {"epoch": self.epoch, "chunk": self.chunk, "words_done": self.words_done,
                "pairs_done": self.pairs_done, "corpus_tokens": self.corpus_tokens}


@dataclass
class _Job:
    """What the steps of a training session share."""

    run: Run
    cfg: TrainConfig
    group: Group
    emit: Callable[[dict], None]
    vocab: Vocab
    engine: Engine
    replica: Replica
    checkpoints: "_Checkpoints"
    n_chunks: int
    probes: list[str]
    keep_prob: np.ndarray
    lr_from: int = 0  # the epoch the learning rate last started falling from lr (a continued run's last start)
    reports: int = 1  # step events a round
    init_rows: int | None = None  # rows taken from another run's tables (--init-from)
    status_at: float = 0.0  # when a step last wrote status.json
    scores: dict = dataclasses.field(default_factory=dict)

    @property
    def words_total(self) -> int:
        return self.vocab.total * self.cfg.epochs

    def lr_at(self, words_done: float) -> float:
        """The learning rate, falling linearly from lr to min_lr from epoch `lr_from` (0, or where
        a finished run was continued) to the end of the run."""
        begin = self.vocab.total * self.lr_from
        share = (words_done - begin) / max(self.words_total - begin, 1)
        return self.cfg.lr - (self.cfg.lr - self.cfg.min_lr) * min(max(share, 0.0), 1.0)


def _train(run: Run, corpus: Path, cfg: TrainConfig, resume: bool, callback, stop,
           analogies, similarity, started: float, group: Group) -> dict:
    emit = functools.partial(_emit, run, callback)
    # Where to train: 'auto' becomes a device here, in the trainer; under torchrun each rank
    # takes its own GPU and its share of the cores.
    cfg = dataclasses.replace(cfg, device=group.device(cfg.resolved_device()),
                              threads=cfg.threads or group.threads(cfg.resolved_threads()))
    # The vocabulary and the encoded corpus: the run's own on resume, else read from the corpus
    # (by rank 0; the other ranks wait for its files). Then whether the tables fit in memory.
    vocab, at = _saved_vocab(run) if resume else None, None
    if vocab is None:
        vocab, at = _read_corpus(run, corpus, cfg, emit, group)
    group.on_main(lambda: check_memory(cfg, _engine_name(cfg), len(vocab)))
    # Where training stands: the last good checkpoint on resume (the events after it dropped).
    tables = None
    if at is None:
        tables, at = _resume(run, vocab, cfg, emit)
    # The model's tables on the engine the settings pick, kept in step with the other ranks'.
    resumed, engine = tables is not None, make_engine(cfg, vocab, tables)
    del tables  # the engine holds them now
    job = _make_job(run, cfg, group, emit, vocab, engine, resumed)
    try:
        _announce(job, at, resumed=resumed)
        if not resumed:
            job.checkpoints.save(at)  # the initial tables: a run can resume from its very start
        while at.epoch < cfg.epochs:
            # One epoch: the chunks in order, a round at a time (one chunk a round in one process);
            # `stop` is honoured between rounds.
            for rnd in group.rounds(job.n_chunks, at.chunk):
                _train_round(job, rnd, at)
                if group.any(stop()):
                    return _stopped(job, at)
            _check_tables(job, at)
            at.epoch, at.chunk = at.epoch + 1, 0
            # The end of an epoch: the probe words' neighbours, the benchmarks, a checkpoint.
            if group.is_main:
                _end_epoch(job, at, analogies, similarity)
        # The end: the final tables, the 'end' event, the run finished.
        return _finish(job, at, started)
    finally:
        job.checkpoints.close()


def _make_job(run: Run, cfg: TrainConfig, group: Group, emit, vocab: Vocab, engine: Engine, resumed: bool) -> _Job:
    """What the session's steps share. A run that starts (not from a checkpoint) takes the rows of
    the words it shares with the run config.json names in 'init_from' (--init-from)."""
    saved = run.config()
    init_rows = None if resumed else _init_from(engine, vocab, saved.get("init_from"))
    job = _Job(run, cfg, group, emit, vocab, engine, Replica(group, [engine.in_w, engine.out_w]),
               _Checkpoints(run, engine, cfg.epochs), count_chunks(run.ids_path, CHUNK_TOKENS),
               list(cfg.probe_words) or default_probe_words(vocab, cfg.seed), vocab.keep_prob(cfg.sample),
               lr_from=lr_from_epoch(saved), init_rows=init_rows)
    rounds = math.ceil(job.n_chunks / group.world)
    job.reports = reports_per_round(rounds, cfg.epochs, vocab.total / max(rounds, 1))
    return job


def lr_from_epoch(saved: dict) -> int:
    """The epoch a run's learning rate last started falling from --lr: 0, or the epoch its last
    continuation began (config.json's 'continued' list)."""
    continued = saved.get("continued") or [{}]
    return int(continued[-1].get("from_epoch", 0))


def _init_from(engine: Engine, vocab: Vocab, source: str | None) -> int | None:
    """Copy into both of the engine's tables the rows of run `source`'s final tables for the
    words the two vocabularies share (the other rows keep their usual initialisation); returns
    how many rows were taken (None: no source)."""
    if not source:
        return None
    src = Run(source)
    try:
        index = Vocab.load(src.vocab_path).index
        tables = load_npy(src.in_vectors_path, mmap=True), load_npy(src.out_vectors_path, mmap=True)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise W2VError(f"the vectors of run {src.name} (--init-from) could not be read ({e}): "
                       "give --init-from a finished run") from None
    rows = [(i, index[w]) for i, w in enumerate(vocab.words) if w in index]
    if rows:
        mine, theirs = (np.array(side) for side in zip(*rows))
        engine.set_rows(mine, np.array(tables[0][theirs]), np.array(tables[1][theirs]))
    return len(rows)


def _saved_vocab(run: Run) -> Vocab | None:
    """The run's vocabulary, when its corpus was encoded in full (vocab.tsv is written last)."""
    if not (run.vocab_path.exists() and run.ids_path.exists()):
        return None
    try:
        return Vocab.load(run.vocab_path)
    except (ValueError, UnicodeDecodeError):
        raise W2VError(f"{run.vocab_path.name} of run {run.name} is damaged: train a new run") from None


def _resume(run: Run, vocab: Vocab, cfg: TrainConfig, emit) -> tuple[tuple | None, Progress]:
    """The tables and progress of the run's last good checkpoint (None and a fresh start when it
    has none). metrics.jsonl drops the events written after it; each damaged checkpoint met on
    the way is removed and reported (a line on stderr, a 'bad_checkpoint' event)."""
    tables, at, bad = None, Progress(), []
    for _, _, path in reversed(run.checkpoints()):
        try:
            in_w, out_w, state = Run.load_checkpoint(path, (len(vocab), cfg.dim))
        except DamagedCheckpoint as e:
            bad.append(e)
            continue
        tables = in_w, out_w
        at = Progress(state["epoch"], state["chunk"], state["words_done"], state.get("pairs_done", 0),
                      state.get("corpus_tokens"))
        break
    run.rewind_metrics(at.words_done)
    to = f"resuming from {run.checkpoint_path(at.epoch, at.chunk).name}" if tables else "starting over"
    for e in bad:
        if not isinstance(run, _ReadOnlyRun):
            print(f"warning: checkpoint {e.path.name} is damaged ({e.reason}): removed it, {to}", file=sys.stderr)
        emit({"event": "bad_checkpoint", "checkpoint": e.path.name, "error": e.reason, "then": to})
    run.remove_checkpoints([e.path for e in bad])
    return tables, at


def _read_corpus(run: Run, corpus: Path, cfg: TrainConfig, emit, group: Group) -> tuple[Vocab, Progress]:
    """Rank 0 reads the corpus once: the vocabulary and the encoded corpus, into the run."""
    def read():
        run.write_status(state="running", phase="reading corpus")
        t0 = time.time()
        vocab, stats = scan_corpus(corpus, run.ids_path, cfg.keep_punct, cfg.min_count,
                                   cfg.max_vocab or None, progress=lambda n: run.write_status(words_read=n),
                                   text_field=cfg.text_field, phrases=PhraseSettings.of(cfg))
        if cfg.phrases:
            write_phrases(run.path / PHRASES_FILE, stats.phrases)
        vocab.save(run.vocab_path)
        emit({"event": "vocab", "tokens": stats.tokens, "types": stats.types, "vocab_size": len(vocab),
              "phrases": len(stats.phrases),
              "vocab_tokens": vocab.total, "seconds": round(time.time() - t0, 3)})
        return vocab, stats.tokens
    read = group.on_main(read)  # the other ranks wait for its vocabulary and encoded corpus
    vocab, corpus_tokens = read if group.is_main else (Vocab.load(run.vocab_path), None)
    return vocab, Progress(corpus_tokens=corpus_tokens)


def _announce(job: _Job, at: Progress, resumed: bool) -> None:
    """The start event and the running status: engine, device, size of the task."""
    init = {} if job.init_rows is None else {"init_from": Path(job.run.config()["init_from"]).name,
                                              "init_rows": job.init_rows}
    job.emit({"event": "start", "engine": job.engine.name, "device": str(job.engine.device),
              "threads": job.engine.threads, "vocab_size": len(job.vocab), "words_total": job.words_total,
              "epoch": at.epoch, "chunk": at.chunk, "epochs": job.cfg.epochs, "lr_from_epoch": job.lr_from,
              "probe_words": job.probes, "resumed": resumed, **init})
    job.run.write_status(state="running", phase="training", pid=os.getpid(), engine=job.engine.name,
                         words_total=job.words_total, words_done=at.words_done, vocab_size=len(job.vocab),
                         epoch=at.epoch, progress=at.words_done / job.words_total)


def _read_chunk(job: _Job, epoch: int, index: int) -> tuple[Chunk, int]:
    """Chunk `index` of the encoded corpus as this epoch trains it, prepared by the engine
    (subsampled, with reduced windows: both redrawn every epoch), and its number of words before
    subsampling."""
    raw = read_chunk(job.run.ids_path, index, CHUNK_TOKENS)
    if len(raw) and raw.max() >= len(job.vocab):  # never an index past the tables
        raise W2VError(f"{job.run.ids_path.name} of run {job.run.name} holds word id {raw.max():,} but the "
                       f"vocabulary has {len(job.vocab):,} words: the run's files are damaged, train a new run")
    chunk = job.engine.prepare(raw, job.keep_prob, (job.cfg.seed, epoch, index))
    return chunk, int((raw >= 0).sum())


def reports_per_round(rounds: int, epochs: int, words_per_round: float) -> int:
    """How many step events each round writes: enough for STEP_EVENTS over a run of `rounds`
    rounds an epoch, each covering at least REPORT_WORDS words of the corpus. It depends on the
    corpus and the settings only, so every rank under torchrun takes the same decision."""
    want = math.ceil(STEP_EVENTS / max(1, rounds * epochs))
    return max(1, min(want, int(words_per_round // REPORT_WORDS)))


def _train_round(job: _Job, rnd: Round, at: Progress) -> None:
    """Train this rank's chunk of the round in `job.reports` stretches, each reported as a step
    (its words, pairs and loss summed over the ranks)."""
    t0 = time.time()
    chunk, words = _read_chunk(job, at.epoch, rnd.chunk) if rnd.chunk is not None else (None, 0)
    n = len(chunk) if chunk is not None else 0
    start = at.words_done + job.group.rank * words  # under torchrun: about where this chunk falls
    lr0, lr1 = job.lr_at(start), job.lr_at(start + words)
    seed = _chunk_seed(job.cfg.seed, at.epoch, rnd.chunk) if chunk is not None else 0
    reports = job.reports
    syncs = math.ceil(SYNCS_PER_CHUNK / reports)  # under torchrun: about as many merges a chunk as ever
    cut = np.linspace(0, n, reports + 1).astype(int)

    def stretch(r: int) -> Callable[[slice, int], Loss]:
        def step(part: slice, k: int) -> Loss:  # the learning rate falls across the chunk
            a, z = int(cut[r]) + part.start, int(cut[r]) + part.stop
            return job.engine.train(chunk[a:z], lr0 + (lr1 - lr0) * a / n, lr0 + (lr1 - lr0) * z / n,
                                    seed + r * syncs + k)
        return step

    for r in range(reports):
        loss = sum(job.replica.train(int(cut[r + 1] - cut[r]), stretch(r), syncs), Loss())
        share = words * (r + 1) // reports - words * r // reports  # the stretch's words before subsampling
        loss = _count_stretch(job, at, share, loss, rnd.end if r == reports - 1 else at.chunk, time.time() - t0)
        _report_step(job, at, rnd.end - 1, loss, last=r == reports - 1)
        t0 = time.time()


def _count_stretch(job: _Job, at: Progress, words: int, loss: Loss, chunk: int, seconds: float) -> Loss:
    """Count a trained stretch's words and pairs, summed over the ranks, and return its loss summed
    so; stop every rank alike when that is not a number."""
    words, pos, neg, tracked, pairs = job.group.sum([words, loss.pos, loss.neg, loss.tracked, loss.pairs])
    if not (math.isfinite(pos) and math.isfinite(neg)):  # every rank sees the same sums: all stop
        raise _diverged(job, at, int(words), "NaN" if math.isnan(pos + neg) else "infinite")
    at.words_done += int(words)
    at.pairs_done += int(pairs)
    at.chunk = chunk
    at.session_words += int(words)
    at.train_seconds += seconds
    at.step += 1
    return Loss(pos, neg, int(tracked), int(pairs))


def _report_step(job: _Job, at: Progress, chunk: int, loss: Loss, last: bool = True) -> None:
    """A step event; and status.json at the end of each round, or a second after it was last
    written (a small corpus's stretches add events, not a synced write each)."""
    wps = at.session_words / max(at.train_seconds, 1e-9)
    eta = (job.words_total - at.words_done) / max(wps, 1e-9)
    lp = loss.pos / loss.tracked if loss.tracked else float("nan")
    ln = loss.neg / loss.tracked if loss.tracked else float("nan")
    job.emit({"event": "step", "step": at.step, "epoch": at.epoch, "chunk": chunk,
              "chunks": job.n_chunks, "words_done": at.words_done, "words_total": job.words_total,
              "pairs": at.pairs_done, "lr": job.lr_at(at.words_done), "loss": _r(lp + ln),
              "loss_pos": _r(lp), "loss_neg": _r(ln), "words_per_sec": round(wps, 1), "eta_s": round(eta, 1)})
    if last or time.time() - job.status_at >= STATUS_SECONDS:
        job.status_at = time.time()
        job.run.write_status(words_done=at.words_done, progress=at.words_done / job.words_total, epoch=at.epoch,
                             words_per_sec=round(wps, 1), eta_s=round(eta, 1))


def _diverged(job: _Job, at: Progress, words: int, what: str) -> Diverged:
    """The run stops where the loss (or the tables) became `what`: a 'diverged' event and the
    one-line error, naming where and what rate to try."""
    done = at.words_done + words
    share = done / job.words_total
    lr, usual = job.cfg.lr, TrainConfig.preset(job.cfg.recipe).lr
    message = (f"the {'vectors' if what == 'non-finite' else 'loss'} became {what} at epoch {at.epoch + 1}, "
               f"{100 * share:.1f}% through the run ({done:,} words, --lr {lr:g}): the learning rate is too high, "
               f"train a new run with --lr {usual if lr > usual else lr / 10:g} or lower")
    job.emit({"event": "diverged", "epoch": at.epoch, "chunk": at.chunk, "words_done": done, "error": message})
    job.run.write_status(words_done=done, progress=share)
    return Diverged(message)


def _check_tables(job: _Job, at: Progress) -> None:
    """After each epoch, on every rank: both tables still finite (a NaN can appear after a chunk's
    last tracked pair), so no checkpoint or final vectors are written of a run that diverged."""
    if job.group.any(not job.engine.finite()):
        raise _diverged(job, at, 0, "non-finite")


def _stopped(job: _Job, at: Progress) -> dict:
    """Stop between rounds: a checkpoint to resume from, then the run is 'stopped'."""
    path = job.checkpoints.save(at, wait=True)
    job.emit({"event": "stopped", "epoch": at.epoch, "chunk": at.chunk, "words_done": at.words_done,
              "checkpoint": path.name})
    return job.run.write_status(state="stopped", phase="stopped", checkpoint=path.name)


def _end_epoch(job: _Job, at: Progress, analogies, similarity) -> None:
    """Rank 0, after each epoch: a checkpoint, the probe words' neighbours and the benchmarks (if
    asked for), from one copy of the tables."""
    tables = job.engine.tables()
    checkpoint = job.checkpoints.save(at, tables).name  # written while the neighbours are found
    wv = WordVectors(job.vocab.words, tables[0], job.vocab.counts)
    ev = {"event": "epoch", "epoch": at.epoch, "words_done": at.words_done,
          "neighbours": _neighbours(wv, job.probes)}
    if job.cfg.eval == "epoch" or (job.cfg.eval == "final" and at.epoch == job.cfg.epochs):
        job.scores = _scores(wv, analogies, similarity, EPOCH_EVAL_EVERY if job.cfg.eval == "epoch" else 1)
        ev["scores"] = job.scores
    ev["checkpoint"] = checkpoint
    job.emit(ev)
    job.run.write_status(epoch=at.epoch, scores=job.scores or None)


def _finish(job: _Job, at: Progress, started: float) -> dict:
    """Wait for the last checkpoint; rank 0 saves the final tables; the run is 'finished'."""
    job.checkpoints.wait()
    if job.group.is_main:
        i, o = job.engine.tables(copy=False)  # training is over: saved as they are
        ensure_free_space(job.run.path, i.nbytes + o.nbytes, "the final vectors")
        atomic_save_npy(job.run.in_vectors_path, i)
        atomic_save_npy(job.run.out_vectors_path, o)
    seconds = round(time.time() - started, 3)
    train_seconds = round(at.train_seconds, 3)
    job.emit({"event": "end", "words_done": at.words_done, "seconds": seconds,
              "train_seconds": train_seconds, "scores": job.scores})
    return job.run.write_status(state="finished", phase="finished", progress=1.0, words_done=at.words_done,
                                seconds=seconds, train_seconds=train_seconds, scores=job.scores or None,
                                eta_s=0)


KEEP_CHECKPOINTS = 12  # start-of-epoch checkpoints a run keeps at most


def kept_epochs(epochs: int, latest: int) -> set[int]:
    """The epochs whose start-of-epoch checkpoint a run of `epochs` epochs keeps once epoch `latest`
    has begun: every one in a short run; else those among KEEP_CHECKPOINTS evenly spaced epochs
    from 0 to the last that have begun, and the latest: never more than KEEP_CHECKPOINTS."""
    if epochs < KEEP_CHECKPOINTS:
        return set(range(latest + 1))
    spaced = {round(k * epochs / (KEEP_CHECKPOINTS - 1)) for k in range(KEEP_CHECKPOINTS)}
    return {e for e in spaced if e <= latest} | {latest}


class _Checkpoints:
    """Checkpoints written in the background while training goes on, one at a time: a failed
    write (disk full) fails the run at the next checkpoint or at the end. After each, the ones it
    supersedes go: mid-epoch ones, and start-of-epoch ones beyond `kept_epochs`."""

    def __init__(self, run: Run, engine: Engine, epochs: int):
        self.run, self.engine, self.epochs = run, engine, epochs
        self.writer = ThreadPoolExecutor(max_workers=1)
        self.pending: Future | None = None

    def save(self, at: Progress, tables: tuple[np.ndarray, np.ndarray] | None = None, wait: bool = False) -> Path:
        """Write a checkpoint of `tables` (copies of the engine's by default: training may change
        them while they are written). Only rank 0 writes: the other ranks just name it."""
        if isinstance(self.run, _ReadOnlyRun):
            return self.run.checkpoint_path(at.epoch, at.chunk)
        self.wait()
        i, o = tables or self.engine.tables()
        self.pending = self.writer.submit(self._write, at.epoch, at.chunk, i, o, at.state())
        if wait:
            self.wait()
        return self.run.checkpoint_path(at.epoch, at.chunk)

    def _write(self, epoch: int, chunk: int, i: np.ndarray, o: np.ndarray, state: dict) -> None:
        name = self.run.checkpoint_path(epoch, chunk).name
        ensure_free_space(self.run.path, i.nbytes + o.nbytes + (1 << 16), f"checkpoint {name}")
        try:
            self.run.save_checkpoint(epoch, chunk, i, o, state)
        except OSError as e:
            raise W2VError(f"checkpoint {name} could not be written ({e.strerror or e}): free some disk space, "
                           "then resume the run") from None
        keep = kept_epochs(self.epochs, epoch)
        self.run.remove_checkpoints([p for e, c, p in self.run.checkpoints()
                                     if (e, c) < (epoch, chunk) and (c or e not in keep)])

    def wait(self) -> None:
        """Until the last write is done; raises its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        self.writer.shutdown(wait=True)


# ---------------------------------------------------------------- memory

_CGROUPS = (  # (limit, usage, memory.stat key of reclaimable page cache): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "inactive_file"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
     "total_inactive_file"),
)


def available_memory() -> int | None:
    """Bytes this process may still allocate: the machine's MemAvailable (/proc/meminfo), or what
    the container's cgroup limit leaves where that is lower. None where neither can be read."""
    found = [m for m in (_meminfo("MemAvailable"), _cgroup_left()) if m is not None]
    return min(found) if found else None


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name == key:
                    return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_left() -> int | None:
    for limit_path, usage_path, cache_key in _CGROUPS:
        limit = _read_number(limit_path)
        if limit is None or limit >= 1 << 60:  # no such file, or "max": no limit
            continue
        stat = {}
        with contextlib.suppress(OSError, ValueError):
            stat = dict(line.split() for line in Path(limit_path).with_name("memory.stat").read_text().splitlines())
        used = (_read_number(usage_path) or 0) - int(stat.get(cache_key, 0))
        return max(0, limit - max(0, used))
    return None


def _read_number(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _engine_name(cfg: TrainConfig) -> str:
    """The engine make_engine will build for `cfg`, named before it is built."""
    if cfg.recipe == "seed":
        return "seed"
    on_cpu = not cfg.resolved_device().startswith("cuda")
    if on_cpu and cfg.engine != "torch" and _kernel.load(warn=cfg.engine == "auto") is not None:
        return "kernel"
    return "torch"


def _working_memory(cfg: TrainConfig, engine: str) -> tuple[int, str, str]:
    """Bytes training takes besides the tables (a chunk as read and drawn, and the engine's
    buffers), what they are, and the settings that shrink them."""
    d, K, w = cfg.dim, cfg.negative, cfg.window
    chunk = CHUNK_TOKENS * 32  # ids, paragraphs, windows and draws of one chunk
    if engine == "kernel":
        threads = min(cfg.resolved_threads(), max(1, CHUNK_TOKENS // 1000))  # the kernel's own cap
        per = 4 * ((2 * w + 1) * (d + 2 * K + 2) + 2 * d)  # a thread's window rows, scores and draws
        return chunk + threads * per, f"{threads} threads × {_size(per)}", "--threads, --window or --dim"
    batch = cfg.batch_size or (1 << 16 if cfg.resolved_device().startswith("cuda") else 1 << 12)
    pairs = CHUNK_TOKENS * (w + 1) * 8 * 6  # the chunk's (centre, context) positions, sorted
    rows = 2 * batch * (K + 2) * d * 4  # a batch's rows and their updates
    return chunk + pairs + rows, f"batches of {batch:,} pairs of {K + 2} rows", "--batch-size, --negative or --dim"


def check_memory(cfg: TrainConfig, engine: str, vocab_size: int = 0) -> None:
    """Refuse (W2VError) settings whose buffers, and with `vocab_size` words the two tables, a copy
    of them (checkpoints) and the probe words' normalised table, do not fit in available_memory()."""
    free = available_memory()
    if free is None:
        return
    work, what, knobs = _working_memory(cfg, engine)
    if work > free:
        raise W2VError(f"training needs about {_size(work)} of working memory ({what}) but {_size(free)} "
                       f"is available: lower {knobs}")
    table = vocab_size * cfg.dim * 4  # one table
    on_cpu = not cfg.resolved_device().startswith("cuda")
    need = work + table * (5 if on_cpu else 3)  # the two, a copy of both, one normalised (a GPU holds the two)
    if vocab_size and need > free:
        raise W2VError(f"{vocab_size:,} words × --dim {cfg.dim} need about {_size(need)} of memory (two tables "
                       f"of {_size(table)} each, their copies for checkpoints, {_size(work)} to train) but "
                       f"{_size(free)} is available: lower --dim or --max-vocab, or raise --min-count")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def _emit(run: Run, callback, event: dict) -> None:
    event = {"time": round(time.time(), 3), **event}
    run.append_metric(event)
    if callback:
        callback(event)


def _scores(wv: WordVectors, analogies, similarity, every: int = 1) -> dict:
    """The benchmarks on every `every`-th analogy question of each section (1: all of them)."""
    try:
        return evaluate(wv, analogies if analogies and Path(analogies).exists() else None,
                        similarity if similarity and Path(similarity).exists() else None, every=every)
    except W2VError as e:
        return {"error": str(e)}


def _neighbours(wv: WordVectors, words, k: int = 8) -> dict:
    """Each probe word's k nearest neighbours (most_similar's answer), all probes in one matrix
    product: the table is read once, not once a word."""
    words = [w for w in words if w in wv]
    if not words:
        return {}
    rows = [wv.index(w) for w in words]
    cosines = wv.cosine_to_all(wv.unit[rows])
    return {w: [[n, round(s, 4)] for n, s in wv._top(c, {i}, k)] for w, i, c in zip(words, rows, cosines)}


def _r(x: float) -> float | None:
    return None if x != x or math.isinf(x) else round(float(x), 5)
