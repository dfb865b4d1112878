"""asv end to end through bench/nightly.sh: two machines record `asv run --quick` results for the
tiny suite into one results directory, `asv publish` makes one dashboard of both, and headless
Chromium loads it (it must list the benchmarks).

Everything asv writes goes to a temporary directory (CONVSPEC_RESULTS_DIR), and HOME is
redirected so ``asv machine`` does not touch the user's ~/.asv-machine.json. About a minute and
a half on a 2-core machine.
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

pytestmark = [
    pytest.mark.skipif(shutil.which("asv") is None, reason="asv is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: chromium)"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="asv needs the git checkout"),
]


def _nightly(tmp: Path, machine: str, timeout: int = 300) -> str:
    env = {**os.environ, "HOME": str(tmp / "home"), "PYTHON": sys.executable,
           "CONVSPEC_MACHINE": machine, "CONVSPEC_SUITES": "Tiny",
           "CONVSPEC_BACKENDS": "reference", "CONVSPEC_DTYPES": "float32",
           "CONVSPEC_DIRECTIONS": "forward", "CONVSPEC_QUICK": "1",
           "CONVSPEC_RESULTS_DIR": str(tmp / "shared"), "CONVSPEC_NIGHT": "2026-11-20"}
    done = subprocess.run(["bash", str(ROOT / "bench" / "nightly.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"nightly.sh failed:\n{done.stdout[-4000:]}\n{done.stderr}"
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


def test_nightly_two_machines_one_dashboard(tmp_path: Path):
    (tmp_path / "home").mkdir()
    for machine in ("convspec-test-a", "convspec-test-b"):
        _nightly(tmp_path, machine)

    shared = tmp_path / "shared"
    for machine in ("convspec-test-a", "convspec-test-b"):
        [result_file] = (shared / "results" / machine).glob("*-existing-*.json")
        results = json.loads(result_file.read_text())
        columns = results["result_columns"]
        timed = dict(zip(columns, results["results"]["convolution.Tiny.time_call"]))
        measured = [v for v in timed["result"] if v is not None and not math.isnan(v)]
        assert measured and all(0 < v < 1 for v in measured)  # seconds per tiny call
        assert "machine.PeakFlops.track_gflops" in results["results"]

    html = shared / "html"
    index = json.loads((html / "index.json").read_text())
    assert set(index["params"]["machine"]) == {"convspec-test-a", "convspec-test-b"}
    with _serve(html) as url:
        dom = _chromium(tmp_path, url, "--dump-dom").stdout
        shot = tmp_path / "dashboard.png"
        _chromium(tmp_path, url + "#convolution.Tiny.time_call", f"--screenshot={shot}")
    assert "failed to load" not in dom, "the dashboard's scripts did not load"
    for name in ("convolution.Tiny.time_call", "machine.Bandwidth.track_gbs"):
        assert name in dom, f"{name} missing from the dashboard's benchmark list"
    assert shot.is_file() and shot.stat().st_size > 10_000
