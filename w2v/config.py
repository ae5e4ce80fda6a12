"""TrainConfig: every setting of a training run, declared once.

Each field carries its help, label, group, choices and bounds in its metadata; the command line
(`add_arguments`, `from_args`), the job's flags (`to_args`), the Train form (`settings()`) and
validation (`TrainConfig.validate`) are all generated from them. Adding a setting is one edit:
a field here (and, if it changes training, the code that reads it).

This module imports neither torch nor streamlit: the app's server builds its form from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import W2VError

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "text8-prefix.txt.gz"
GROUPS = ("model", "sampling", "schedule", "engine", "evaluation")
PRESETS = ("word2vec", "seed")


def setting(default, help: str, *, label: str, group: str, choices: tuple | None = None,
            low: float | None = None, high: float | None = None, flag: str | None = None,
            metavar: str | None = None):
    """A TrainConfig field with its help, label, group, choices and bounds (inclusive)."""
    assert group in GROUPS, group
    return field(default=default, metadata=dict(help=help, label=label, group=group, choices=choices,
                                                low=low, high=high, flag=flag, metavar=metavar))


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. Defaults are word2vec.c's and gensim's."""

    dim: int = setting(100, "vector size: numbers per word (the lecture used 300)",
                       label="Vector size", group="model", low=1, high=10_000)
    mode: str = setting("skipgram", "skipgram: the centre word predicts each context word; cbow: the "
                        "average of the context predicts the centre word",
                        label="Architecture", group="model", choices=("skipgram", "cbow"))
    window: int = setting(5, "largest distance between a centre word and a context word; each centre "
                          "word draws its window from 1..N", label="Window", group="model", low=1, high=100)
    negative: int = setting(5, "noise words per positive pair", label="Negative samples", group="model",
                            low=1, high=100)
    min_count: int = setting(5, "words seen fewer times than this are dropped", label="Minimum count",
                             group="sampling", low=1, high=1_000_000_000)
    max_vocab: int = setting(0, "keep only the N most frequent words (0 = no limit)",
                             label="Vocabulary limit", group="sampling", low=0, high=100_000_000)
    sample: float = setting(1e-3, "subsampling threshold t: a word of frequency f is kept with probability "
                            "(sqrt(f/t) + 1)·t/f, redrawn every epoch (0 = keep every word)",
                            label="Subsampling threshold", group="sampling", low=0.0, high=1.0)
    ns_exponent: float = setting(0.75, "power of the unigram counts in the noise distribution "
                                 "(word2vec: 0.75; 0 = uniform)", label="Noise exponent", group="sampling",
                                 low=-2.0, high=2.0)
    noise: str = setting("pool", "how noise words are drawn: pool: each window draws 2K and every pair "
                         "picks K of them; pair: K fresh ones for every pair, as word2vec.c and gensim; "
                         "window: a window's pairs share K (fastest, lower analogy accuracy)",
                         label="Noise draws", group="sampling", choices=("pool", "pair", "window"))
    keep_punct: bool = setting(False, "keep punctuation marks as tokens, as the lecture did",
                               label="Keep punctuation", group="sampling")
    epochs: int = setting(5, "passes over the corpus", label="Epochs", group="schedule", low=1, high=10_000)
    lr: float = setting(0.025, "starting learning rate, falling linearly to the final rate "
                        "(seed recipe: 0.003, Adam)", label="Learning rate", group="schedule",
                        low=1e-9, high=100.0)
    min_lr: float = setting(1e-4, "final learning rate, reached at the end of the run (at most the "
                            "starting rate)", label="Final learning rate", group="schedule", low=0.0, high=100.0)
    seed: int = setting(1, "random seed: the same seed and settings train the same vectors",
                        label="Random seed", group="schedule", low=0, high=2**32 - 1)
    recipe: str = setting("word2vec", "word2vec: hand-written SGD as word2vec.c; seed: the lecture's recipe "
                          "(uniform(-1,1) init, autograd and Adam; skip-gram only, slow by design)",
                          label="Recipe", group="engine", choices=PRESETS)
    engine: str = setting("auto", "how to train: kernel: the C++ kernel (CPU; word2vec.c's Hogwild threads); "
                          "torch: batched SGD in PyTorch (any device; a GPU's engine); auto: the kernel on a "
                          "CPU where it builds, else torch", label="Engine", group="engine",
                          choices=("auto", "kernel", "torch"))
    device: str = setting("auto", "where to train: cpu, cuda (or cuda:N), or auto (a GPU when one is "
                          "visible)", label="Device", group="engine", choices=("auto", "cpu", "cuda"))
    threads: int = setting(0, "CPU threads (0 = all cores)", label="Threads", group="engine", low=0, high=512)
    batch_size: int = setting(0, "pairs per step on the PyTorch engines (0 = auto; the C++ kernel steps "
                              "per window)", label="Batch size", group="engine", low=0, high=1 << 22)
    eval: str = setting("epoch", "when to score analogies and WordSim-353: after every epoch (every 16th "
                        "analogy question, a quick look), after the last (every question), or never",
                        label="Benchmarks", group="evaluation",
                        choices=("epoch", "final", "none"))
    probe_words: tuple[str, ...] = setting((), "words whose neighbours are recorded each epoch, comma "
                                           "separated (default: 8 frequent and 8 rarer words)",
                                           label="Probe words", group="evaluation", flag="--probe",
                                           metavar="W1,W2,...", high=100)

    def validate(self) -> "TrainConfig":
        """This config, or a W2VError naming the first setting that is out of bounds."""
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))
        if self.min_lr > self.lr:
            raise W2VError(f"--min-lr must be between 0 and --lr, got {self.min_lr} (--lr {self.lr})")
        if self.engine == "kernel" and self.device.startswith("cuda"):
            raise W2VError("--engine kernel trains on the CPU: use --device cpu, or --engine torch for a GPU")
        if self.recipe == "seed" and self.engine != "auto":
            raise W2VError("--recipe seed has its own loop (autograd and Adam): drop --engine")
        if self.recipe == "seed" and self.mode != "skipgram":
            raise W2VError("--recipe seed trains skip-gram only (the lecture's model): drop --mode cbow "
                           "or use --recipe word2vec")
        return self

    @classmethod
    def preset(cls, name: str = "word2vec", **overrides) -> "TrainConfig":
        """'word2vec': the defaults; 'seed': the lecture notebook's settings (dim 300, Adam at 0.003,
        batches of 512, sample 1e-5, uniform(-1, 1) init)."""
        if name not in PRESETS:
            raise W2VError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        base = dict(dim=300, recipe="seed", lr=0.003, min_lr=0.003, batch_size=512, sample=1e-5) \
            if name == "seed" else {}
        return cls(**{**base, **overrides})

    @classmethod
    def seed_recipe(cls, **overrides) -> "TrainConfig":
        """The lecture notebook's settings (see `preset`)."""
        return cls.preset("seed", **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "probe_words" in d:
            d["probe_words"] = tuple(d["probe_words"])
        return cls(**d)

    def with_values(self, values: dict) -> "TrainConfig":
        """A validated copy with `values` (from a form or flags) applied. Giving a starting rate
        without a final one keeps the final rate at most the starting one."""
        values = dict(values)
        if "lr" in values and "min_lr" not in values:
            values["min_lr"] = min(self.min_lr, values["lr"])
        if isinstance(values.get("probe_words"), str):
            values["probe_words"] = parse_words(values["probe_words"])
        try:
            return dataclasses.replace(self, **values).validate()
        except TypeError as e:
            raise W2VError(f"bad setting ({e}): correct it") from None

    def resolved_threads(self) -> int:
        if self.threads:
            return self.threads
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1

    def resolved_device(self) -> str:
        """The device to train on: 'auto' becomes cuda when torch sees a GPU. Imports torch, so
        only the trainer process calls it."""
        import torch
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise W2VError("--device cuda was asked for but no CUDA GPU is visible: use --device cpu")
        return self.device


# ---------------------------------------------------------------- the schema, read back

@dataclass(frozen=True)
class Setting:
    """One TrainConfig field as the command line and the form see it."""

    name: str
    type: str  # int | float | bool | str | words
    default: Any
    help: str
    label: str
    group: str
    choices: tuple | None
    low: float | None
    high: float | None
    flag: str


def settings() -> list[Setting]:
    """Every TrainConfig field, in declaration order."""
    out = []
    for f in dataclasses.fields(TrainConfig):
        m = f.metadata
        kind = "words" if f.name == "probe_words" else type(f.default).__name__
        out.append(Setting(f.name, kind, f.default, m["help"], m["label"], m["group"], m["choices"],
                           m["low"], m["high"], m["flag"] or "--" + f.name.replace("_", "-")))
    return out


def parse_words(text: str) -> tuple[str, ...]:
    """'King, queen ,' -> ('king', 'queen')."""
    return tuple(w.strip().lower() for w in text.split(",") if w.strip())


def _check(f: dataclasses.Field, value) -> None:
    m, flag = f.metadata, f.metadata["flag"] or "--" + f.name.replace("_", "-")
    kind = type(f.default)
    if kind is tuple:
        if not isinstance(value, tuple) or not all(isinstance(w, str) and w for w in value):
            raise W2VError(f"{flag} must be a list of words, got {value!r}")
        if m["high"] is not None and len(value) > m["high"]:
            raise W2VError(f"{flag} takes at most {m['high']} words, got {len(value)}")
        return
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if not ok:
        raise W2VError(f"{flag} must be {_kind_name(kind)}, got {value!r}")
    if m["choices"] is not None and value not in m["choices"]:
        if not (f.name == "device" and _is_cuda_index(value)):
            raise W2VError(f"{flag} must be one of {', '.join(m['choices'])}, got {value!r}")
    if m["low"] is not None and value < m["low"] or m["high"] is not None and value > m["high"]:
        low = "0" if m["low"] == 0 else f"{m['low']:g}" if kind is float else f"{m['low']:,}"
        raise W2VError(f"{flag} must be between {low} and {m['high']:,}, got {value}: "
                       f"choose a value in that range")


def _kind_name(kind) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "a word"}[kind]


