"""The app server's footprint: its memory after a visit to every page, whether it loaded torch, and
how long a fresh interpreter takes to import the app's services.

Trains one small real run (a prefix of the sample corpus, dim 50, 1 epoch) into a temporary folder,
starts `streamlit run app.py` headless on a free localhost port with W2V_RUNS_DIR, W2V_CORPORA_DIR,
W2V_VECTORS_DIR and W2V_CACHE pointed there, opens every page of the sidebar in headless Chromium
(Playwright driving Debian's /usr/bin/chromium; no browser is ever downloaded) and waits until each
has finished running. Then it reads, from /proc of the streamlit process:

    rss_mb        VmRSS once every page has run; peak_rss_mb is VmHWM
    torch_loaded  whether any of its mappings is a libtorch library

and separately times `import` of the project modules that the pages import (the import lines of
pages/*.py and ui.py that name w2v), in a fresh interpreter, best of 3: services_import_s.

One JSON line goes to stdout and is appended to bench/results/server_footprint.jsonl (of this
checkout, whichever checkout is measured).

    python bench/server_footprint.py                    # this checkout
    python bench/server_footprint.py --repo ../other    # another checkout, with this interpreter
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
RESULTS = HERE / "bench" / "results" / "server_footprint.jsonl"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(repo: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra or {})
    env["PYTHONPATH"] = str(repo)
    return env


def train_small_run(repo: Path, tmp: Path, prefix_mb: float, python: str) -> dict:
    """A finished run over the first `prefix_mb` MB of the sample corpus, in tmp/runs/small."""
    corpora = tmp / "corpora"
    corpora.mkdir()
    sample = repo / "data" / "text8-prefix.txt.gz"
    if not sample.exists():
        sample = HERE / "data" / "text8-prefix.txt.gz"
    with gzip.open(sample, "rb") as f:
        text = f.read(int(prefix_mb * 1e6))
    corpus = corpora / "text8-small.txt"
    corpus.write_bytes(text[: text.rfind(b" ")].strip() + b"\n")
    out = tmp / "runs" / "small"
    out.parent.mkdir()
    t = time.perf_counter()
    done = subprocess.run([python, "-m", "w2v", "train", str(corpus), "--out", str(out), "--dim", "50",
                           "--epochs", "1", "--threads", "1", "--eval", "none", "--quiet"],
                          cwd=repo, env=env_for(repo), capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"training the small run failed:\n{done.stderr[-3000:]}")
    return {"corpus_mb": round(len(text) / 1e6, 2), "train_s": round(time.perf_counter() - t, 1)}


class Server:
    def __init__(self, repo: Path, tmp: Path, python: str):
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        dirs = {"W2V_RUNS_DIR": tmp / "runs", "W2V_CORPORA_DIR": tmp / "corpora",
                "W2V_VECTORS_DIR": tmp / "vectors", "W2V_CACHE": tmp / "cache"}
        for d in dirs.values():
            d.mkdir(exist_ok=True)
        self.log = tmp / "streamlit.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [python, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                 "--server.address", "localhost", "--server.headless", "true",
                 "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                cwd=repo, env=env_for(repo, {k: str(v) for k, v in dirs.items()}),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                sys.exit(f"the app did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def status(self) -> dict:
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        return {"rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
                "peak_rss_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
                "torch_loaded": "libtorch" in maps}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_idle(page, timeout_ms: int) -> None:
    """Until the script run that the last action started has ended (twice, a moment apart)."""
    for _ in range(2):
        page.wait_for_selector(IDLE, timeout=timeout_ms)
        page.wait_for_timeout(300)


def visit_pages(url: str, chromium: str, timeout_s: float) -> list[dict]:
    """Open every page in the sidebar, in order; for each: title, seconds, errors shown."""
    from playwright.sync_api import sync_playwright
    timeout_ms = int(timeout_s * 1000)
    visited = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(timeout_ms)
            page.goto(url + "/")
            wait_idle(page, timeout_ms)
            links = page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
            titles = [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts()]  # no icon
            for i, title in enumerate(titles):
                t = time.perf_counter()
                links.nth(i).click()
                wait_idle(page, timeout_ms)
                shown = page.get_by_test_id("stException").count()
                if not shown and "Traceback" in page.content():
                    shown = 1
                visited.append({"page": title, "s": round(time.perf_counter() - t, 1), "errors": shown})
        finally:
            browser.close()
    return visited


def service_imports(repo: Path) -> list[str]:
    """The import statements of pages/*.py and ui.py that name the project's package (w2v)."""
    files = sorted((repo / "pages").glob("*.py")) + [f for f in [repo / "ui.py"] if f.exists()]
    found: list[str] = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if any(n == "w2v" or n.startswith("w2v.") for n in names):
                stmt = ast.unparse(node)
                if stmt not in found:
                    found.append(stmt)
    return found


def time_imports(repo: Path, statements: list[str], python: str, tries: int = 3) -> dict:
    code = ("import json, sys, time\nt = time.perf_counter()\nexec(sys.argv[1])\n"
            "print(json.dumps({'s': time.perf_counter() - t, 'torch': 'torch' in sys.modules}))")
    best, torch_in, error = None, None, None
    for _ in range(tries):
        done = subprocess.run([python, "-c", code, "\n".join(statements)], cwd=repo, env=env_for(repo),
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            error = (done.stderr.strip().splitlines() or ["exit status %d" % done.returncode])[-1]
            break
        r = json.loads(done.stdout.strip().splitlines()[-1])
        best = r["s"] if best is None else min(best, r["s"])
        torch_in = r["torch"]
    return {"services_import_s": None if best is None else round(best, 3),
            "services_import_torch": torch_in, "services_import_error": error}


def commit_of(repo: Path) -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return (head + ("+changes" if dirty else "")) or None
    except OSError:
        return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", default=str(HERE), help="checkout to measure (default: this one)")
    p.add_argument("--python", default=sys.executable, help="interpreter to run it with (default: this one)")
    p.add_argument("--chromium", default=os.environ.get("W2V_CHROMIUM", "/usr/bin/chromium"))
    p.add_argument("--prefix-mb", type=float, default=1.0, help="MB of the sample corpus to train on")
    p.add_argument("--page-timeout", type=float, default=300, help="seconds one page may run")
    p.add_argument("--out", default=str(RESULTS), help="JSON lines file to append to")
    a = p.parse_args()
    repo = Path(a.repo).resolve()
    if not (repo / "app.py").exists():
        sys.exit(f"{repo} has no app.py: give the root of a checkout with --repo")
    if not (os.path.isfile(a.chromium) and os.access(a.chromium, os.X_OK)):
        sys.exit(f"{a.chromium} is missing: apt-get install chromium (or give --chromium)")

    row: dict = {"when": dt.datetime.now().isoformat(timespec="seconds"), "repo": repo.name,
                 "commit": commit_of(repo)}
    statements = service_imports(repo)
    row.update(time_imports(repo, statements, a.python))
    with tempfile.TemporaryDirectory(prefix="w2v-footprint-") as tmp:
        tmp = Path(tmp)
        row["run"] = train_small_run(repo, tmp, a.prefix_mb, a.python)
        server = Server(repo, tmp, a.python)
        try:
            row["start_rss_mb"] = server.status()["rss_mb"]
            pages = visit_pages(server.url, a.chromium, a.page_timeout)
            time.sleep(1)
            row.update(server.status())
        finally:
            server.close()
    row["pages"] = pages
    row["page_errors"] = sum(v["errors"] for v in pages)
    row["services"] = statements
    row["load_avg"] = round(os.getloadavg()[0], 1)
    line = json.dumps(row)
    print(line, flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
