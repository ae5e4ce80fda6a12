"""How fast the explore pages' work is; prints one JSON object.

    python bench/explore_perf.py                      # most_similar + 2,000-word t-SNE (synthetic)
    python bench/explore_perf.py --run runs/sample    # t-SNE on that run's vectors
    python bench/explore_perf.py --run runs/sample --full --click   # + whole-vocabulary map, click
    python bench/explore_perf.py --big                # the 100,000-word map as the app makes it

Figures: most_similar median over 50 queries on a random 70,000 × 300 vocabulary; a 2,000-word
t-SNE the first time and from the disk cache; with --full the whole vocabulary (t-SNE and
trustworthiness); with --click one map-page rerun after a click on that whole-vocabulary map
(AppTest, server side, projection already cached). Targets: ≤ 20 ms, ≤ 10 s, ≤ 0.5 s, ≤ 90 s, ≤ 1 s.

--big trains (once, into --big-dir) a run of 100,000 words: the sample corpus at min_count 1
(80,982 words) plus the words of the Python standard library's sources, file by file until the
vocabulary reaches 100,000; then maps the whole vocabulary as the Map page does: the PCA preview
(in the server), the t-SNE by its background job (w2v.studio.mapjobs) the first time and from
the cache, one page rerun after a click (AppTest), and in Chromium (Playwright with
/usr/bin/chromium, against `streamlit run app.py`) the seconds from a press on a point of the
whole map to that word's neighbours on screen, and to the page's request for the rerun, three
clicks. Appends a JSON line, with the load average, to bench/results/explore_perf.jsonl.
"""

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from w2v import projection  # noqa: E402
from w2v.vectors import WordVectors  # noqa: E402


def most_similar_ms(n=70_000, d=300, queries=50) -> float:
    rng = np.random.default_rng(0)
    wv = WordVectors([f"w{i}" for i in range(n)], rng.normal(size=(n, d)).astype(np.float32))
    wv.most_similar("w0")  # builds the unit table once
    times = []
    for i in rng.integers(0, n, queries):
        t = time.perf_counter()
        wv.most_similar(f"w{i}", topn=10)
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 2)


def vectors(run: str | None, n: int) -> tuple[np.ndarray, list[str]]:
    if run:
        wv = WordVectors.from_run(run)
        return wv.vectors[:n], wv.index_to_key[:n]
    rng = np.random.default_rng(1)  # 40 clusters in 100 dimensions
    centres = rng.normal(size=(40, 100))
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.normal(size=(n, 100))
    return x.astype(np.float32), [f"w{i}" for i in range(n)]


def timed_projection(x, words, cache) -> dict:
    t = time.perf_counter()
    first = projection.project(x, words, "tsne", cache=cache, perplexity=30, seed=0)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    again = projection.project(x, words, "tsne", cache=cache, perplexity=30, seed=0)
    t_again = time.perf_counter() - t
    assert again.cached
    return {"words": len(words), "first_s": round(t_first, 2), "tsne_s": round(first.seconds, 2),
            "cached_s": round(t_again, 3), "trustworthiness": round(first.trust, 4)}


def click_s(run: str, cache: str) -> float:
    """One map-page rerun after a click on the whole-vocabulary map (projection cached)."""
    from streamlit.testing.v1 import AppTest
    os.environ["W2V_RUNS_DIR"] = str(Path(run).absolute().parent)
    os.environ["W2V_CACHE"] = cache
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=600)
    at.session_state["map_all"] = True
    at.run()
    wv = WordVectors.from_run(run)
    word = wv.index_to_key[500]
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": [word]}], "point_indices": [],
                                                   "box": [], "lasso": []}}
    t = time.perf_counter()
    at.run()
    assert at.session_state["map_focus"] == word and not at.exception
    return round(time.perf_counter() - t, 3)


# The map chart is a component, its plot in a frame of its own: the frame's pixel of the map point
# nearest the middle of the plot and the words drawn within a few pixels of it (a press there may
# report any of them), from plotly's own axes.
MAP_FRAME = 'iframe[title*="map_chart"]'
MAP_POINT = """() => {
  const d = document.getElementById('map');
  const fl = d._fullLayout, t = d._fullData[0], box = d.getBoundingClientRect();
  const px = i => ({word: t.customdata[i][0], x: box.left + fl.xaxis._offset + fl.xaxis.l2p(t.x[i]),
                    y: box.top + fl.yaxis._offset + fl.yaxis.l2p(t.y[i])});
  const cx = box.left + fl.xaxis._offset + fl.xaxis._length / 2 + SHIFT;
  const cy = box.top + fl.yaxis._offset + fl.yaxis._length / 2;
  const pts = Array.from(t.x, (_, i) => px(i));
  const dist = p => Math.hypot(p.x - cx, p.y - cy);
  const pick = pts.reduce((a, b) => dist(b) < dist(a) ? b : a);
  return {...pick, near: pts.filter(p => Math.hypot(p.x - pick.x, p.y - pick.y) < 15).map(p => p.word)};
}"""