def _is_cuda_index(value: str) -> bool:
    return value.startswith("cuda:") and value[5:].isdigit()


# ---------------------------------------------------------------- the command line

def add_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, grouped as the form groups them. Every default is
    `argparse.SUPPRESS`, so `from_args` sees only what was typed (a preset fills the rest)."""
    groups = {g: p.add_argument_group(f"{g} settings") for g in GROUPS}
    for s in settings():
        shown = _shown(s)
        help_ = f"{s.help} (default {shown})".replace("%", "%%")
        kw = dict(dest=s.name, default=argparse.SUPPRESS, help=help_)
        if s.type == "bool":
            groups[s.group].add_argument(s.flag, action="store_true", **kw)
        elif s.type == "words":
            groups[s.group].add_argument(s.flag, metavar="W1,W2,...", **kw)
        else:
            choices = None if s.name == "device" else s.choices  # device also takes cuda:N
            groups[s.group].add_argument(s.flag, type={"int": int, "float": float, "str": str}[s.type],
                                         choices=choices, metavar=None if choices else s.name.upper(), **kw)


def _shown(s: Setting) -> str:
    if s.type == "words":
        return ",".join(s.default) or "none"
    if s.type == "bool":
        return "on" if s.default else "off"
    return f"{s.default:g}" if s.type == "float" else str(s.default)


def from_args(a: argparse.Namespace) -> TrainConfig:
    """The validated TrainConfig that parsed flags describe: the preset of --recipe, then every
    flag that was given."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in vars(a).items() if k in names}
    base = TrainConfig.preset(given.get("recipe", "word2vec"))
    return base.with_values(given)


def to_args(cfg: TrainConfig) -> list[str]:
    """The `python -m w2v train` flags that reproduce `cfg` exactly."""
    args: list[str] = []
    for s in settings():
        value = getattr(cfg, s.name)
        if s.type == "bool":
            args += [s.flag] if value else []
        elif s.type == "words":
            args += [s.flag, ",".join(value)] if value else []
        else:
            args += [s.flag, repr(value) if s.type == "float" else str(value)]
    return args
