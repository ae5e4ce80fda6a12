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
# The settings' groups, in the order --help and the Train form show them: (title, what they decide).
GROUPS = {
    "model": ("Model", "what a word's vector is and what it learns to predict"),
    "sampling": ("Vocabulary and sampling", "which words are learned, which are thinned out, how noise "
                 "words are drawn"),
    "schedule": ("Schedule", "how long training runs and how big its steps are"),
    "engine": ("Engine", "which code and which hardware do the work"),
    "evaluation": ("Evaluation", "what is measured while it trains"),
}
PRESETS = ("word2vec", "seed")


def setting(default, help: str, *, label: str, group: str, choices: tuple | None = None,
            low: float | None = None, high: float | None = None, flag: str | None = None,
            metavar: str | None = None, per_mode: dict | None = None):
    """A TrainConfig field with its help, label, group, choices and bounds (inclusive).
    `per_mode` gives other defaults for some architectures ({'cbow': 0.05}): the field is then left
    None when not given, and TrainConfig fills in the default of its `mode`."""
    assert group in GROUPS, group
    return field(default=None if per_mode else default,
                 metadata=dict(help=help, label=label, group=group, choices=choices, low=low, high=high,
                               flag=flag, metavar=metavar, default=default, per_mode=per_mode or {}))


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. Defaults are word2vec.c's and gensim's."""

    dim: int = setting(100, "how many numbers describe each word: more can hold finer distinctions but "
                       "need more text, memory and time (the lecture used 300)",
                       label="Vector size", group="model", low=1, high=10_000)
    mode: str = setting("skipgram", "skipgram: each word predicts its neighbours one by one (slower, "
                        "better for rare words); cbow: the average of the neighbours predicts the word",
                        label="Architecture", group="model", choices=("skipgram", "cbow"))
    window: int = setting(5, "how far apart two words may be and still count as neighbours; each word "
                          "draws its own reach from 1 to this", label="Context window", group="model",
                          low=1, high=100)
    negative: int = setting(5, "random wrong words each prediction is contrasted with: more is slower and "
                            "sharper", label="Noise words", group="model", low=1, high=100)
    min_count: int = setting(5, "words seen fewer times than this are left out: they have too few "
                             "examples to learn from", label="Minimum count", group="sampling",
                             low=1, high=1_000_000_000)
    max_vocab: int = setting(0, "keep only this many of the most frequent words (0 = no limit)",
                             label="Vocabulary limit", group="sampling", low=0, high=100_000_000)
    sample: float = setting(1e-3, "thins out very frequent words such as 'the': a word of frequency f is "
                            "kept with probability (sqrt(f/t) + 1)·t/f, drawn again every epoch (0 = keep "
                            "every word)", label="Subsampling threshold", group="sampling", low=0.0, high=1.0)
    ns_exponent: float = setting(0.75, "noise words are drawn in proportion to count^this: 0.75 (word2vec) "
                                 "favours rarer words a little, 1 follows the counts, 0 is uniform",
                                 label="Noise exponent", group="sampling", low=-2.0, high=2.0)
    noise: str = setting("pool", "how noise words are drawn: pool: each window draws 2K and every pair "
                         "picks K of them; pair: K fresh ones for every pair, as word2vec.c and gensim; "
                         "window: a window's pairs share K (fastest, lower analogy accuracy)",
                         label="Noise draws", group="sampling", choices=("pool", "pair", "window"))
    keep_punct: bool = setting(False, "treat punctuation marks as words, as the lecture did",
                               label="Keep punctuation", group="sampling")
    text_field: str = setting("", "the field that holds the text in a .jsonl, .csv or .tsv corpus (its other "
                              "fields are never read; ignored for plain text and .zip)",
                              label="Text field", group="sampling")
    phrases: int = setting(0, "passes of phrase detection before training: frequent pairs such as "
                           "'new york' become one token 'new_york' (gensim's Phrases; 2 passes find "
                           "longer phrases; 0 = off)", label="Phrase passes", group="sampling", low=0, high=10)
    phrase_threshold: float = setting(10.0, "a pair becomes a phrase when (count(a b) - phrase min count) "
                                      "/ (count(a) count(b)) x types counted is above this (gensim's default "
                                      "scorer)", label="Phrase threshold", group="sampling", low=1e-6, high=1e9)
    phrase_min_count: int = setting(5, "subtracted from a pair's count when scoring it: rarer pairs never "
                                    "become phrases", label="Phrase minimum count", group="sampling",
                                    low=1, high=1_000_000_000)
    epochs: int = setting(5, "how many times training reads the whole corpus", label="Epochs",
                          group="schedule", low=1, high=10_000)
    lr: float = setting(0.025, "how big the first steps are; the rate then falls linearly to the final "
                        "rate (too high and the loss explodes)", label="Learning rate", group="schedule",
                        low=1e-9, high=100.0, per_mode={"cbow": 0.05})
    min_lr: float = setting(1e-4, "how big the last steps are, at the end of the run (at most the starting "
                            "rate)", label="Final learning rate", group="schedule", low=0.0, high=100.0)
    seed: int = setting(1, "fixes the random draws (first vectors, subsampling, windows, noise words): "
                        "the same seed and settings train the same vectors on one thread",
                        label="Random seed", group="schedule", low=0, high=2**32 - 1)
    recipe: str = setting("word2vec", "word2vec: hand-written SGD as word2vec.c and gensim; seed: the "
                          "lecture's loop (autograd and Adam from uniform(-1,1); skip-gram only, slow by "
                          "design)",
                          label="Recipe", group="engine", choices=PRESETS)
    engine: str = setting("auto", "kernel: the C++ kernel with word2vec.c's lock-free threads (CPU); torch: "
                          "batched SGD in PyTorch (any device, a GPU's engine); auto: the kernel where it "
                          "builds, else torch", label="Engine", group="engine",
                          choices=("auto", "kernel", "torch"))
    device: str = setting("auto", "where to train: cpu, cuda (or cuda:N), or auto (a GPU when one is "
                          "visible)", label="Device", group="engine", choices=("auto", "cpu", "cuda"))
    threads: int = setting(0, "CPU threads working at once (0 = all cores)", label="Threads", group="engine",
                           low=0, high=512)
    batch_size: int = setting(0, "pairs per step on the PyTorch engines (0 = automatic; the C++ kernel steps "
                              "window by window)", label="Batch size", group="engine", low=0, high=1 << 22)
    eval: str = setting("epoch", "when to score analogies and WordSim-353: after every epoch (every 16th "
                        "analogy question, a quick look), after the last (every question), or never",
                        label="Benchmarks", group="evaluation", choices=("epoch", "final", "none"))
    probe_words: tuple[str, ...] = setting((), "words whose nearest neighbours are recorded after each "
                                           "epoch, comma separated (empty: 8 frequent and 8 rarer words)",
                                           label="Probe words", group="evaluation", flag="--probe",
                                           metavar="W1,W2,...", high=100)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # a per-mode default not given: the one of this mode
            if f.metadata.get("per_mode") and getattr(self, f.name) is None:
                object.__setattr__(self, f.name, mode_default(f.name, self.mode))

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
        for s in settings():  # a new architecture brings its own defaults for settings left at ours
            if s.per_mode and s.name not in values and values.get("mode", self.mode) != self.mode \
                    and getattr(self, s.name) == mode_default(s.name, self.mode):
                values[s.name] = None
        if values.get("lr") is not None and "min_lr" not in values:
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
        """The device to train on: 'auto' becomes cuda when torch sees a GPU. On a machine with no
        GPU driver at all that is known without importing torch (the kernel path never does);
        otherwise it imports torch, so only the trainer process calls it."""
        if self.device == "cpu" or (self.device == "auto" and not gpu_driver()):
            return "cpu"
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
    per_mode: dict  # {mode: default} where a mode's default differs from `default`


def settings() -> list[Setting]:
    """Every TrainConfig field, in declaration order."""
    out = []
    for f in dataclasses.fields(TrainConfig):
        m = f.metadata
        kind = "words" if f.name == "probe_words" else type(m["default"]).__name__
        out.append(Setting(f.name, kind, m["default"], m["help"], m["label"], m["group"], m["choices"],
                           m["low"], m["high"], m["flag"] or "--" + f.name.replace("_", "-"), m["per_mode"]))
    return out


def mode_default(name: str, mode: str):
    """The default of setting `name` for architecture `mode` (e.g. lr: 0.025 skip-gram, 0.05 CBOW)."""
    m = TrainConfig.__dataclass_fields__[name].metadata
    return m["per_mode"].get(mode, m["default"]) if isinstance(mode, str) else m["default"]


def parse_words(text: str) -> tuple[str, ...]:
    """'King, queen ,' -> ('king', 'queen')."""
    return tuple(w.strip().lower() for w in text.split(",") if w.strip())


def _check(f: dataclasses.Field, value) -> None:
    m, flag = f.metadata, f.metadata["flag"] or "--" + f.name.replace("_", "-")
    kind = type(m["default"])
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
    groups = {g: p.add_argument_group(f"{title.lower()} settings", blurb)
              for g, (title, blurb) in GROUPS.items()}
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
    if s.per_mode:
        others = "".join(f"; {m}: {_value(s, v)}" for m, v in s.per_mode.items())
        return f"{_value(s, s.default)}{others}"
    return _value(s, s.default)


def _value(s: Setting, v) -> str:
    return f"{v:g}" if s.type == "float" else str(v)


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
        elif s.type == "str" and not value:  # an unnamed text field: the flag's absence says it
            continue
        else:
            args += [s.flag, repr(value) if s.type == "float" else str(value)]
    return args


GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")


def gpu_driver() -> bool:
    """Whether this machine has a GPU driver torch could use (NVIDIA's, or ROCm's /dev/kfd)."""
    return any(os.path.exists(p) for p in GPU_DRIVER_FILES)
