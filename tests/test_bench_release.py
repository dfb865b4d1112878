"""The release track (issue 16, item 1): one ledger commit per release of the followed library,
tagged, ordered by version whatever order the releases were recorded in.

The fast tests check the ledger itself. The slow one runs ``CONVSPEC_TRACK=release
bench/nightly.sh`` for three releases of a fake library (``toylib``: a ``.dist-info`` directory on
``PYTHONPATH`` whose version the test writes, so the track reads it through
``importlib.metadata`` as it reads torch's) timed with a toy backend whose speed the test sets
(tests/fixtures/sleepy_backends.py). It records 1.11.0 first, then backfills 1.9.0, then 1.10.0
twice (the rerun must replace the first run's result), publishes, and reads asv's published
JSON (three points in version order, each release's tag on its revision) and the page in
headless Chromium (the x axis's ticks are the tags, in version order).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("asv")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(FIXTURES))

import dashboard_browser as browser  # noqa: E402
import nights  # noqa: E402

MACHINE = "convspec-release-a"
TOY = "sleepy_backends:slowing"
BENCHMARK = "convolution.Tiny.time_call"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_release_rank_orders_as_pep_440():
    order = ["1.9.0", "1.10.0.dev1", "1.10.0a1", "1.10.0b2", "1.10.0rc1.dev0", "1.10.0rc1",
             "1.10.0", "1.10.0.post1", "1.10.1", "2.0", "2024.5.0"]
    ranks = [nights.release_rank(v) for v in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert nights.release_rank("2.13.0+cpu") == nights.release_rank("2.13.0")
    assert nights.release_tag("torch", "2.13.0+cpu") == "torch-2.13.0"
    assert nights.release_tag("torch", "2.0") == nights.release_tag("torch", "2.0.0")
    assert nights.release_tag("jax", "0.4.38rc1.post2.dev3") == "jax-0.4.38rc1.post2.dev3"
    for bad, says in (("2.x", "not a PEP 440 version"), ("1.100.0", "outside"),
                      ("1.2.3.4", "outside")):
        with pytest.raises(nights.ledger.LedgerError, match=says):
            nights.release_rank(bad)


def test_release_hashes_independent_of_recording_order(tmp_path: Path):
    versions = ["2.13.0", "2.11.0", "2.12.0"]  # newest first, then backfills
    a = {v: nights.release_commit(tmp_path / "a", "torch", v) for v in versions}
    b = {v: nights.release_commit(tmp_path / "b", "torch", v) for v in sorted(versions)}
    assert a == b
    assert nights.release_commit(tmp_path / "a", "torch", "2.12.0+cpu") == a["2.12.0"]
    # asv's revision order (asv/plugins/git.py get_revisions) is version order
    order = _git(tmp_path / "a", "rev-list", "--all", "--date-order", "--reverse").split()
    assert order == [a[v] for v in ("2.11.0", "2.12.0", "2.13.0")]
    assert _git(tmp_path / "a", "rev-parse", "main").strip() == a["2.13.0"]
    assert _git(tmp_path / "a", "tag", "-l").split() == [f"torch-{v}" for v in
                                                         ("2.11.0", "2.12.0", "2.13.0")]


def test_release_of_a_library_not_installed_is_exit_2(tmp_path: Path, capsys):
    conf = tmp_path / "asv.conf.json"
    nights.write_config(ROOT, tmp_path, conf)
    code = nights.main(["release", "--root", str(ROOT), "--config", str(conf), "--machine", "m",
                        "--library", "convspec-no-such-library"])
    assert code == 2
    assert "pip install convspec-no-such-library==VERSION" in capsys.readouterr().err


def _fake_release(site: Path, version: str) -> None:
    for old in site.glob("toylib-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"toylib-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: toylib\nVersion: {version}\n",
                                   encoding="utf-8")


def _release(tmp: Path, version: str, delay_s: float) -> subprocess.CompletedProcess:
    site = tmp / "site"
    _fake_release(site, version)
    backends = tmp / "backends.txt"
    backends.write_text(f"{TOY}\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp / "home"), "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site),
                                                       os.environ.get("PYTHONPATH")])),
           "ASV_PYTHONPATH": str(FIXTURES), "CONVSPEC_BENCH_BACKENDS_FILE": str(backends),
           "CONVSPEC_TOY_SLOWING_S": str(delay_s), "CONVSPEC_TRACK": "release",
           "CONVSPEC_RELEASE_OF": "toylib", "CONVSPEC_MACHINE": MACHINE,
           "CONVSPEC_SUITES": "Tiny", "CONVSPEC_BACKENDS": TOY, "CONVSPEC_WORKLOADS": "conv3x3",
           "CONVSPEC_DTYPES": "float32", "CONVSPEC_DIRECTIONS": "forward",
           "CONVSPEC_QUICK": "1", "CONVSPEC_NO_CALIBRATION": "1",
           "CONVSPEC_RESULTS_DIR": str(tmp / "shared")}
    done = subprocess.run(["bash", str(ROOT / "bench" / "nightly.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nightly.sh failed:\n{done.stdout[-3000:]}{done.stderr}"
    assert f"release: toylib-{version} is ledger commit" in done.stdout, done.stdout
    return done


@pytest.mark.slow
@browser.NEEDS_ASV_AND_CHROMIUM[1]
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="asv needs the git checkout")
def test_release_track_backfills_in_version_order(tmp_path: Path):
    (tmp_path / "home").mkdir()
    delays = {"1.9.0": 0.02, "1.10.0": 0.06, "1.11.0": 0.18}  # 3x steps, beyond a VM's noise
    _release(tmp_path, "1.11.0", delays["1.11.0"])
    _release(tmp_path, "1.9.0", delays["1.9.0"])  # a backfill of an older release
    _release(tmp_path, "1.10.0", 0.6)  # recorded once too slow ...
    track = tmp_path / "shared" / "release-toylib"
    results = track / "results" / MACHINE
    others = {p.name: p.read_bytes() for p in results.glob("*.json") if p.name != "machine.json"}
    _release(tmp_path, "1.10.0", delays["1.10.0"])  # ... and rerun: replaces 1.10.0 only

    commits = {v: nights.release_commit(track / "ledger", "toylib", v) for v in delays}
    files = sorted(p.name for p in results.glob("*.json") if p.name != "machine.json")
    assert sorted(f.split("-", 1)[0] for f in files) == sorted(c[:8] for c in commits.values())
    for name, before in others.items():  # 1.9.0's and 1.11.0's files untouched by the rerun
        if not name.startswith(commits["1.10.0"][:8]):
            assert (results / name).read_bytes() == before, name
    assert not (tmp_path / "shared" / "results").exists(), "the release track wrote the nightly's"
    assert sorted(p.stem for p in (track / "provenance" / MACHINE).glob("*.json")) == \
        sorted(f"toylib-{v}" for v in delays)

    html = track / "html"
    index = json.loads((html / "index.json").read_text(encoding="utf-8"))
    tags = index["tags"]
    assert set(tags) == {f"toylib-{v}" for v in delays}
    by_revision = {int(r): h for r, h in index["revision_to_hash"].items()}
    versions = ["1.9.0", "1.10.0", "1.11.0"]
    revs = [tags[f"toylib-{v}"] for v in versions]
    assert revs == sorted(revs), f"not in version order: {tags}"
    assert [by_revision[r] for r in revs] == [commits[v] for v in versions]

    graphs = [p for p in (html / "graphs").rglob(f"{BENCHMARK}.json")
              if f"machine-{MACHINE}" in p.as_posix()]
    assert len(graphs) == 1, graphs
    points = json.loads(graphs[0].read_text(encoding="utf-8"))
    values = {rev: (v[0] if isinstance(v, list) else v) for rev, v in points}
    assert sorted(values) == revs, points
    seconds = [values[r] for r in revs]
    assert seconds == sorted(seconds), f"speeds not in the planted order: {seconds}"
    assert delays["1.10.0"] <= seconds[1] < 0.6, f"the rerun did not replace 1.10.0: {seconds}"

    data_js = (html / "vendor" / "data.js").read_text(encoding="utf-8")
    axis = json.loads(data_js.split("window.CONVSPEC_X = ", 1)[1].split(";\n", 1)[0])
    assert axis["label"] == "release"
    assert {int(r): n for r, n in axis["names"].items()} == \
        {tags[f"toylib-{v}"]: f"toylib-{v}" for v in versions}

    shown, dom = browser.probe(html, tmp_path / "chromium-profile")
    assert "failed to load" not in dom
    assert [s["points"] for s in shown["series"]] == [3], shown
    assert [t for t in shown["ticks"] if t] == [f"toylib-{v}" for v in versions], shown
    # the provenance page: a column per release, in version order, what changed between them
    page = (html / "provenance.html").read_text(encoding="utf-8")
    assert re.findall(r"<th class='night'>([^<]+)</th>", page) == [f"toylib-{v}" for v in versions]
    assert "<b>toylib-1.10.0</b> since toylib-1.9.0: " in page
