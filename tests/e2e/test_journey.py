"""The user's journey through the app in Chromium: upload a corpus, train, watch the loss chart grow
live until the run finishes, click a word on the map and read its neighbours, and have a binary
upload refused with a message (never a traceback). Screenshots go to test-artifacts/."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import planted_text  # noqa: E402  (tests/conftest.py)

LONG = 60_000  # ms: a busy two-core machine runs the trainer and t-SNE beside the server

# points per trace of every plotly chart on the page
CHART_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
                     .map(d => (d._fullData || []).map(t => (t.x || []).length))"""

# The page pixel of every map point (from plotly's own axes) and the word under each; the point
# to click is the one nearest the middle of the plot, and a click there may select any word drawn
# within a few pixels of it (planted words of one group lie on top of each other).
MAP_POINTS = """() => {
  const d = document.querySelector('.js-plotly-plot');
  const fl = d._fullLayout, t = d._fullData[0], box = d.getBoundingClientRect();
  const pts = [];
  for (let i = 0; i < t.x.length; i++)
    pts.push({word: t.customdata[i][0], x: box.left + fl.xaxis._offset + fl.xaxis.l2p(t.x[i]),
              y: box.top + fl.yaxis._offset + fl.yaxis.l2p(t.y[i])});
  const cx = box.left + fl.xaxis._offset + fl.xaxis._length / 2;
  const cy = box.top + fl.yaxis._offset + fl.yaxis._length / 2;
  const dist = p => Math.hypot(p.x - cx, p.y - cy);
  const pick = pts.reduce((a, b) => dist(b) < dist(a) ? b : a);
  const near = pts.filter(p => Math.hypot(p.x - pick.x, p.y - pick.y) < 15).map(p => p.word);
  return {...pick, near};
}"""


def wait_idle(page, timeout=LONG):
    """Until the script run that the last action started has ended (twice, a moment apart)."""
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    for _ in range(2):
        page.wait_for_selector(idle, timeout=timeout)
        page.wait_for_timeout(300)


def open_page(page, title):
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def no_traceback(page):
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in page.content()


def test_upload_train_map_and_bad_upload(app, browser, shots, tmp_path):
    from playwright.sync_api import expect
    t0 = time.time()
    corpus = tmp_path / "planted.txt"
    corpus.write_text(planted_text(paragraphs=300)[0])
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 16)

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(LONG)
    page.goto(app.url + "/")  # the first deep link can still show the old page list: start at /
    wait_idle(page)

    # 1. upload a corpus
    open_page(page, "Corpus")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(corpus))
    expect(page.get_by_text("Stored as")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("planted.txt").first).to_be_visible()
    wait_idle(page)
    no_traceback(page)
    shots(page, "corpus-uploaded")
    assert (app.dirs["W2V_CORPORA_DIR"] / "planted.txt").read_text() == corpus.read_text()

    # 2. start a short training on it (many tiny epochs: one loss point each, so the chart grows)
    open_page(page, "Train")
    expect(page.get_by_role("combobox", name="Corpus")).to_have_value("planted.txt")
    page.get_by_label("Run name").fill("journey")
    for name, value in {"dim": 10, "epochs": 200, "min_count": 2, "threads": 1}.items():
        page.get_by_role("spinbutton", name=name, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()

    # 3. the live chart gains points while the run is running, then the run finishes
    expect(page.get_by_role("heading", name="journey: running")).to_be_visible(timeout=LONG)
    seen = []  # chart sizes read while the heading said running
    deadline = time.time() + 120
    while time.time() < deadline:
        running = page.get_by_role("heading", name="journey: running").count() > 0
        sizes = [t[0] for t in page.evaluate(CHART_POINTS) if t]
        if running and sizes:
            if not seen or sizes[0] != seen[-1]:
                seen.append(sizes[0])
                if len(seen) == 2:
                    shots(page, "training-live")
        if not running and page.get_by_role("heading", name="journey: finished").count():
            break
        page.wait_for_timeout(250)
    expect(page.get_by_role("heading", name="journey: finished")).to_be_visible(timeout=LONG)
    assert len(seen) >= 2 and seen == sorted(seen), f"the chart did not grow while running: {seen}"
    wait_idle(page)
    final = [t[0] for t in page.evaluate(CHART_POINTS) if t]
    assert final and final[0] == 200 > seen[0]  # one point per epoch, the whole run
    no_traceback(page)
    shots(page, "training-finished")

    # 4. the map: click a point, see that word's neighbours
    open_page(page, "Map")
    expect(page.get_by_text("Click a point")).to_be_visible(timeout=LONG)
    page.wait_for_function("() => { const d = document.querySelector('.js-plotly-plot');"
                           " return d && d._fullLayout && d._fullData && d._fullData.length && d._fullData[0].x.length > 0; }", timeout=LONG)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    wait_idle(page)
    shots(page, "map")
    pt = page.evaluate(MAP_POINTS)
    page.mouse.move(pt["x"], pt["y"])
    page.wait_for_timeout(400)  # plotly needs the hover before a press selects the point
    page.mouse.down()
    page.mouse.up()
    expect(page.get_by_text("Nearest words in the original space")).to_be_visible(timeout=LONG)
    wait_idle(page)
    headings = page.get_by_test_id("stMain").get_by_role("heading", level=3).all_inner_texts()
    assert set(headings) & set(pt["near"]), f"clicked near {pt['near']}, the page shows {headings}"
    wait_idle(page)
    no_traceback(page)
    shots(page, "map-clicked")

    # 5. a binary file is refused with a one-line message, and nothing is stored
    open_page(page, "Corpus")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(binary))
    alert = page.get_by_test_id("stAlert").filter(has_text="binary file")
    expect(alert).to_be_visible(timeout=LONG)
    assert "upload a plain UTF-8 text file" in alert.inner_text()
    no_traceback(page)
    shots(page, "binary-refused")
    assert sorted(p.name for p in app.dirs["W2V_CORPORA_DIR"].iterdir()) == ["planted.txt"]
    page.close()
    print(f"journey: {time.time() - t0:.1f} s")
