"""Take the README's screenshot: the Train page of a finished run, in headless Chromium.

    W2V_RUNS_DIR=<folder with a run> streamlit run app.py --server.port 8599 &
    python docs/screenshot.py http://localhost:8599 docs/screenshot.png
"""

import sys

from playwright.sync_api import sync_playwright

url, out = sys.argv[1], sys.argv[2]
page_name = sys.argv[3] if len(sys.argv) > 3 else "Train"
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                      "--disable-component-update", "--disable-sync", "--no-first-run"])
    page = browser.new_page(viewport={"width": 1400, "height": int(sys.argv[4]) if len(sys.argv) > 4 else 2200})
    page.goto(url)
    page.get_by_role("link", name=page_name).click()
    page.get_by_role("heading", name=page_name).first.wait_for(timeout=60000)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=60000)
    page.wait_for_timeout(3000)
    page.screenshot(path=out, full_page=True)
    browser.close()
