"""The release track (issue 16, item 1): one ledger commit per release of the followed library,
tagged, ordered by version whatever order the releases were recorded in.

The fast tests check the ledger itself. The slow one runs ``CONVSPEC_TRACK=release
bench/nightly.sh`` for three releases of a fake library (``toylib``: a ``.dist-info`` directory on
``PYTHONPATH`` whose version the test writes, so the track reads it through
``importlib.metadata`` as it reads torch's) timed with a toy backend whose speed the test sets
(tests/fixtures/sleepy_backends.py). It records 1.11.0 first, then backfills 1.9.0, then 1.10.0
twice (the rerun must replace the first run's result), publishes, and reads asv's published
JSON (three points in version order, each release's tag on its revision) and the page in
headless Chromium (the x axis's ticks are the tags, in version order). Each release is faster
than the one before, except the first run of 1.10.0, whose gate (the release against the
previous release in version order) exits 1 naming ``toylib 1.9.0 → toylib 1.10.0``; the rerun
passes it.

The release gate's fast tests build the release ledger and synthetic asv results files (no asv
run): a planted slowdown between two releases is flagged with both labels, a speedup is not,
whatever the recording order; bad input is exit 2 with a message.
"""

from __future__ import annotations

import contextlib
import io
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

from convspec.perf import gate, provenance  # noqa: E402

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


def _release_results(shared: Path, machine: str, version: str, seconds: list[float], *,
                     iqr: float = 0.0, samples: int = 5) -> str:
    """An asv results file of ``toylib`` ``version`` on ``machine`` as asv writes it (named
    by the release's ledger commit, dated by it), cases ``'slow'`` and ``'fast'``."""
    commit = nights.release_commit(shared / "ledger", "toylib", version)
    date = int(_git(shared / "ledger", "show", "-s", "--format=%ct", commit))
    n = len(seconds)
    row = [seconds, [["'slow'", "'fast'"]], "v1", 0, 1, None, None,
           [t * (1 - iqr / 2) for t in seconds], [t * (1 + iqr / 2) for t in seconds],
           [samples] * n]
    path = shared / "results" / machine / f"{commit[:8]}-existing-py.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "commit_hash": commit, "date": date * 1000,
        "results": {BENCHMARK: row},
        "result_columns": ["result", "params", "version", "started_at", "duration",
                           "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
                           "stats_repeat"]}), encoding="utf-8")
    return commit


