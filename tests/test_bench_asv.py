"""asv end to end through bench/nightly.sh: two machines record `asv run --quick` results for the
tiny suite into one results directory, `asv publish` makes one dashboard of both, and headless
Chromium loads it (it must list the benchmarks).

Everything asv writes goes to a temporary directory (CONVSPEC_RESULTS_DIR), and HOME is
redirected so ``asv machine`` does not touch the user's ~/.asv-machine.json. 210 s at load 12-15
on 2 cores (the roofline calibration included), so it is marked slow.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))

import dashboard_browser as browser  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    *browser.NEEDS_ASV_AND_CHROMIUM,
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
    profile = tmp_path / "chromium-profile"
    with browser.serve(html) as url:
        dom = browser.chromium(profile, url, "--dump-dom").stdout
        shot = tmp_path / "dashboard.png"
        browser.chromium(profile, url + "#convolution.Tiny.time_call", f"--screenshot={shot}")
    assert "failed to load" not in dom, "the dashboard's scripts did not load"
    for name in ("convolution.Tiny.time_call", "machine.Bandwidth.track_gbs"):
        assert name in dom, f"{name} missing from the dashboard's benchmark list"
    assert shot.is_file() and shot.stat().st_size > 10_000
