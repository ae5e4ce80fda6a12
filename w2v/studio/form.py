"""The Train form, generated from TrainConfig's schema (`config.settings()`): one field per
setting, grouped as the schema groups them, each with its label, flag, help, bounds and choices,
starting from a preset's values. Adding a setting to TrainConfig adds it to the form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import config
from ..config import TrainConfig

PRESETS = {"word2vec": "word2vec / gensim defaults",
           "seed": "the lecture's seed recipe (dim 300, Adam, slow by design)"}
GROUP_TITLES = {"model": "Model", "sampling": "Vocabulary and sampling", "schedule": "Schedule",
                "engine": "Engine", "evaluation": "Evaluation"}
WORDS_PLACEHOLDER = "word1,word2 (default: chosen for you)"


@dataclass(frozen=True)
class Field:
    """One setting as a widget: `widget` is select | check | int | float | words."""

    name: str
    widget: str
    label: str
    flag: str
    help: str
    key: str  # the widget's key, one per preset so that switching presets shows its values
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


def key(preset: str, name: str) -> str:
    return f"cfg-{preset}-{name}"


def fields(preset: str = "word2vec") -> list[Field]:
    """Every TrainConfig setting as a form field, in declaration order, with `preset`'s values."""
    base = TrainConfig.preset(preset)
    out = []
    for s in config.settings():
        value = getattr(base, s.name)
        common = dict(name=s.name, label=s.label, flag=s.flag, help=s.help, key=key(preset, s.name))
        if s.choices:
            out.append(Field(widget="select", default=value, choices=tuple(s.choices), **common))
        elif s.type == "bool":
            out.append(Field(widget="check", default=bool(value), **common))
        elif s.type == "int":
            out.append(Field(widget="int", default=int(value), step=1, low=_bound(int, s.low),
                             high=_bound(int, s.high), **common))
        elif s.type == "float":
            out.append(Field(widget="float", default=float(value), step=float(value or 1e-3) / 10,
                             low=_bound(float, s.low), high=_bound(float, s.high), **common))
        else:
            out.append(Field(widget="words", default=",".join(value), **common))
    return out


def groups(preset: str = "word2vec") -> list[tuple[str, list[Field]]]:
    """(title, fields) per schema group, in the schema's order."""
    by_name = {s.name: s.group for s in config.settings()}
    all_fields = fields(preset)
    return [(GROUP_TITLES.get(g, g.capitalize()), [f for f in all_fields if by_name[f.name] == g])
            for g in config.GROUPS]


def make_config(values: dict, preset: str = "word2vec") -> TrainConfig:
    """A validated TrainConfig from form values on top of a preset ('word2vec' or 'seed');
    W2VError names the first setting out of bounds."""
    return TrainConfig.preset(preset).with_values(values)


def _bound(kind, value):
    return None if value is None else kind(value)
