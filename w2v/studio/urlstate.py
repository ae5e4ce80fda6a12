"""The view in the address bar: which vectors (`run=` or `vectors=`), the word and a page's
settings as URL query parameters, read back (as hostile input: unknown names, odd characters and
huge values become one clear line each, never an error) and written after every change.

    fields = (Field("word", "map_focus", text=100), Field("n", "map_n", 1000, low=100, high=5000, step=100))
    values, problems = read(query, fields)       # {"map_focus": "king", "map_n": 1000}, []
    src, problem = source_of(found, query)       # the run= or vectors= named, or None
    query = write({"map_n": 2000}, fields, src)  # {"run": "text8", "n": "2000"}: defaults left out

The parameter names are a contract: links people shared must keep opening the same view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..vectors import TABLES

RUN, VECTORS = "run", "vectors"  # the parameters that name the vectors
NAME_CHARS = 200  # the longest run or file name read from an address
SHOWN_CHARS = 40  # the most of a hostile value a message repeats
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


@dataclass(frozen=True)
class Field:
    """A query parameter `param` held in session state under `key` (`default` when the address
    leaves it out): a whole number within [low, high] (rounded to `step`), one of `choices`,
    text of at most `text` characters, or with `flag` a checkbox (1 or 0)."""
    param: str
    key: str
    default: Any = None
    low: int | None = None
    high: int | None = None
    step: int = 1
    choices: tuple = ()
    text: int = 0
    flag: bool = False

    def parse(self, raw: str) -> Any:
        """The value of `raw`; ValueError with what the parameter accepts when it is not one."""
        if self.flag:
            if raw not in ("0", "1"):
                raise ValueError("1 (on) or 0 (off)")
            return raw == "1"
        if self.choices:
            if raw not in self.choices:
                raise ValueError(f"one of {', '.join(map(str, self.choices))}")
            return raw
        if self.text:
            if len(raw) > self.text or not raw.isprintable():
                raise ValueError(f"printable text of at most {self.text} characters")
            return raw
        if len(raw) > 12 or not raw.lstrip("-").isdigit() or not self.low <= int(raw) <= self.high:
            raise ValueError(f"a whole number from {self.low:,} to {self.high:,}")
        return self.low + round((int(raw) - self.low) / self.step) * self.step


def shown(raw: str) -> str:
    """A hostile value as a message may repeat it: printable, short, and with every character
    that Markdown reads (links, emphasis, HTML) escaped, so that it shows as typed."""
    clean = "".join(c if c.isprintable() else "?" for c in raw)
    clean = clean if len(clean) <= SHOWN_CHARS else clean[:SHOWN_CHARS] + "…"
    return _MARKDOWN.sub(r"\\\1", clean)


def _one(query: Mapping[str, Any], param: str) -> str | None:
    value = query.get(param)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def read(query: Mapping[str, Any], fields: Sequence[Field]) -> tuple[dict, list[str]]:
    """The session-state values the address sets, and one line for each value it cannot use
    (that setting keeps its default)."""
    values, problems = {}, []
    for f in fields:
        raw = _one(query, f.param)
        if raw is None:
            continue
        try:
            values[f.key] = f.parse(raw)
        except ValueError as e:
            problems.append(f"The address's {f.param}={shown(raw)} was left out: {f.param} takes {e}.")
    return values, problems


def source_of(found: Sequence, query: Mapping[str, Any]) -> tuple[Any | None, str | None]:
    """The source (sources.Source) the address names by `run=` (a run's folder name) or
    `vectors=` (an uploaded file's name): (source, None), (None, None) when it names none, or
    (None, the line to show) when it names one that is not here."""
    for param, kind, what in ((RUN, "run", "run"), (VECTORS, "file", "vectors file")):
        raw = _one(query, param)
        if raw is None:
            continue
        name = raw.strip()
        for src in found:
            if src.kind == kind and len(name) <= NAME_CHARS and Path(src.path).name == name:
                return src, None
        return None, f"There is no {what} named '{shown(name)}' here: showing {found[0].label} instead."
    return None, None


def source_param(src) -> dict[str, str]:
    """The parameter that names `src` in an address."""
    return {RUN if src.kind == "run" else VECTORS: Path(src.path).name}


def defaults(fields: Sequence[Field]) -> dict[str, Any]:
    """The session-state values of a view nobody changed (fields without a default left out)."""
    return {f.key: f.default for f in fields if f.default is not None}


def write(view: Mapping[str, Any], fields: Sequence[Field], src=None) -> dict[str, str]:
    """The query parameters of a view (session-state key -> the value the page used): the source,
    then each field whose value differs from its default (a shorter address opening the same
    view); text longer than the field takes is left out (the address could not be read back)."""
    out = source_param(src) if src is not None else {}
    for f in fields:
        value = view.get(f.key)
        if value is None or value == f.default or (f.text and len(str(value)) > f.text):
            continue
        out[f.param] = str(int(value)) if f.flag else str(value)
    return out


# --- the pages' parameters: names that shared links rely on -------------------------------------
def map_fields() -> tuple[Field, ...]:
    """The Map page's parameters (its methods are those installed, and custom axes)."""
    from .. import projection
    from .axes import AXIS_CHARS, DEFAULT_AXES
    from .mapview import AXES, MODES, SEARCH_CHARS
    return (
        Field("word", "map_focus", text=100), Field("table", "map_table", "input", choices=TABLES),
        Field("mode", "map_mode", "frequent", choices=tuple(MODES)), Field("all", "map_all", False, flag=True),
        Field("n", "map_n", 1000, low=100, high=5000, step=100),
        Field("search", "map_search", "ing$", text=SEARCH_CHARS), Field("of", "map_word", "king", text=100),
        Field("k", "map_k", 200, low=10, high=1000, step=10), Field("words", "map_list", "", text=2000),
        Field("method", "map_method", "tsne", choices=(*projection.methods(), AXES)),
        Field("seed", "map_seed", 0, low=0, high=10_000), Field("perplexity", "map_perplexity", 30, low=5, high=100),
        Field("nn", "map_umap_k", 15, low=5, high=100),
        Field("x", "map_x", DEFAULT_AXES[0], text=AXIS_CHARS), Field("y", "map_y", DEFAULT_AXES[1], text=AXIS_CHARS),
        Field("colour", "map_colour", "frequency", choices=("frequency", "cluster")),
        Field("clusters", "map_clusters", 8, low=2, high=40), Field("cluster2d", "map_cluster_2d", False, flag=True),
        Field("density", "map_density", False, flag=True), Field("labels", "map_labels", low=0, high=1000),
        Field("highlight", "map_highlight", "", text=100))


NEIGHBOURS_FIELDS = (Field("word", "nb_word", text=100), Field("table", "nb_table", "input", choices=TABLES),
                     Field("k", "nb_k", 10, low=5, high=50))
