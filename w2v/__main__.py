"""Command line: python -m w2v train | evaluate | neighbors | export.

Errors are one line on stderr that says what to do, with exit status 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import W2VError

_EPILOG = "Example: python -m w2v train data/text8-prefix.txt.gz --out runs/text8 --dim 100"


def _add_train(sub) -> None:
    from . import config
    from .config import DEFAULT_CORPUS
    p = sub.add_parser("train", help="train word vectors on a text file",
                       description="Train word2vec on CORPUS into the run directory RUN_DIR.",
                       epilog=_EPILOG)
    p.add_argument("corpus", nargs="?", default=None,
                   help=f"a .txt, .gz or .bz2 UTF-8 text file (default: the bundled sample, {DEFAULT_CORPUS.name})")
    p.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="run directory to create (refused if it exists, unless --resume)")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN_DIR from its last checkpoint (its saved settings are used); with a "
                        "larger --epochs, a finished run trains on to that many epochs, the learning rate "
                        "falling from --lr to --min-lr again over the added ones")
    p.add_argument("--init-from", metavar="RUN", default=None,
                   help="start a new run from the vectors of the finished run RUN (both tables; the rows "
                        "of the words both vocabularies hold, the rest initialised as usual)")
    config.add_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(a):
    """The TrainConfig that `train` flags describe (the seed recipe's defaults under --recipe seed)."""
    from .config import from_args
    return from_args(a)


def cmd_train(a) -> int:
    from .train import train
    cfg = config_from_args(a)
    if int(os.environ.get("RANK", "0")) > 0:
        a.quiet = True  # under torchrun, rank 0 reports for all
    stop = _stop_on_signals()
    on_event = (lambda ev: None) if a.quiet else _Progress()
    out = Path(a.out)
    existed = out.exists()
    fresh = not a.resume and (not existed or (out.is_dir() and not any(out.iterdir())))
    try:
        more = getattr(a, "epochs", None) if a.resume else None  # typed: a finished run continues to it
        status = train(a.corpus, a.out, cfg, resume=a.resume, epochs=more, init_from=a.init_from,
                       callback=on_event, stop=stop.is_set)
    except W2VError:
        if fresh and int(os.environ.get("RANK", "0")) == 0:  # refused before training (a bad corpus):
            # leave no failed run behind (under torchrun, rank 0 owns the run directory)
            _remove_new_run(out, keep_folder=existed)
        raise
    if status.get("state") == "stopped":
        print(f"stopped; checkpoint saved in {a.out}: continue with "
              f"python -m w2v train --out {a.out} --resume", file=sys.stderr)
        return 130
    if not a.quiet:
        print(f"finished in {status['seconds']:.1f} s; vectors in {a.out}", file=sys.stderr)
    return 0


def _stop_on_signals() -> threading.Event:
    """An event that Ctrl-C or SIGTERM sets (the trainer saves a checkpoint, then stops); a second
    Ctrl-C gives up at once."""
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint, then stopping "
              "(resume with --resume)", file=sys.stderr)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


class _Progress:
    """The trainer's events on stderr: the corpus read, the start, a progress bar, each epoch."""

    def __init__(self):
        self.bar = None

    def __call__(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "vocab":
            print(f"corpus: {ev['tokens']:,} tokens, {ev['types']:,} types; vocabulary "
                  f"{ev['vocab_size']:,} words ({ev['seconds']:.1f} s)", file=sys.stderr)
        elif kind == "start":
            self._start(ev)
        elif kind == "step" and self.bar is not None:
            self.bar.update(ev["words_done"] - self.bar.n)
            self.bar.set_postfix(epoch=ev["epoch"] + 1, loss=ev["loss"], lr=f"{ev['lr']:.4f}")
        elif kind == "epoch":
            msg = f"epoch {ev['epoch']} done"
            sc = ev.get("scores") or {}
            if "analogy_accuracy" in sc:
                msg += f": analogy {sc['analogy_accuracy']:.3f}"
            if "similarity_spearman" in sc:
                msg += f", WS353 {sc['similarity_spearman']:.3f}"
            (self.bar.write if self.bar else print)(msg, file=sys.stderr)
        elif kind in ("end", "stopped", "diverged") and self.bar is not None:
            self.bar.close()

    def _start(self, ev: dict) -> None:
        from tqdm import tqdm
        print(f"training on {ev['device']} with the {ev['engine']} engine, {ev['threads']} threads", file=sys.stderr)
        if "init_rows" in ev:
            print(f"initialised {ev['init_rows']:,} of {ev['vocab_size']:,} rows from run {ev['init_from']}",
                  file=sys.stderr)
        self.bar = tqdm(total=ev["words_total"], unit="w", unit_scale=True, file=sys.stderr,
                        dynamic_ncols=True, smoothing=0.1)


def _remove_new_run(out: Path, keep_folder: bool) -> None:
    """Undo what this command wrote into a new (or empty) run directory, unless training got
    as far as a checkpoint, or another process holds the run (a trainer that took the directory
    first: this one was refused)."""
    import shutil
    from .runs import Run
    run = Run(out)
    if not out.is_dir() or run.checkpoints() or run.in_vectors_path.exists():
        return
    try:
        with run.lock():
            shutil.rmtree(out, ignore_errors=True)
    except W2VError:
        return
    if keep_folder:
        out.mkdir(exist_ok=True)


def _load(path: str, table: str = "input", limit: int | None = None):
    from .vectors import WordVectors
    if limit is not None and limit < 1:
        raise W2VError("--limit must be at least 1 (or leave it out to read every word)")
    return WordVectors.load(path, table, limit)


def _add_common(p) -> None:
    p.add_argument("--table", default="input", choices=["input", "output", "average"],
                   help="which table of a run: input (default), output or their average")


def _add_limit(p) -> None:
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="read only the N most frequent words (the first N of a vectors file), as "
                        "gensim's limit: a GoogleNews-sized file in seconds (default: every word)")


