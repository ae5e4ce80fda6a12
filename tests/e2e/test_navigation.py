"""Every address gets the app's own navigation, a deep link as the first visit after the server
starts included: Streamlit would otherwise take the pages/ folder next to app.py for an automatic
multipage app (a page list 'app, compare, corpus, home, …' and a narrow layout) for that session."""

from __future__ import annotations

import pytest

TITLES = ["Home", "Corpus", "Train", "Neighbours", "Map", "Compare"]
TIMEOUT = 60_000  # ms


@pytest.mark.parametrize("path,heading", [("/train", "Train"), ("/neighbours", "Neighbours")])
def test_a_first_visit_to_a_deep_link_gets_the_apps_pages(app, browser, shots, path, heading):
    from playwright.sync_api import expect
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    page.goto(app.url + path)  # the server's very first visit
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Compare", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMain").get_by_role("heading", level=1).first).to_contain_text(heading)
    expect(nav.get_by_role("link")).to_have_count(len(TITLES))  # the page list once the run has settled
    titles = [t.split()[-1] for t in nav.get_by_role("link").all_inner_texts()]  # after the icon's name
    assert titles == TITLES
    assert nav.get_by_text("app", exact=True).count() == 0
    width = page.get_by_test_id("stMainBlockContainer").bounding_box()["width"]
    assert width > 900, f"the narrow layout ({width:.0f} px): app.py's wide layout was not set"
    assert page.get_by_test_id("stException").count() == 0
    shots(page, "deep-link")
    page.close()
