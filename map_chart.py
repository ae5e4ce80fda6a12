"""The Map page's chart: plotly.js in a Streamlit component (components/map_chart.html) that
reports a press on a point at once, where st.plotly_chart selects the point first: plotly then
redraws every point before the page hears of the press, 0.4–0.7 s on a 100,000-word map in a
browser without a GPU (README, Maps of a whole vocabulary). Its value has the shape of
st.plotly_chart's selection state, plus `press`, a counter that makes a second press on the same
point news. plotly.js comes from the plotly package, copied once beside the page into a folder
of the cache (w2v.cache: the user's own, not the shared temporary folder) that the component
serves."""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from w2v.cache import cache_dir

PAGE = Path(__file__).resolve().parent / "components" / "map_chart.html"


def _served_folder() -> Path:
    """index.html and plotly.min.js in one folder (made once, atomically: a half-copied folder is
    never served)."""
    import plotly
    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    tag = hashlib.sha256(PAGE.read_bytes() + plotly.__version__.encode()).hexdigest()[:12]
    folder = cache_dir() / f"map-chart-{tag}"
    if not (folder / "index.html").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".map-chart-", dir=folder.parent))
        shutil.copyfile(script, tmp / "plotly.min.js")
        shutil.copyfile(PAGE, tmp / "index.html")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


@st.cache_resource(show_spinner=False)
def _component():
    return components.declare_component("map_chart", path=str(_served_folder()))


def map_chart(fig, config: dict, key: str):
    """Draw `fig` with plotly's `config`; the last press or selection (None before the first)."""
    return _component()(spec=fig.to_json(), config=json.dumps(config), key=key, default=None)