def cmd_evaluate(a) -> int:
    from .evaluate import evaluate
    wv = _load(a.vectors, a.table, a.limit)
    res = evaluate(wv, a.analogies, a.similarity)
    if a.json:
        print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in res.items()}))
    else:
        if "analogy_accuracy" in res:
            print(f"analogy accuracy   {res['analogy_accuracy']:.4f}  "
                  f"({res['analogy_correct']}/{res['analogy_total']}, {res['analogy_skipped']} skipped)")
            for name, acc in res["analogy_sections"].items():
                print(f"  {name:<28} {'-' if acc is None else f'{acc:.4f}'}")
        if "similarity_spearman" in res:
            print(f"similarity Spearman {res['similarity_spearman']:.4f}  "
                  f"({res['similarity_pairs']}/{res['similarity_total']} pairs)")
    return 0


def cmd_neighbors(a) -> int:
    wv = _load(a.vectors, a.table, a.limit)
    word = wv.find(a.word)  # as typed, lower-cased, "new york" as new_york, or in another case
    if word is None:
        close = wv.closest_words(wv.phrase(a.word))
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise W2VError(f"{a.word!r} is not in the vocabulary of {len(wv):,} words.{hint}")
    if a.k < 1:
        raise W2VError("-k must be at least 1")
    res = wv.most_similar(word, topn=a.k)
    if a.json:
        print(json.dumps([[w, round(s, 6)] for w, s in res]))
    else:
        for w, s in res:
            print(f"{s:.4f}  {w}")
    return 0


def cmd_export(a) -> int:
    wv = _load(a.vectors, a.table)
    out = Path(a.out)
    if a.format == "projector":
        if out.exists() and (not out.is_dir() or any(out.iterdir())) and not a.force:
            raise W2VError(f"{out} exists and is not empty: choose another --out or pass --force")
        v, m = wv.save_projector(out)
        print(f"wrote {v} and {m}: load them at the Embedding Projector's 'Load' button", file=sys.stderr)
    else:
        if out.exists() and not a.force:
            raise W2VError(f"{out} already exists: choose another --out or pass --force")
        out.parent.mkdir(parents=True, exist_ok=True)
        wv.save_word2vec(out, binary=a.format == "word2vec-binary")
        print(f"wrote {len(wv):,} vectors to {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .evaluate import DEFAULT_ANALOGIES, DEFAULT_SIMILARITY
    parser = argparse.ArgumentParser(prog="python -m w2v", description="word2vec in PyTorch: train, "
                                     "evaluate, query and export word vectors.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    p = sub.add_parser("evaluate", help="score vectors on word analogies and WordSim-353")
    p.add_argument("vectors", metavar="RUN_DIR_OR_VECTORS_FILE")
    p.add_argument("--analogies", default=str(DEFAULT_ANALOGIES), help="analogy questions file")
    p.add_argument("--similarity", default=str(DEFAULT_SIMILARITY), help="word-pair similarity file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(p)
    _add_limit(p)
    p = sub.add_parser("neighbors", aliases=["neighbours"], help="nearest neighbours of a word")
    p.add_argument("vectors", metavar="RUN_DIR_OR_VECTORS_FILE")
    p.add_argument("word", help='a word, or a phrase typed as words ("new york" finds new_york)')
    p.add_argument("-k", type=int, default=10, help="how many neighbours (default 10)")
    p.add_argument("--json", action="store_true", help="print a JSON list of [word, score]")
    _add_common(p)
    _add_limit(p)
    p = sub.add_parser("export", help="write vectors for gensim, word2vec or the Embedding Projector")
    p.add_argument("vectors", metavar="RUN_DIR")
    p.add_argument("--format", required=True, choices=["word2vec", "word2vec-binary", "projector"])
    p.add_argument("--out", required=True, help="output file (a folder for projector)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    _add_common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "neighbors": cmd_neighbors,
               "neighbours": cmd_neighbors, "export": cmd_export}[a.command]
    try:
        return handler(a)
    except W2VError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory: use a smaller --dim or --max-vocab", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror or e} ({e.filename or ''}): check the path and free disk space",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
