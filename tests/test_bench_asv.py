"""asv end to end: `asv run --quick` on the tiny suite, `asv publish`, and the dashboard in
headless Chromium (it must load and list the benchmarks).

Everything asv writes goes to a temporary directory: a copy of asv.conf.json points results,
html and environments there, and HOME is redirected so ``asv machine`` does not touch the
user's ~/.asv-machine.json. About a minute on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TINY_REFERENCE = r"Tiny\.\w+\('reference', '\w+', 'float32', 'forward'\)|Bandwidth"

pytestmark = [
    pytest.mark.skipif(shutil.which("asv") is None, reason="asv is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: chromium)"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="asv needs the git checkout"),
]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def _asv(tmp: Path, *args: str, timeout: int = 240) -> str:
    env = {**os.environ, "HOME": str(tmp / "home")}
    done = subprocess.run([sys.executable, "-m", "asv", *args, "--config", str(tmp / "asv.json")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"asv {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextlib.contextmanager
def _serve(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _chromium(tmp: Path, url: str, *mode: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--window-size=1400,900", *mode, url],
        capture_output=True, text=True, timeout=120)


def test_asv_quick_run_publish_and_dashboard(tmp_path: Path):
    from asv.util import load_json

    (tmp_path / "home").mkdir()
    config = load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    config.update({"repo": str(ROOT), "benchmark_dir": str(ROOT / "bench"),
                   "results_dir": str(tmp_path / "results"), "html_dir": str(tmp_path / "html"),
                   "env_dir": str(tmp_path / "env"),
                   "branches": [_git("rev-parse", "--abbrev-ref", "HEAD")]})
    (tmp_path / "asv.json").write_text(json.dumps(config))

    _asv(tmp_path, "machine", "--yes", "--machine", "convspec-test")
    _asv(tmp_path, "run", "--quick", "--machine", "convspec-test",
         "--set-commit-hash", _git("rev-parse", "HEAD"), "--bench", TINY_REFERENCE)

    [result_file] = (tmp_path / "results" / "convspec-test").glob("*-existing-*.json")
    results = json.loads(result_file.read_text())
    columns = results["result_columns"]
    timed = dict(zip(columns, results["results"]["convolution.Tiny.time_call"]))
    measured = [v for v in timed["result"] if v is not None and not math.isnan(v)]
    assert measured and all(0 < v < 1 for v in measured)  # seconds per tiny call

    _asv(tmp_path, "publish")
    html = tmp_path / "html"
    localized = subprocess.run([sys.executable, str(ROOT / "bench" / "dashboard.py"), str(html)],
                               capture_output=True, text=True)
    assert localized.returncode == 0, localized.stderr

    with _serve(html) as url:
        dom = _chromium(tmp_path, url, "--dump-dom").stdout
        shot = tmp_path / "dashboard.png"
        _chromium(tmp_path, url + "#convolution.Tiny.time_call", f"--screenshot={shot}")
    assert "failed to load" not in dom, "the dashboard's scripts did not load"
    for name in ("convolution.Tiny.time_call", "convolution.Tiny.track_gflops",
                 "convolution.Tiny.track_roofline_percent", "machine.Bandwidth.track_gbs"):
        assert name in dom, f"{name} missing from the dashboard's benchmark list"
    assert shot.is_file() and shot.stat().st_size > 10_000
