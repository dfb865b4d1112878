"""issue 16's "Done when", end to end: three nights on two machines through bench/nightly.sh,
a slowdown planted in one backend on the third night and a speedup in another, the gate, and
the published dashboard read in headless Chromium.

The backends are toys (tests/fixtures/sleepy_backends.py): the reference conv after a sleep
read from the environment when the backend is built, so a night's speed is set between runs
and the asv benchmark's timed body stays the plain call. One case per backend (Tiny's conv3x3,
float32, forward, ``asv run --quick``), no roofline calibration: about 80 s on 2 cores.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

import dashboard_browser as browser  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    *browser.NEEDS_ASV_AND_CHROMIUM,
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="asv needs the git checkout"),
]

NIGHTS = ("2026-11-20", "2026-11-21", "2026-11-22")
MACHINES = ("convspec-e2e-a", "convspec-e2e-b")
SLOWING, SPEEDING = "sleepy_backends:slowing", "sleepy_backends:speeding"
FAST_S, SLOW_S = 0.02, 0.2  # a 10x step each way, far beyond a loaded VM's noise


def _nightly(tmp: Path, machine: str, night: str, slowing_s: float, speeding_s: float, *,
             gate: bool) -> subprocess.CompletedProcess:
    backends = tmp / "backends.txt"
    backends.write_text(f"{SLOWING}\n{SPEEDING}\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp / "home"), "PYTHON": sys.executable,
           # asv drops PYTHONPATH from the benchmark processes; ASV_PYTHONPATH it keeps
           "ASV_PYTHONPATH": str(FIXTURES), "CONVSPEC_BENCH_BACKENDS_FILE": str(backends),
           "CONVSPEC_TOY_SLOWING_S": str(slowing_s), "CONVSPEC_TOY_SPEEDING_S": str(speeding_s),
           "CONVSPEC_MACHINE": machine, "CONVSPEC_NIGHT": night, "CONVSPEC_SUITES": "Tiny",
           "CONVSPEC_BACKENDS": f"{SLOWING} {SPEEDING}", "CONVSPEC_WORKLOADS": "conv3x3",
           "CONVSPEC_DTYPES": "float32", "CONVSPEC_DIRECTIONS": "forward",
           "CONVSPEC_QUICK": "1", "CONVSPEC_NO_CALIBRATION": "1",
           "CONVSPEC_RESULTS_DIR": str(tmp / "shared")}
    if not gate:
        env["CONVSPEC_NO_GATE"] = "1"
    return subprocess.run(["bash", str(ROOT / "bench" / "nightly.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _text(dom: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def test_three_nights_two_machines_planted_slowdown(tmp_path: Path):
    (tmp_path / "home").mkdir()
    for night in NIGHTS[:2]:
        for machine in MACHINES:
            done = _nightly(tmp_path, machine, night, FAST_S, SLOW_S, gate=False)
            assert done.returncode == 0, f"nightly.sh failed:\n{done.stdout[-3000:]}{done.stderr}"
    for machine in MACHINES:  # night 3: slowing slows down, speeding speeds up
        done = _nightly(tmp_path, machine, NIGHTS[2], SLOW_S, FAST_S, gate=True)
        assert done.returncode == 1, f"the gate passed:\n{done.stdout[-3000:]}{done.stderr}"

    gate_lines = [line for line in done.stdout.splitlines() if "slowed from" in line]
    assert len(gate_lines) == 2, done.stdout
    for machine, line in zip(MACHINES, gate_lines):
        assert f"convolution.Tiny.time_call('{SLOWING}', 'conv3x3', 'float32', 'forward')" in line
        assert f"on machine {machine} " in line
        assert f"on {NIGHTS[1]} to" in line and f"on {NIGHTS[2]} (" in line
        # both nights' versions: convspec's commit from each night's provenance
        assert re.search(rf"versions {NIGHTS[1]}: convspec\.commit [0-9a-f]{{12}}; "
                         rf"{NIGHTS[2]}: convspec\.commit [0-9a-f]{{12}}", line), line
    assert SPEEDING not in done.stdout.split("gate:", 1)[1]

    html = tmp_path / "shared" / "html"
    profile = tmp_path / "chromium-profile"
    shown, dom = browser.probe(html, profile)  # the first view: the measured series
    assert "failed to load" not in dom
    series = {s["label"]: s["points"] for s in shown["series"]}
    expected = {f"backend-{b}; machine-{m}" for b in (SLOWING, SPEEDING) for m in MACHINES}
    assert set(series) == expected, shown
    assert all(points == 3 for points in series.values()), shown
    assert [t for t in shown["ticks"] if t] == list(NIGHTS), "x axis: nights, not hashes"
    panel = _text(dom.split('id="graphdisplay-navigation"', 1)[1].split('id="graph"', 1)[0])
    # the backend selector lists the two measured backends only (no built-in never selected)
    assert f" backend {SLOWING} {SPEEDING} workload conv3x3 dtype float32 " in panel, panel

    with browser.serve(html) as url:
        regressions = _text(browser.chromium(profile, url + "#regressions", "--dump-dom").stdout)
        nights_page = _text(browser.chromium(profile, url + "provenance.html",
                                             "--dump-dom").stdout)
    # the planted step, once per machine (asv may list a noisy earlier step too), dated night 3
    planted = re.findall(rf"time_call\('{SLOWING}', 'conv3x3', 'float32', 'forward'\) "
                         rf"{NIGHTS[2]} 00:00 [0-9a-f]{{8}} (\d+\.\d+)x", regressions)
    assert len(planted) == 2 and all(float(f) > 2 for f in planted), regressions
    assert SPEEDING not in regressions
    sections = nights_page.split(MACHINES[1])
    for machine, section in zip(MACHINES, (sections[0].split(MACHINES[0], 1)[1], sections[1])):
        for night in NIGHTS:
            assert night in section, f"{machine}'s night {night} missing from provenance.html"
        assert "convspec.commit" in section and f"{NIGHTS[2]} since {NIGHTS[1]}" in section
