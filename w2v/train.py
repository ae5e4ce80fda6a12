"""TrainConfig and train(): the one trainer behind the CLI, the app and the benchmark.

    cfg = TrainConfig(dim=100, epochs=5)
    result = train("data/text8-prefix.txt.gz", "runs/text8", cfg, callback=print)

Each epoch streams the encoded corpus in chunks. Per chunk: subsample (redrawn every epoch), draw
the reduced windows, and train on every (centre, context) pair, with the learning rate falling
linearly from `lr` to `min_lr` over the whole run. Three engines share that pipeline:

    kernel   CPU default: the C++ kernel (w2v/_kernel.cpp), Hogwild threads, one SGD step per window
    torch    any torch device (CUDA, or CPU without a compiler): batched hand-written SGD,
             model.sgns_pairs_step / cbow_window_step, index_add_ on touched rows only
    seed     the lecture's recipe: SkipGramNeg + NegativeSamplingLoss through autograd and Adam,
             uniform(-1, 1) init — the teaching baseline, slow by design

Events go to `callback(event)` and to metrics.jsonl; a checkpoint is written every epoch and when
`stop` is set (the CLI sets it on SIGINT/SIGTERM); `resume=True` continues from the last one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import kernel as _kernel
from .config import TrainConfig
from .corpus import (AliasSampler, Vocab, count_chunks, make_pair_positions, read_chunk,
                     reduced_windows, scan_corpus, subsample)
from .distributed import Group
from .errors import W2VError
from .evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY, evaluate
from .model import NegativeSamplingLoss, SkipGramNeg, cbow_window_step, sgns_pairs_step
from .runs import Run, atomic_save_npy, atomic_write_json
from .vectors import WordVectors

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "text8-prefix.txt.gz"
CHUNK_TOKENS = 1 << 18  # corpus positions per chunk: one progress event each
SYNCS_PER_CHUNK = 8  # under torchrun: ranks merge their updates 8 times a chunk
NOISE_POOL = {"pair": -1, "pool": 2, "window": 0}  # the kernel's noise_pool for each --noise


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


class _Engine:
    """Trains one chunk (kept ids, paragraph ids, reduced windows) and reports the loss terms."""

    def __init__(self, cfg: TrainConfig, vocab: Vocab, tables: tuple[np.ndarray, np.ndarray] | None):
        self.cfg = cfg
        self.device = torch.device(cfg.resolved_device())
        self.threads = cfg.resolved_threads()
        noise = vocab.noise_dist(cfg.ns_exponent)
        self.alias = AliasSampler(noise)
        self.model = SkipGramNeg(len(vocab), cfg.dim, noise,
                                 init="seed" if cfg.recipe == "seed" else "word2vec", seed=cfg.seed)
        if tables is not None:
            with torch.no_grad():
                self.model.in_embed.weight.copy_(torch.from_numpy(tables[0]))
                self.model.out_embed.weight.copy_(torch.from_numpy(tables[1]))
        self.model.to(self.device)
        self.lib = None
        if cfg.recipe == "seed":
            self.name = "seed"
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
            self.criterion = NegativeSamplingLoss()
        elif self.device.type == "cpu" and (lib := _kernel.load()) is not None:
            self.name, self.lib = "kernel", lib
        else:
            self.name = "torch"
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        self.batch_size = cfg.batch_size or (512 if cfg.recipe == "seed" else
                                             1 << 16 if self.device.type == "cuda" else 1 << 12)

    @property
    def in_w(self) -> torch.Tensor:
        return self.model.in_embed.weight.data

    @property
    def out_w(self) -> torch.Tensor:
        return self.model.out_embed.weight.data

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        return self.in_w.cpu().numpy().copy(), self.out_w.cpu().numpy().copy()

    def train_chunk(self, ids, para, b, lr0, lr1, rng, seed) -> tuple[float, float, int, int]:
        """Returns (positive loss sum, negative loss sum, pairs those sums cover, pairs trained)."""
        if self.name == "kernel":
            s = _kernel.train_chunk(self.lib, self.in_w, self.out_w, ids, para, b, self.alias.prob,
                                    self.alias.alias, self.cfg.negative, self.cfg.mode == "cbow",
                                    lr0, lr1, self.threads, seed,
                                    noise_pool=NOISE_POOL[self.cfg.noise])
            return s[0], s[1], int(s[2]), int(s[3])
        n = len(ids)
        centre_pos, ctx_pos = make_pair_positions(para, b)
        order = np.argsort(centre_pos, kind="stable")
        centre_pos, ctx_pos = centre_pos[order], ctx_pos[order]
        per_pair = self.cfg.noise != "window" and self.cfg.mode == "skipgram"  # pool: drawn per pair
        negs = self.alias.sample((len(centre_pos) if per_pair else n, self.cfg.negative), rng)
        dev = self.device
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev, torch.long)  # noqa: E731
        ids_t, negs_t = t(ids), t(negs)
        pos_sum = neg_sum = 0.0
        pairs = 0
        if self.cfg.mode == "cbow" and self.name == "torch":
            step = max(1, self.batch_size // (2 * self.cfg.window))
            bounds = np.searchsorted(centre_pos, np.arange(0, n + step, step))
            for k in range(len(bounds) - 1):
                p0, p1 = k * step, min(n, (k + 1) * step)
                if p0 >= n:
                    break
                sl = slice(bounds[k], bounds[k + 1])
                lr = lr0 + (lr1 - lr0) * (p0 / max(n, 1))
                pos, neg = cbow_window_step(self.in_w, self.out_w, ids_t[t(ctx_pos[sl])],
                                            t(centre_pos[sl] - p0), ids_t[p0:p1], negs_t[p0:p1], lr)
                pos_sum += float(pos.sum())
                neg_sum += float(neg.sum())
                pairs += p1 - p0
            return pos_sum, neg_sum, pairs, pairs
        cp, xp = t(centre_pos), t(ctx_pos)
        B = self.batch_size
        sums = torch.zeros(2, dtype=torch.float64, device=dev)  # summed on the device: no sync per step
        for s in range(0, len(cp), B):
            c, x = cp[s:s + B], xp[s:s + B]
            lr = lr0 + (lr1 - lr0) * (centre_pos[s] / max(n, 1))
            if self.name == "torch":
                noise = negs_t[s:s + B] if per_pair else negs_t[c]
                pos, neg = sgns_pairs_step(self.in_w, self.out_w, ids_t[x], ids_t[c], noise, lr)
            else:  # the lecture's loop: centre predicts context, autograd, Adam
                self.optimizer.zero_grad()
                loss = self.criterion(self.model.forward_input(ids_t[c]),
                                      self.model.forward_output(ids_t[x]),
                                      self.model.forward_noise(len(c), self.cfg.negative))
                loss.backward()
                self.optimizer.step()
                pos = self.criterion.positive * len(c)
                neg = self.criterion.negative * len(c)
            sums[0] += pos.sum()
            sums[1] += neg.sum()
            pairs += len(c)
        pos_sum, neg_sum = sums.tolist()
        return pos_sum, neg_sum, pairs, pairs


def _emit(run: Run, callback, event: dict) -> None:
    event = {"time": round(time.time(), 3), **event}
    run.append_metric(event)
    if callback:
        callback(event)


def _scores(wv: WordVectors, analogies, similarity) -> dict:
    try:
        return evaluate(wv, analogies if analogies and Path(analogies).exists() else None,
                        similarity if similarity and Path(similarity).exists() else None)
    except W2VError as e:
        return {"error": str(e)}


def _neighbours(wv: WordVectors, words, k: int = 8) -> dict:
    return {w: [[n, round(s, 4)] for n, s in wv.most_similar(w, topn=k)] for w in words if w in wv}


def train(corpus: str | os.PathLike | None, out: str | os.PathLike, config: TrainConfig | None = None,
          *, resume: bool = False, callback: Callable[[dict], None] | None = None,
          stop: Callable[[], bool] | None = None,
          analogies: str | os.PathLike | None = DEFAULT_ANALOGIES,
          similarity: str | os.PathLike | None = DEFAULT_SIMILARITY) -> dict:
    """Train word2vec on `corpus` into the run directory `out`; returns the final status.

    `stop()` is polled between chunks: when it returns True a checkpoint is written and the run
    ends as 'stopped' (resume it with resume=True). Raises W2VError on bad input."""
    started = time.time()
    group = Group((config or TrainConfig()).resolved_device())
    run = Run(out) if group.is_main else _ReadOnlyRun(out)
    try:
        prepared = group.on_main(lambda: _prepare(run, corpus, config, resume, started))
        if group.is_main:
            cfg, corpus = prepared
        else:  # the other ranks take what rank 0 prepared
            saved = run.config()
            cfg, corpus = _placed(TrainConfig.from_dict(saved["train"]), config), saved["corpus"]
        if group.active:
            cfg = dataclasses.replace(cfg, device=group.device(cfg.resolved_device()),
                                      threads=cfg.threads or max(1, cfg.resolved_threads() // group.local_world))
        run.write_status(state="starting", pid=os.getpid(), started=started, epochs=cfg.epochs, error=None,
                         ranks=group.world)
        try:
            return _train(run, Path(corpus), cfg, resume, callback, stop or (lambda: False),
                          analogies, similarity, started, group)
        except KeyboardInterrupt:
            run.write_status(state="interrupted", error="interrupted before a checkpoint was written")
            raise
        except W2VError as e:
            run.write_status(state="failed", error=str(e))
            raise
        except Exception as e:
            run.write_status(state="failed", error=f"{e.__class__.__name__}: {e}")
            raise
    finally:
        group.close()


def _prepare(run: Run, corpus, config: TrainConfig | None, resume: bool, started: float):
    """Check the request and write config.json: the settings (saved ones on resume) and corpus."""
    if resume:
        if not run.exists():
            raise W2VError(f"{run.path} is not a run directory: nothing to resume (drop --resume to start it)")
        saved = run.config()
        cfg = _placed(TrainConfig.from_dict(saved["train"]), config).validate()
        if run.status().get("state") == "finished":
            raise W2VError(f"run {run.name} has already finished: train a new run with another --out")
        if run.status().get("state") == "running":
            raise W2VError(f"run {run.name} is being trained by process {run.status().get('pid')}: stop it first")
        return cfg, saved["corpus"]
    cfg = (config or TrainConfig()).validate()
    corpus = Path(corpus or DEFAULT_CORPUS)
    if not corpus.exists():
        raise W2VError(f"corpus {corpus} does not exist: give the path of a .txt, .gz or .bz2 file")
    if corpus.is_dir():
        raise W2VError(f"corpus {corpus} is a directory: give the path of a .txt, .gz or .bz2 file")
    if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
        raise W2VError(f"{run.path} already exists: pass --resume to continue it, or choose another --out")
    run.path.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run.config_path, {"train": asdict(cfg), "corpus": str(Path(corpus).resolve()),
                                        "created": started, "format": 1})
    return cfg, corpus


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


def _train(run: Run, corpus: Path, cfg: TrainConfig, resume: bool, callback, stop,
           analogies, similarity, started: float, group: Group) -> dict:
    ckpts = run.checkpoints() if resume else []
    if ckpts and run.vocab_path.exists() and run.ids_path.exists():
        vocab = Vocab.load(run.vocab_path)
        in_w, out_w, state = Run.load_checkpoint(ckpts[-1][2])
        tables = (in_w, out_w)
        epoch, chunk0, words_done = state["epoch"], state["chunk"], state["words_done"]
        corpus_tokens = state.get("corpus_tokens")
    else:
        def read_corpus():
            run.write_status(state="running", phase="reading corpus")
            t0 = time.time()
            vocab, stats = scan_corpus(corpus, run.ids_path, cfg.keep_punct, cfg.min_count,
                                       cfg.max_vocab or None, progress=lambda n: run.write_status(words_read=n))
            vocab.save(run.vocab_path)
            _emit(run, callback, {"event": "vocab", "tokens": stats.tokens, "types": stats.types,
                                  "vocab_size": len(vocab), "vocab_tokens": vocab.total,
                                  "seconds": round(time.time() - t0, 3)})
            return vocab, stats.tokens
        read = group.on_main(read_corpus)  # the other ranks wait for its vocabulary and encoded corpus
        vocab, corpus_tokens = read if group.is_main else (Vocab.load(run.vocab_path), None)
        tables, epoch, chunk0, words_done = None, 0, 0, 0
    probes = list(cfg.probe_words) or default_probe_words(vocab, cfg.seed)
    engine = _Engine(cfg, vocab, tables)
    keep_prob = vocab.keep_prob(cfg.sample)
    n_chunks = count_chunks(run.ids_path, CHUNK_TOKENS)
    words_total = vocab.total * cfg.epochs
    lr_at = lambda done: cfg.lr - (cfg.lr - cfg.min_lr) * min(done / words_total, 1.0)  # noqa: E731
    _emit(run, callback, {"event": "start", "engine": engine.name, "device": str(engine.device),
                          "threads": engine.threads, "vocab_size": len(vocab), "words_total": words_total,
                          "epoch": epoch, "chunk": chunk0, "probe_words": probes, "resumed": bool(resume and tables)})
    run.write_status(state="running", phase="training", pid=os.getpid(), engine=engine.name,
                     words_total=words_total, words_done=words_done, vocab_size=len(vocab),
                     epoch=epoch, progress=words_done / words_total)

    pairs_done = state.get("pairs_done", 0) if tables is not None else 0

    writer = ThreadPoolExecutor(max_workers=1)  # checkpoints are written while training goes on
    pending: list[Future] = []

    def checkpoint(e: int, c: int, wait: bool = False) -> Path:
        i, o = engine.tables()  # copies: training may change the tables while they are written
        for f in pending:
            f.result()  # one write at a time; a failed write (disk full) fails the run here
        pending[:] = [writer.submit(run.save_checkpoint, e, c, i, o, {
            "epoch": e, "chunk": c, "words_done": words_done, "pairs_done": pairs_done,
            "corpus_tokens": corpus_tokens})]
        if wait:
            pending.pop().result()
        return run.checkpoint_path(e, c)

    if tables is None:
        checkpoint(0, 0)
    train_seconds, session_words, step = 0.0, 0, 0
    scores: dict = {}
    live = [engine.in_w, engine.out_w]
    snapshots = [t.clone() for t in live] if group.active else []
    W = group.world  # rank r trains chunks r, r + W, ...; a round is W chunks, then updates merge
    while epoch < cfg.epochs:
        for first in range(0, n_chunks, W):
            if first + W <= chunk0:
                continue
            t0 = time.time()
            chunk = first + group.rank
            pos = neg = tracked = n_pairs = n_words = 0
            parts = [slice(0, 0)] * SYNCS_PER_CHUNK
            if chunk0 <= chunk < n_chunks:
                raw = read_chunk(run.ids_path, chunk, CHUNK_TOKENS)
                rng = np.random.default_rng([cfg.seed, epoch, chunk])
                ids, para = subsample(raw, keep_prob, rng)
                b = reduced_windows(len(ids), cfg.window, rng)
                n_words = int((raw >= 0).sum())
                ahead = group.rank * n_words  # about where this chunk falls in the round
                lr0, lr1 = lr_at(words_done + ahead), lr_at(words_done + ahead + n_words)
                cut = np.linspace(0, len(ids), SYNCS_PER_CHUNK + 1).astype(int) if group.active else [0, len(ids)]
                parts = [slice(a, z) for a, z in zip(cut[:-1], cut[1:])]
            for k, part in enumerate(parts):  # ranks merge their updates after each part
                if part.stop > part.start:
                    f0, f1 = part.start / len(ids), part.stop / len(ids)
                    p_, n_, t_, c_ = engine.train_chunk(ids[part], para[part], b[part], lr0 + (lr1 - lr0) * f0,
                                                        lr0 + (lr1 - lr0) * f1, rng,
                                                        _chunk_seed(cfg.seed, epoch, chunk) + k)
                    pos, neg, tracked, n_pairs = pos + p_, neg + n_, tracked + t_, n_pairs + c_
                group.merge_updates(live, snapshots)
            n_words, pos, neg, tracked, n_pairs = group.sum([n_words, pos, neg, tracked, n_pairs])
            n_words, n_pairs = int(n_words), int(n_pairs)
            last = min(first + W, n_chunks)  # the next chunk to train
            words_done += n_words
            pairs_done += n_pairs
            session_words += n_words
            train_seconds += time.time() - t0
            step += 1
            wps = session_words / max(train_seconds, 1e-9)
            eta = (words_total - words_done) / max(wps, 1e-9)
            lp = pos / tracked if tracked else float("nan")
            ln = neg / tracked if tracked else float("nan")
            _emit(run, callback, {"event": "step", "step": step, "epoch": epoch, "chunk": last - 1,
                                  "chunks": n_chunks, "words_done": words_done, "words_total": words_total,
                                  "pairs": pairs_done, "lr": lr_at(words_done), "loss": _r(lp + ln),
                                  "loss_pos": _r(lp), "loss_neg": _r(ln),
                                  "words_per_sec": round(wps, 1), "eta_s": round(eta, 1)})
            run.write_status(words_done=words_done, progress=words_done / words_total, epoch=epoch,
                             words_per_sec=round(wps, 1), eta_s=round(eta, 1))
            if group.any(stop()):
                path = checkpoint(epoch, last, wait=True)
                _emit(run, callback, {"event": "stopped", "epoch": epoch, "chunk": last,
                                      "words_done": words_done, "checkpoint": path.name})
                return run.write_status(state="stopped", phase="stopped", checkpoint=path.name)
        epoch, chunk0 = epoch + 1, 0
        if not group.is_main:
            continue
        i, o = engine.tables()
        wv = WordVectors(vocab.words, i, vocab.counts)
        ev = {"event": "epoch", "epoch": epoch, "words_done": words_done,
              "neighbours": _neighbours(wv, probes)}
        if cfg.eval == "epoch" or (cfg.eval == "final" and epoch == cfg.epochs):
            scores = _scores(wv, analogies, similarity)
            ev["scores"] = scores
        ev["checkpoint"] = checkpoint(epoch, 0).name
        _emit(run, callback, ev)
        run.write_status(epoch=epoch, scores=scores or None)
    for f in pending:
        f.result()
    writer.shutdown()
    if group.is_main:
        i, o = engine.tables()
        atomic_save_npy(run.in_vectors_path, i)
        atomic_save_npy(run.out_vectors_path, o)
    seconds = time.time() - started
    _emit(run, callback, {"event": "end", "words_done": words_done, "seconds": round(seconds, 3),
                          "train_seconds": round(train_seconds, 3), "scores": scores})
    return run.write_status(state="finished", phase="finished", progress=1.0, words_done=words_done,
                            seconds=round(seconds, 3), train_seconds=round(train_seconds, 3),
                            scores=scores or None, eta_s=0)


def _r(x: float) -> float | None:
    return None if x != x or math.isinf(x) else round(float(x), 5)
