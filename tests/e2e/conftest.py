"""The app in a real browser: a Streamlit server on a free port over temporary folders, driven by
Playwright with Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it with apt).

Skips, saying why, when Playwright or Chromium is missing here; CI has both, so there it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("W2V_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed: pip install -r requirements-dev.txt")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """One `streamlit run app.py` process; `url` is its address, `dirs` its folders."""

    def __init__(self, tmp: Path, runs: Path | None = None, name: str = "app"):
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.dirs = {"W2V_RUNS_DIR": runs or tmp / "runs", "W2V_CORPORA_DIR": tmp / "corpora",
                     "W2V_VECTORS_DIR": tmp / "vectors", "W2V_CACHE": tmp / "cache"}
        self.log = tmp / f"{name}-{self.port}.log"
        env = {**os.environ, **{k: str(v) for k, v in self.dirs.items()}, "PYTHONPATH": str(ROOT)}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                 "--server.address", "localhost", "--server.headless", "true",
                 "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                pytest.fail(f"the app did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def server(tmp_path):
    """A fresh app server, no browser needed (tests that speak HTTP themselves)."""
    a = App(tmp_path)
    yield a
    a.close()


@pytest.fixture
def app(tmp_path):
    _need_browser()
    a = App(tmp_path)
    yield a
    a.close()


@pytest.fixture
def shots(request):
    """shots(page, 'step'): a full-page screenshot in test-artifacts/<test>-NN-step.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    n = [0]

    def take(page, what: str) -> Path:
        n[0] += 1
        path = ARTIFACTS / f"{request.node.name}-{n[0]:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