# When the mouse is pressed in the map's frame, stored in the page on the page's clock (each frame's
# clock starts with its own document); then, checked every frame, how long after it a word drawn
# under the press heads the neighbours' column.
PRESS_CLOCK = """() => document.addEventListener('mousedown', () => {
  window.parent.pressedAt = performance.timeOrigin + performance.now() - window.parent.performance.timeOrigin; },
  {capture: true, once: true})"""
# Before the page loads: the time of every message the page sends to the server (a click's rerun
# request among them), on the same clock.
SEND_CLOCK = """window.sentAt = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.sentAt.push(performance.now()); return send.call(this, data); };"""
FIRST_SEND = "() => (window.sentAt.find(t => t >= window.pressedAt) ?? NaN) - window.pressedAt"
NEIGHBOURS_SHOWN = """(near) => {
  const h = [...document.querySelectorAll('[data-testid="stMain"] h3')]
    .find(h => near.includes(h.textContent.trim()) && h.offsetParent !== null);
  return h && window.pressedAt !== undefined ? performance.now() - window.pressedAt : false;
}"""


@contextlib.contextmanager
def app_server(run: Path, cache: str):
    """`streamlit run app.py` over the runs beside `run` and the map cache `cache`: its address."""
    from tests.e2e.conftest import free_port
    port = free_port()
    env = {**os.environ, "W2V_RUNS_DIR": str(run.absolute().parent), "W2V_CACHE": cache, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "localhost", "--server.headless", "true",
                             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


SETTLED = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # the script run has ended


def browser_click_s(run: Path, cache: str, clicks: int = 3, view: str = "all=1",
                    points: int = 50_000) -> tuple[list[float], list[float]]:
    """Seconds from a press on a point of the whole-vocabulary map to that word's neighbours on
    screen, in Chromium (Playwright, /usr/bin/chromium) against `streamlit run app.py`, and from
    the press to the page asking the server for the rerun (the rest is the server's rerun and the
    page drawing what it sends); one figure a click, each on another point (projection cached)."""
    from playwright.sync_api import sync_playwright
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
    with app_server(run, cache) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(SEND_CLOCK)
        page.goto(f"{url}/map?run={run.name}&{view}")
        chart = page.wait_for_selector(MAP_FRAME, timeout=600_000)
        frame = chart.content_frame()
        frame.wait_for_function("() => { const d = document.getElementById('map');"
                                " return d && d._fullData && d._fullData.length"
                                f" && d._fullData[0].x.length >= {points}; }}", timeout=600_000)
        page.wait_for_selector(SETTLED, timeout=600_000)
        chart.scroll_into_view_if_needed()
        times, sent = [], []
        for c in range(clicks):
            pt, box = frame.evaluate(MAP_POINT.replace("SHIFT", str(60 * c - 60))), chart.bounding_box()
            page.mouse.move(box["x"] + pt["x"], box["y"] + pt["y"])
            frame.wait_for_selector(".hoverlayer .hovertext", timeout=60_000)
            page.evaluate("() => { window.pressedAt = undefined; }")
            frame.evaluate(PRESS_CLOCK)
            page.mouse.down()
            page.mouse.up()
            shown = page.wait_for_function(NEIGHBOURS_SHOWN, arg=pt["near"], polling="raf", timeout=60_000)
            times.append(round(shown.json_value() / 1000, 3))
            sent.append(round(page.evaluate(FIRST_SEND) / 1000, 3))
            page.wait_for_selector(SETTLED, timeout=60_000)
            page.wait_for_timeout(1000)  # the figure drawn before the next press
        browser.close()
    return times, sent


BIG_WORDS = 100_000


def big_corpus(path: Path) -> Path:
    """The sample corpus, then the words of the standard library's sources (one paragraph a
    file, in path order, site-packages left out) until BIG_WORDS types."""
    import gzip
    import sysconfig
    from w2v.corpus import iter_token_blocks, tokenize
    seen = set()
    for block in iter_token_blocks(ROOT / "data" / "text8-prefix.txt.gz", False):
        seen.update(t for t in block if t)
    with gzip.open(ROOT / "data" / "text8-prefix.txt.gz", "rb") as src, open(path, "wb") as out:
        out.write(src.read() + b"\n\n")
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        for f in sorted(f for f in stdlib.rglob("*.py") if "site-packages" not in f.parts):
            words = tokenize(f.read_text("utf-8", "replace"))
            seen.update(words)
            out.write((" ".join(words) + "\n\n").encode())
            if len(seen) >= BIG_WORDS:
                break
    return path


def big_run(folder: Path) -> Path:
    """A run of about BIG_WORDS words (trained once into `folder`, then reused)."""
    run = folder / "runs" / "big"
    if not (run / "in_vectors.npy").exists():
        folder.mkdir(parents=True, exist_ok=True)
        corpus = big_corpus(folder / "big.txt")
        subprocess.run([sys.executable, "-m", "w2v", "train", str(corpus), "--out", str(run), "--min-count", "1",
                        "--epochs", "2", "--dim", "100", "--eval", "none", "--quiet"], cwd=ROOT, check=True)
    return run


def big_map(run: Path) -> dict:
    """The whole vocabulary of `run` mapped as the Map page does it (cache: $W2V_CACHE)."""
    from w2v.studio import mapjobs, mapview
    wv = WordVectors.from_run(run)
    spec, params = {"mode": "frequent", "n": 0}, {"perplexity": 30, "seed": 0}
    t = time.perf_counter()
    preview = mapview.project(wv, spec, "pca", mapview.preview_params(params))
    out = {"words": len(wv), "preview_s": round(time.perf_counter() - t, 2), "preview_trust": round(preview.trust, 4)}
    t = time.perf_counter()
    try:
        mapview.finished(wv, spec, "tsne", params)
        raise SystemExit("the t-SNE map was cached already: use an empty --cache")
    except mapview.Pending as p:
        state = mapjobs.wait(p.state.key, 3600)
    out["tsne_first_s"] = round(time.perf_counter() - t, 2)  # request to map in the cache, job start included
    if state.state != mapjobs.DONE:
        return {**out, "error": state.error}
    out["tsne_job_s"], out["tsne_trust"] = round(state.projection.seconds, 2), round(state.projection.trust, 4)
    t = time.perf_counter()
    mapview.finished(wv, spec, "tsne", params)
    out["tsne_cached_s"] = round(time.perf_counter() - t, 3)
    return out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a run directory whose vectors to map (default: synthetic clusters)")
    ap.add_argument("--full", action="store_true", help="also map the run's whole vocabulary")
    ap.add_argument("--click", action="store_true", help="also time a map click on the whole vocabulary")
    ap.add_argument("--cache", help="projection cache folder to keep (default: a temporary one)")
    ap.add_argument("--big", action="store_true", help="only the 100,000-word map as the app makes it")
    ap.add_argument("--big-dir", default=str(ROOT / "runs" / "bench-big"), help="where --big keeps its run")
    args = ap.parse_args()
    if args.big:
        return main_big(args)
    out = {"tsne_backend": projection.tsne_backend(), "cpus": os.cpu_count(),
           "most_similar_ms_70000x300": most_similar_ms()}
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        x, words = vectors(args.run, 2000)
        out["map_2000"] = timed_projection(x, words, cache)
        if args.full and args.run:
            x, words = vectors(args.run, 10 ** 9)
            out["map_all"] = timed_projection(x, words, cache)
        if args.click and args.run:
            out["click_rerun_s"] = click_s(args.run, cache)
    print(json.dumps(out, indent=1))


def main_big(args) -> None:
    run = big_run(Path(args.big_dir))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["W2V_CACHE"] = args.cache or tmp
        out = {"bench": "big_map", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
               "tsne_backend": projection.tsne_backend(), "load_before": load(), **big_map(run)}
        out["load_after_map"] = load()
        if "error" not in out:
            out["click_rerun_s"] = click_s(str(run), os.environ["W2V_CACHE"])
            out["load_before_browser"] = load()
            shown, sent = browser_click_s(run, os.environ["W2V_CACHE"])
            out["browser_click_to_neighbours_s"], out["browser_click_to_request_s"] = shown, sent
        out["load_after"] = load()
    print(json.dumps(out))
    with open(ROOT / "bench" / "results" / "explore_perf.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
