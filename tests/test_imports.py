"""The app's server never imports torch: `import w2v` and every module the pages use (the
numpy-only core and all of w2v.studio, found on disk so that new modules are covered) leave it out
of a fresh interpreter. The package's public names still resolve, lazily."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE = ["w2v", "w2v.config", "w2v.vectors", "w2v.evaluate", "w2v.runs", "w2v.corpus",
        "w2v.projection"]

API = ["TrainConfig", "train", "WordVectors", "SkipGramNeg", "NegativeSamplingLoss", "Vocab",
       "tokenize", "evaluate", "evaluate_analogies", "evaluate_similarity", "Run", "list_runs",
       "W2VError"]


def studio_modules() -> list[str]:
    """w2v.studio and every module and subpackage under it, from the files on disk."""
    found = ["w2v.studio"]
    for info in pkgutil.walk_packages([str(ROOT / "w2v" / "studio")], prefix="w2v.studio."):
        found.append(info.name)
    return found


def torch_entry(modules: list[str]) -> dict:
    """Import `modules` in order in a fresh interpreter: {"entry": the first module after whose
    import torch was loaded (None if never), "w2v": the w2v modules that `import w2v` loaded}."""
    code = textwrap.dedent("""
        import importlib, json, sys
        import w2v
        out = {"entry": None, "w2v": sorted(m for m in sys.modules if m.startswith("w2v"))}
        for name in sys.argv[1:]:
            importlib.import_module(name)
            if "torch" in sys.modules:
                out["entry"] = name
                break
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, *modules], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_studio_modules_are_discovered():
    names = studio_modules()
    assert "w2v.studio" in names and "w2v.studio.paths" in names


def test_server_modules_leave_torch_out():
    out = torch_entry(CORE + studio_modules())
    assert out["entry"] is None, f"importing {out['entry']} loads torch"


def test_import_w2v_loads_nothing_else():
    assert torch_entry([])["w2v"] == ["w2v"]


def test_the_check_sees_torch():
    """The check can fail: the lecture's model does import torch, and is named as the way in."""
    out = torch_entry(["w2v.vectors", "w2v.model", "w2v.runs"])
    assert out["entry"] == "w2v.model"


def _trains_without_torch(engine: str, tmp_path) -> dict:
    """Train a small corpus on `engine` with --device auto, on a machine without GPU drivers (as
    the interpreter is told), in a fresh interpreter: {"torch": whether torch was imported,
    "engine": the engine that trained}."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(" ".join(f"w{i % 40} w{(i * 7) % 40}" for i in range(3000)))
    code = textwrap.dedent(f"""
        import json, sys
        import w2v.config
        from w2v.config import TrainConfig
        from w2v.train import train
        w2v.config.GPU_DRIVER_FILES = ()  # as on a machine with no GPU driver
        train({str(corpus)!r}, {str(tmp_path / "run")!r},
              TrainConfig(dim=8, epochs=1, min_count=1, eval="none", device="auto", engine={engine!r}))
        events = [json.loads(l) for l in open({str(tmp_path / "run" / "metrics.jsonl")!r})]
        print(json.dumps({{"torch": "torch" in sys.modules,
                          "engine": next(e["engine"] for e in events if e["event"] == "start")}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_on_the_kernel_never_imports_torch(tmp_path):
    """The kernel trains numpy tables: a run on it pays nothing for importing torch."""
    from w2v import kernel
    if kernel.load(warn=False) is None:
        pytest.skip("no C++ compiler: the kernel cannot build here")
    assert _trains_without_torch("kernel", tmp_path) == {"torch": False, "engine": "kernel"}


def test_training_on_the_torch_engine_does_import_torch(tmp_path):
    """The check above can fail: the torch engine brings torch in."""
    assert _trains_without_torch("torch", tmp_path) == {"torch": True, "engine": "torch"}


def test_public_names_resolve():
    import w2v
    import w2v.config
    import w2v.evaluate  # binding the submodule on the package must not hide the function
    import w2v.train
    ns: dict = {}
    exec(f"from w2v import {', '.join(API)}", ns)
    for name in API:
        assert ns[name] is getattr(w2v, name)
    assert set(API) <= set(w2v.__all__) and set(API) <= set(dir(w2v))
    assert ns["TrainConfig"] is w2v.config.TrainConfig is sys.modules["w2v.train"].TrainConfig
    assert ns["train"] is sys.modules["w2v.train"].train and callable(ns["train"])
    assert ns["evaluate"] is sys.modules["w2v.evaluate"].evaluate and callable(ns["evaluate"])
    with pytest.raises(AttributeError):
        w2v.no_such_name  # noqa: B018
    from w2v import errors  # submodules still import as before
    assert errors.W2VError is ns["W2VError"]
