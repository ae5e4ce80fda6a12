"""The Train form, generated from TrainConfig's schema (`config.settings()`, `config.GROUPS`): one
field per setting, grouped as the schema groups them (each group with its title and what it
decides), each field with its label, flag, one-line help, bounds and choices, starting from a
preset's values. Adding a setting to TrainConfig adds it to the form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import config
from ..config import TrainConfig

PRESETS = {"word2vec": "word2vec / gensim defaults",
           "seed": "the lecture's seed recipe (dim 300, Adam, slow by design)"}
WORDS_PLACEHOLDER = "word1,word2 (default: chosen for you)"


@dataclass(frozen=True)
class Field:
    """One setting as a widget: `widget` is select | check | int | float | words."""

    name: str
    widget: str
    label: str
    flag: str
    help: str
    key: str  # the widget's key: one per preset (and per architecture where its default depends on it)
    default: Any  # the preset's value, as the widget takes it (words joined by commas)
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None

    @property
    def title(self) -> str:
        """The label shown above the widget (markdown): the setting's label and its flag."""
        return f"**{self.label}** `{self.flag}`"

    @property
    def index(self) -> int:
        """For a select: the position of the default among the choices."""
        return self.choices.index(self.default) if self.default in self.choices else 0


@dataclass(frozen=True)
class Group:
    """A schema group as the form shows it: its title, what its settings decide, its fields."""

    name: str
    title: str
    blurb: str
    fields: list[Field]


def key(preset: str, name: str, mode: str | None = None) -> str:
    """The widget key of setting `name`; `mode` for a setting whose default depends on it (so that
    switching the architecture shows that architecture's default)."""
    return f"cfg-{preset}-{name}" + (f"-{mode}" if mode else "")


def fields(preset: str = "word2vec", mode: str | None = None) -> list[Field]:
    """Every TrainConfig setting as a form field, in declaration order, with `preset`'s values
    (for architecture `mode`, else the preset's)."""
    base = config.TrainConfig.preset(preset, **({"mode": mode} if mode else {}))
    return [_field(s, getattr(base, s.name), preset, base.mode) for s in config.settings()]


def _field(s: config.Setting, value, preset: str, mode: str) -> Field:
    common = dict(name=s.name, label=s.label, flag=s.flag, help=s.help,
                  key=key(preset, s.name, mode if s.per_mode else None))
    if s.choices:
        return Field(widget="select", default=value, choices=tuple(s.choices), **common)
    if s.type == "bool":
        return Field(widget="check", default=bool(value), **common)
    if s.type == "int":
        return Field(widget="int", default=int(value), step=1, low=_bound(int, s.low), high=_bound(int, s.high),
                     **common)
    if s.type == "float":
        return Field(widget="float", default=float(value), step=float(value or 1e-3) / 10,
                     low=_bound(float, s.low), high=_bound(float, s.high), **common)
    return Field(widget="words", default=",".join(value), **common)


def groups(preset: str = "word2vec", mode: str | None = None) -> list[Group]:
    """The form's groups, in the schema's order, each with its fields."""
    by_name = {s.name: s.group for s in config.settings()}
    all_fields = fields(preset, mode)
    return [Group(g, title, blurb, [f for f in all_fields if by_name[f.name] == g])
            for g, (title, blurb) in config.GROUPS.items()]


def make_config(values: dict, preset: str = "word2vec") -> TrainConfig:
    """A validated TrainConfig from form values on top of a preset ('word2vec' or 'seed');
    W2VError names the first setting out of bounds."""
    return config.TrainConfig.preset(preset).with_values(values)


def _bound(kind, value):
    return None if value is None else kind(value)