def _gate(shared: Path, *args: str) -> tuple[int, str]:
    """``python -m convspec.perf.gate --results-dir <shared>/results ARGS``, in process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = gate.main(["--results-dir", str(shared / "results"), *args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, out.getvalue()


def test_release_gate_names_the_releases_of_a_slowdown(tmp_path: Path):
    shared = tmp_path / "shared"
    # recorded out of version order: the newest first, then a backfill, then the one between
    _release_results(shared, "m1", "1.11.0", [0.030, 0.005])  # 'slow' 3x slower, 'fast' 4x faster
    _release_results(shared, "m1", "1.9.0", [0.010, 0.020])
    _release_results(shared, "m1", "1.10.0", [0.010, 0.020])
    _release_results(shared, "m2", "1.10.0", [0.010, 0.020])  # another machine: not compared
    _release_results(shared, "m2", "1.11.0", [0.011, 0.020])  # with m1; 10 %: not a regression
    provenance.write(shared / "provenance", "m1", "toylib-1.11.0",
                     {"convspec.commit": "c0ffee" * 7, "release": "toylib-1.11.0"})
    # the three releases' commits are all dated 2000-01-26: nights could not tell them apart
    assert list(gate.load_nights(shared / "results")["m1"]) == ["2000-01-26"]

    code, out = _gate(shared, "--release-of", "toylib", "--release", "toylib-1.11.0")
    assert code == 1, out
    [line] = [line for line in out.splitlines() if "slowed" in line]
    assert line.startswith(f"gate: {BENCHMARK}('slow') on machine m1 slowed toylib 1.10.0 → "
                           "toylib 1.11.0: from 10 ms to 30 ms (3.00x), beyond the allowed 1.25x")
    assert "toylib 1.10.0: no provenance recorded" in line
    assert "toylib 1.11.0: convspec.commit c0ffeec0ffee" in line
    assert "'fast'" not in out and "2000-" not in out  # the speedup; the synthetic dates
    assert "gate: machine m2: toylib 1.10.0 → toylib 1.11.0, 2 case(s)" in out
    assert _gate(shared, "--release-of", "toylib")[0] == 1  # default: each machine's newest

    steps, found = gate.release_steps(shared / "results", shared / "provenance",
                                      shared / "ledger", "toylib", release="1.10.0")
    assert found == [] and [s.sentence() for s in steps] == [
        "gate: machine m1: toylib 1.9.0 → toylib 1.10.0, 2 case(s) of the same benchmark "
        "version compared", "gate: machine m2: nothing before toylib 1.10.0 to compare with"]
    code, out = _gate(shared, "--release-of", "toylib", "--release", "1.9.0")
    assert code == 0 and "nothing before toylib 1.9.0" in out, out
    # the nightly gate's rule: a spread of 3 x 30 % IQR/median allows the 3x slowdown
    _release_results(shared, "m1", "1.11.0", [0.030, 0.005], iqr=0.7)
    assert _gate(shared, "--release-of", "toylib")[0] == 0


def test_release_gate_bad_input_is_exit_2(tmp_path: Path):
    shared = tmp_path / "shared"
    (shared / "results").mkdir(parents=True)
    code, out = _gate(shared, "--release-of", "toylib")
    assert code == 2 and "no release ledger at" in out, out
    _release_results(shared, "m1", "1.9.0", [0.010, 0.020])
    nights.release_commit(shared / "ledger", "toylib", "1.10.0")  # in the ledger, no results
    for args, says in (
            (["--release", "2.0.0"], "2.0.0 is not a release of toylib in the ledger"),
            (["--release", "toylib-1.10.0"], "no machine has results of toylib-1.10.0"),
            (["--threshold", "-1"], "must be >= 0")):
        code, out = _gate(shared, "--release-of", "toylib", *args)
        assert code == 2 and says in out, (args, out)
    assert "(it holds toylib-1.9.0, toylib-1.10.0)" in _gate(
        shared, "--release-of", "toylib", "--release", "2.0.0")[1]
    code, out = _gate(shared, "--release-of", "torch")
    assert code == 2 and "holds no release of torch" in out, out
    code, out = _gate(shared, "--release", "1.9.0")
    assert code == 2 and "need --release-of" in out, out
    (shared / "results" / "m1" / "broken.json").write_text("{", encoding="utf-8")
    for track in (["--release-of", "toylib"], []):  # the nightly gate reads them the same way
        code, out = _gate(shared, *track)
        assert code == 2 and "broken.json is not a readable asv results file" in out, out
    conf = tmp_path / "conf.json"
    conf.write_text("{", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "convspec.perf.gate", "--config", str(conf),
                           "--release-of", "toylib"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 2 and "cannot read the asv config" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _fake_release(site: Path, version: str) -> None:
    for old in site.glob("toylib-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"toylib-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: toylib\nVersion: {version}\n",
                                   encoding="utf-8")


def _release(tmp: Path, version: str, delay_s: float, *,
             gate_exit: int = 0) -> subprocess.CompletedProcess:
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
    assert done.returncode == gate_exit, \
        f"nightly.sh exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr}"
    assert f"release: toylib-{version} is ledger commit" in done.stdout, done.stdout
    return done


@pytest.mark.slow
@browser.NEEDS_ASV_AND_CHROMIUM[1]
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="asv needs the git checkout")
def test_release_track_backfills_in_version_order(tmp_path: Path):
    (tmp_path / "home").mkdir()
    delays = {"1.9.0": 0.18, "1.10.0": 0.06, "1.11.0": 0.02}  # 3x steps, beyond a VM's noise
    done = _release(tmp_path, "1.11.0", delays["1.11.0"])
    assert "gate: machine convspec-release-a: nothing before toylib 1.11.0" in done.stdout
    done = _release(tmp_path, "1.9.0", delays["1.9.0"])  # a backfill of an older release
    assert "nothing before toylib 1.9.0" in done.stdout, done.stdout
    done = _release(tmp_path, "1.10.0", 0.6, gate_exit=1)  # recorded once too slow ...
    [line] = [line for line in done.stdout.splitlines() if " slowed " in line]
    assert f"{BENCHMARK}('{TOY}', 'conv3x3', 'float32', 'forward') on machine {MACHINE} " \
        "slowed toylib 1.9.0 → toylib 1.10.0: from " in line, line
    assert "measured once (asv run --quick)" in line
    track = tmp_path / "shared" / "release-toylib"
    results = track / "results" / MACHINE
    others = {p.name: p.read_bytes() for p in results.glob("*.json") if p.name != "machine.json"}
    done = _release(tmp_path, "1.10.0", delays["1.10.0"])  # ... and rerun: replaces 1.10.0 only
    assert "gate: machine convspec-release-a: toylib 1.9.0 → toylib 1.10.0, 1 case(s)" \
        in done.stdout, done.stdout

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
    assert seconds == sorted(seconds, reverse=True), f"not the planted order: {seconds}"
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
